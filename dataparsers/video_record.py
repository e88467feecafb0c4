"""What every on-disk layout reader returns for one video: the same record, checked and ready to split."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np
from jaxtyping import Float
from PIL import Image

from dataparsers.dataset_error import DatasetError
from minerf_ns.contract import VideoIntrinsics
from minerf_ns.layout import DEFAULT_FPS, num_held_out


@dataclass
class VideoRecord:
    """One video (= one identity) of a dataset, frames in time order."""

    name: str
    """Identity name (the folder name, unless the layout names it)."""
    folder: Path
    image_filenames: List[Path]
    camera_to_worlds: Float[np.ndarray, "N 4 4"]
    """OpenGL camera-to-world matrices in the canonical head frame."""
    intrinsics: VideoIntrinsics
    """The video's pinhole camera (focal lengths, principal point, image size)."""
    expressions: Float[np.ndarray, "N D"]
    held_out: np.ndarray
    """Boolean [N]: True for the frames of the val/test split."""
    background: Optional[Path] = None
    """Static background image of the video (``bc.jpg`` or the native ``background``)."""
    parsing_filenames: Optional[List[Path]] = None
    """AD-NeRF parsing images (BGR, head = (255, 0, 0)), used for the head box."""
    mask_filenames: Optional[List[Path]] = None
    """Native per-frame head masks (non-zero = head), used for the head box."""
    face_rects: Optional[Float[np.ndarray, "N 4"]] = None
    """Head boxes ``[x, y, w, h]`` in pixels where the layout gives them."""
    frame_ids: Optional[np.ndarray] = None
    """Int [N]: each row's frame number in the source video (rows skip untracked frames); None: 0..N-1."""
    fps: float = DEFAULT_FPS
    """The source video's frame rate (frame k is shown at k / fps)."""
    full_frames: bool = False
    """True when the images are whole frames (minerf-track's ori_imgs/, the native layout), False when they are the
    head over the static background already (head_imgs/, gt_imgs/)."""
    audio: Optional[Path] = None
    """The video's sound (``aud.wav``: 16 kHz mono, sample 0 at frame 0) where the folder has one."""
    segment_starts: Optional[np.ndarray] = None
    """Int [S]: frame numbers where a clip or shot begins (several clips of one person, or cuts); None: one segment."""

    def row_segments(self) -> np.ndarray:
        """Every row's segment index (0 for all rows of a video of one segment)."""
        if self.segment_starts is None:
            return np.zeros(self.num_frames, dtype=np.int64)
        return np.maximum(np.searchsorted(self.segment_starts, self.frame_numbers(), side="right") - 1, 0)

    def segment_runs(self) -> List[slice]:
        """The rows of each segment, in order."""
        edges = np.flatnonzero(np.diff(self.row_segments())) + 1
        bounds = [0, *edges.tolist(), self.num_frames]
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    def segments(self) -> List[tuple[slice, int]]:
        """Each segment's rows and the frame number it starts at (its first row may come later: skipped frames)."""
        starts = self.segment_starts if self.segment_starts is not None else np.zeros(1, dtype=np.int64)
        ids = self.frame_numbers()
        return [(rows, int(starts[np.searchsorted(starts, ids[rows.start], side="right") - 1]))
                for rows in self.segment_runs()]  # fmt: skip

    def frame_numbers(self) -> np.ndarray:
        """Each row's frame number in the source video."""
        return np.arange(self.num_frames) if self.frame_ids is None else self.frame_ids

    @property
    def num_frames(self) -> int:
        return len(self.image_filenames)

    @property
    def expression_dim(self) -> int:
        return self.expressions.shape[1]


def training_record(video: VideoRecord) -> dict:
    """What a trained run depends on in a video: its train frames (one learned latent code each), its image size
    (the intrinsics it was trained at) and whether it has head masks (the head box, per-frame backgrounds). ``ns-train``
    records it; every later load compares the video against it (``check_unchanged``)."""
    return {
        "train_frames": int((~np.asarray(video.held_out, dtype=bool)).sum()),
        "image_size": [int(video.intrinsics.width), int(video.intrinsics.height)],
        "head_masks": video.parsing_filenames is not None or video.mask_filenames is not None,
    }


