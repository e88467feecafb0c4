"""Find and check every video of a dataset root (one sub-folder per video, sorted names = identity indices)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from dataparsers.adnerf import is_adnerf_video, read_adnerf_video
from dataparsers.dataset_error import DatasetError
from dataparsers.native import is_native_video, read_native_video
from dataparsers.video_record import VideoRecord, identity_name
from minerf_ns.layout import is_video_folder_name


def video_folders(root: Path) -> List[Path]:
    """Sub-folders of ``root`` that are videos, sorted by name; folders starting with ``_`` or ``.`` are skipped."""
    if not root.exists():
        fix = (
            "training: pass --data a folder with one sub-folder per video; a trained run (ns-eval, ns-render, "
            "minerf-*): put its dataset back at this path, or write its new path under 'data:' at the top of the "
            "run's config.yml"
        )
        raise DatasetError(root, "dataset root does not exist", fix)
    if not root.is_dir():
        raise DatasetError(root, "dataset root is not a folder", "pass --data a folder with one sub-folder per video")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and is_video_folder_name(p.name))
    if not folders:
        raise DatasetError(root, "dataset root has no video folders",
                           "put one sub-folder per video in it (e.g. make one with: minerf-synth DIR)")  # fmt: skip
    return folders


def read_video(folder: Path, decode_images: bool = False) -> VideoRecord:
    """Read one video folder in whichever layout it uses."""
    if is_native_video(folder):
        return read_native_video(folder, decode_images)
    if is_adnerf_video(folder):
        return read_adnerf_video(folder, decode_images)
    problem = "is neither an AD-NeRF video (transforms_train.json + track_params.pt) nor a native one (transforms.json)"
    raise DatasetError(folder, problem, "add one layout's files or move the folder out of the dataset root")


_LAST_READ: Dict[Path, Tuple[tuple, bool, List[VideoRecord]]] = {}
"""The last dataset read per root with its fingerprint: ns-train checks the dataset before it writes its config and
the dataparser then reads it again in the same process; the second read reuses the first."""


def _fingerprint(root: Path, folders: List[Path]) -> tuple:
    """What changes when a video is added, removed or rewritten: the sizes and times of the video folders and of
    what they hold (a sub-folder's time changes when a frame is added to it or removed)."""
    stats = []
    for folder in folders:
        for path in [folder, *sorted(folder.iterdir())]:
            info = path.stat()
            stats.append((str(path), info.st_size, info.st_mtime_ns))
    return (str(root.resolve()), tuple(stats))


def read_dataset(root: Path, decode_images: bool = False, names: Optional[Sequence[str]] = None) -> List[VideoRecord]:
    """Read and cross-check every video of a dataset root, in identity-index order (a repeated read of an unchanged
    root in the same process returns the first result).

    Args:
        root: the dataset root.
        decode_images: decode every image (truncated files fail), not only their headers; ns-train does this once
            before it writes anything.
        names: read only the videos of these identities (a trained run's); other folders of the root are not
            checked (a name that is no video is simply missing from the result).
    """
    root = Path(root)
    folders = video_folders(root)
    if names:
        folders = _named_folders(folders, set(names))
        if not folders:
            return []
    key = _fingerprint(root, folders)
    cached = _LAST_READ.get(root.resolve())
    if cached is not None and cached[0] == key and (cached[1] or not decode_images):
        return list(cached[2])
    videos = _read_and_check(folders, decode_images)
    _LAST_READ.clear()  # one dataset at a time: a long process (tests) does not keep every dataset's records
    _LAST_READ[root.resolve()] = (key, decode_images, videos)
    return list(videos)


def _named_folders(folders: List[Path], names: set) -> List[Path]:
    """The folders of the named identities: by folder name, and for names no folder has, among the other folders
    that read as videos (a native transforms.json may name its identity otherwise); unreadable ones are passed over."""
    chosen = [f for f in folders if identity_name(f.name) in names]
    if len(chosen) < len(names):
        for folder in folders:
            if folder in chosen:
                continue
            try:
                if read_video(folder).name in names:
                    chosen.append(folder)
            except DatasetError:
                continue
    return sorted(chosen)


def _read_and_check(folders: List[Path], decode_images: bool) -> List[VideoRecord]:
    videos = [read_video(folder, decode_images) for folder in folders]
    first = videos[0]
    seen = {}
    for video in videos:
        if video.expression_dim != first.expression_dim:
            raise DatasetError(video.folder, f"expressions have {video.expression_dim} values per frame but "
                               f"{first.folder.name} has {first.expression_dim}",
                               "use one tracker (one expression basis) for every video of a dataset")  # fmt: skip
        key = video.name.strip().casefold()  # names are NFC already: "José" in either Unicode form is one name
        if key in seen:
            fix = "give every video a distinct identity name (names are compared ignoring case)"
            raise DatasetError(video.folder, f"identity name '{video.name}' is also used by {seen[key]}", fix)
        seen[key] = video.folder
    return sorted(videos, key=lambda v: v.name)