def check_unchanged(video: VideoRecord, recorded: dict) -> None:
    """Stop in one line when ``video`` differs from its ``training_record`` in what the run depends on.

    Raises:
        DatasetError: the number of train frames, the image size or the head masks changed since training.
    """
    now = training_record(video)
    retrain = "or train a new run on the video as it is now"
    if "train_frames" in recorded and now["train_frames"] != recorded["train_frames"]:
        raise DatasetError(video.folder, f"has {now['train_frames']} train frames now, {recorded['train_frames']} when "
                           "the run was trained (a learned latent code each)", "restore its train frames (e.g. "
                           f"transforms_train.json) as they were, {retrain}")  # fmt: skip
    if "image_size" in recorded and now["image_size"] != list(recorded["image_size"]):
        (w, h), (w0, h0) = now["image_size"], recorded["image_size"]
        raise DatasetError(video.folder, f"its frames are {w}x{h} now, {w0}x{h0} when the run was trained (its "
                           "intrinsics and renders are at that size)", f"restore the frames at {w0}x{h0}, "
                           f"{retrain}")  # fmt: skip
    if recorded.get("head_masks") and not now["head_masks"]:
        raise DatasetError(video.folder, "had head masks (parsing/ or mask_path) when the run was trained and has none "
                           "now (the head box and per-frame backgrounds use them)", f"restore its parsing/ folder, "
                           f"{retrain}")  # fmt: skip


def identity_name(name: str) -> str:
    """An identity's name in Unicode's composed form (NFC): "José" typed or copied either way is one name."""
    return unicodedata.normalize("NFC", name)


def last_fraction_held_out(num_frames: int) -> np.ndarray:
    """Boolean mask holding out the last 10% of ``num_frames`` (at least one frame)."""
    held = np.zeros(num_frames, dtype=bool)
    held[num_frames - num_held_out(num_frames) :] = True
    return held


def load_json(path: Path) -> Any:
    """Read a JSON file, or raise a one-line DatasetError."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DatasetError(path, f"malformed JSON ({err.msg} at line {err.lineno}, column {err.colno})",
                           "repair or regenerate the file") from None  # fmt: skip
    except OSError as err:
        raise DatasetError(path, f"cannot be read ({err.strerror})", "check that it exists and is readable") from None


def require_key(entry: dict, key: str, path: Path, where: str) -> Any:
    """``entry[key]``, or a DatasetError naming the file and the place."""
    if not isinstance(entry, dict) or key not in entry:
        raise DatasetError(path, f"{where} has no '{key}'", f"add '{key}' to {where}")
    return entry[key]


def parse_pose(value: Any, path: Path, where: str) -> np.ndarray:
    """A 4x4 (or 3x4) ``transform_matrix`` as a finite 4x4 float64 array."""
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        matrix = np.zeros((0,))
    if matrix.shape == (3, 4):
        matrix = np.concatenate([matrix, [[0.0, 0.0, 0.0, 1.0]]], axis=0)
    if matrix.shape != (4, 4):
        raise DatasetError(path, f"{where} 'transform_matrix' is not a 4x4 matrix (shape {matrix.shape})",
                           "write the camera-to-world matrix as 4 rows of 4 numbers")  # fmt: skip
    if not np.all(np.isfinite(matrix)):
        raise DatasetError(path, f"{where} 'transform_matrix' contains NaN or inf",
                           "re-run the tracker for that frame or drop the frame")  # fmt: skip
    return matrix


def check_expressions(expressions: np.ndarray, path: Path, frame_ids: Sequence) -> np.ndarray:
    """Expressions must be a finite [N, D] float array with D >= 1; report the first bad frame."""
    if expressions.ndim != 2 or expressions.shape[1] == 0:
        raise DatasetError(path, f"expressions have shape {list(expressions.shape)}: no values per frame",
                           "save each frame's expression coefficients (d >= 1 values per frame)")  # fmt: skip
    bad = ~np.all(np.isfinite(expressions), axis=1)
    if np.any(bad):
        first = int(np.argmax(bad))
        raise DatasetError(path, f"the expression of frame {frame_ids[first]} contains NaN or inf",
                           "re-run the tracker for that frame or drop the frame")  # fmt: skip
    return expressions.astype(np.float32)


def parse_number(value: Any, path: Path, where: str, what: str) -> float:
    """A finite number (JSON number or numeric string); DatasetError naming the field otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number):
        raise DatasetError(path, f"{where} is {value!r}, not a finite number", f"write {what} as a plain number")
    return number


def check_intrinsics(intrinsics: VideoIntrinsics, path: Path) -> None:
    """Focal lengths must be positive and plausible (0.1 to 100 image widths), the principal point within one image
    size of the image (a face-centred crop of a larger frame moves it off the crop, even outside it)."""
    size = max(intrinsics.width, intrinsics.height)
    for name, focal in (("focal length fx", intrinsics.fx), ("focal length fy", intrinsics.fy)):
        if not 0.1 * size <= focal <= 100.0 * size:
            raise DatasetError(path, f"{name} is {focal:g} px for {intrinsics.width}x{intrinsics.height} images "
                               "(outside 0.1 to 100 image widths)",
                               "write the focal length in pixels of these images")  # fmt: skip
    width, height = intrinsics.width, intrinsics.height
    if not (-width <= intrinsics.cx <= 2 * width and -height <= intrinsics.cy <= 2 * height):
        raise DatasetError(
            path,
            f"principal point ({intrinsics.cx:g}, {intrinsics.cy:g}) lies more than an image size outside the "
            f"{width}x{height} image",
            "write cx, cy in pixels of these images",
        )


def parse_face_rects(rects: Sequence[Any], path: Path) -> Optional[np.ndarray]:
    """``[x, y, w, h]`` per frame as float32 [N, 4] when every frame has one (None when any lacks one)."""
    if not rects or any(r is None for r in rects):
        return None
    try:
        boxes = np.asarray(rects, dtype=np.float32)
    except (TypeError, ValueError):
        boxes = np.zeros((0,))
    if boxes.shape != (len(rects), 4) or not np.all(np.isfinite(boxes)):
        raise DatasetError(path, "a 'face_rect' is not four finite numbers", "write it as [x, y, w, h] in pixels")
    return boxes


class ImageFolder:
    """The images of one folder, found by name with the extension's case and spelling ignored (.jpg, .JPG, .jpeg)."""

    SUFFIXES = (".jpg", ".jpeg", ".png")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        self.by_key = {name.lower(): name for name in names}

    def find(self, name: str) -> Path:
        """The file ``name`` in the folder: as written, else the same name in another case, else the same stem with
        another image extension; the name as written (reported missing later) when none exists."""
        if (self.folder / name).is_file():
            return self.folder / name
        stem = Path(name).stem.lower()
        for key in [name.lower()] + [stem + suffix for suffix in self.SUFFIXES]:
            if key in self.by_key:
                return self.folder / self.by_key[key]
        return self.folder / name


def image_size(path: Path, decode: bool = False) -> tuple[int, int]:
    """(width, height) of an image, reading its header (or decoding it all); DatasetError if missing or unreadable."""
    if not path.is_file():
        raise DatasetError(path, "referenced image is missing", "restore the image or remove its frame")
    try:
        with Image.open(path) as img:
            size = img.size
            if decode:
                img.load()  # decodes every pixel: truncated files fail here
            else:
                img.verify()
            return size
    except Exception as err:  # PIL raises many types for broken files
        raise DatasetError(path, f"image is unreadable ({type(err).__name__}: {str(err)[:60]})",
                           "replace it with a valid JPEG/PNG or remove its frame") from None  # fmt: skip


def check_image_sizes(paths: Sequence[Path], extra: Sequence[Path] = (), decode: bool = False) -> tuple[int, int]:
    """All images of a video must exist, be readable (decodable, with ``decode``) and share one size; returns
    (width, height)."""
    first = image_size(paths[0], decode)
    for path in list(paths[1:]) + list(extra):
        size = image_size(path, decode)
        if size != first:
            raise DatasetError(path, f"image is {size[0]}x{size[1]} but {paths[0].name} is {first[0]}x{first[1]}",
                               "resize every image of a video to one size")  # fmt: skip
    return first
