"""Reader of the AD-NeRF layout (AD-NeRF, RAD-NeRF, ER-NeRF, GeneFace, SyncTalk, and ``minerf-synth``).

A video folder holds ``transforms_train.json`` and ``transforms_val.json`` (``focal_len`` or ``fl_x``/``fl_y``,
``cx``, ``cy``, ``frames[].img_id``, ``frames[].transform_matrix``, optional ``frames[].face_rect``),
``track_params.pt`` with ``exp [N, d]``, images ``ori_imgs/<img_id>.jpg`` where ``parsing/`` exists too (whole frames
with head masks: each frame's own background), else ``head_imgs/`` (else ``gt_imgs/``, else ``ori_imgs/``),
optional ``parsing/<img_id>.png`` (BGR, head = (255, 0, 0)), ``bc.jpg``, ``aud.wav`` (the sound, frame ``img_id`` at
``img_id / fps`` seconds) and ``fps`` in the transforms (25 when absent).

Row ``k`` of ``exp`` is the ``k``-th *tracked* frame. When every listed ``img_id`` is below the number of rows, the
``img_id`` is the row (RAD/ER-NeRF, and AD-NeRF when no frame was skipped); otherwise the frames listed in both
files, sorted by ``img_id``, are the rows in order (AD-NeRF with skipped frames). The map is explicit in
``VideoRecord`` order, so a skipped frame never shifts the expressions of the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import torch

from dataparsers.dataset_error import DatasetError
from dataparsers.video_record import (
    ImageFolder,
    VideoRecord,
    check_expressions,
    check_image_sizes,
    check_intrinsics,
    identity_name,
    last_fraction_held_out,
    load_json,
    parse_face_rects,
    parse_number,
    parse_pose,
    require_key,
)
from minerf_ns import layout
from minerf_ns.contract import VideoIntrinsics


def is_adnerf_video(folder: Path) -> bool:
    """True if the folder looks like the AD-NeRF layout."""
    return (folder / layout.TRANSFORMS_TRAIN).is_file() or (folder / layout.TRACK_PARAMS).is_file()


NUMPY_GLOBALS = (np.core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float32)),
                 type(np.dtype(np.float64)), type(np.dtype(np.int64)))  # fmt: skip
"""What a ``track_params.pt`` saved with numpy arrays instead of tensors needs to load without running code."""


def load_track_params(path: Path, tool: str = "mi-nerf-data") -> object:
    """``torch.load`` with only tensors and plain data allowed; numpy arrays (some trackers save those) too."""
    if path.stat().st_size == 0:
        raise DatasetError(path, "is empty (0 bytes)", "re-run the face tracker or copy the file again", tool=tool)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as first:  # torch raises several types for corrupt or foreign files
        try:
            with torch.serialization.safe_globals(list(NUMPY_GLOBALS)):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            reason = f"{type(first).__name__}: {str(first).splitlines()[0][:80]}"
            raise DatasetError(path, f"cannot be loaded ({reason})",
                               "save it with torch.save({'exp': tensor [N, d], ...}) or re-run the face tracker",
                               tool=tool) from None  # fmt: skip


def _load_exp(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(path, "is missing", "copy the tracker's track_params.pt into the video folder")
    params = load_track_params(path)
    if not isinstance(params, dict) or "exp" not in params:
        raise DatasetError(path, "has no 'exp' entry", "save the tracker output with its 'exp' [N, d] tensor")
    try:
        exp = np.asarray(torch.as_tensor(np.asarray(params["exp"], dtype=np.float32)).numpy())
    except (TypeError, ValueError, RuntimeError):
        raise DatasetError(path, f"'exp' is a {type(params['exp']).__name__} that is not numeric",
                           "save 'exp' as a float tensor [N, d]") from None  # fmt: skip
    if exp.ndim != 2:
        raise DatasetError(path, f"'exp' has shape {list(exp.shape)}, not [N, d]", "save one expression row per frame")
    return exp


def _intrinsics(meta: dict, path: Path) -> tuple[float, float, float, float]:
    if "fl_x" in meta:
        fx = parse_number(meta["fl_x"], path, "'fl_x'", "the focal length in pixels")
        fy = parse_number(meta.get("fl_y", fx), path, "'fl_y'", "the focal length in pixels")
    else:
        focal = require_key(meta, "focal_len", path, "the file")
        fx = fy = parse_number(focal, path, "'focal_len'", "the focal length in pixels")
    cx = parse_number(require_key(meta, "cx", path, "the file"), path, "'cx'", "the principal point in pixels")
    cy = parse_number(require_key(meta, "cy", path, "the file"), path, "'cy'", "the principal point in pixels")
    return fx, fy, cx, cy


def read_adnerf_video(folder: Path, decode_images: bool = False) -> VideoRecord:
    """Read and check one AD-NeRF-layout video folder (``decode_images``: decode every frame, not only headers)."""
    train_path, val_path = folder / layout.TRANSFORMS_TRAIN, folder / layout.TRANSFORMS_VAL
    if not train_path.is_file():
        raise DatasetError(train_path, "is missing", "add the tracker's transforms_train.json")
    train_meta = load_json(train_path)
    val_meta = load_json(val_path) if val_path.is_file() else {"frames": []}
    for path, meta in ((train_path, train_meta), (val_path, val_meta)):
        if not isinstance(meta, dict):
            raise DatasetError(path, f"is a JSON {type(meta).__name__}, not an object", "write the tracker's keys "
                               "(focal_len, cx, cy, frames) in one JSON object")  # fmt: skip
    fx, fy, cx, cy = _intrinsics(train_meta, train_path)

    entries: List[tuple[int, np.ndarray, list, bool, Path]] = []
    for path, meta, held in ((train_path, train_meta, False), (val_path, val_meta, True)):
        frames = require_key(meta, "frames", path, "the file")
        if not isinstance(frames, list):
            raise DatasetError(path, "'frames' is not a list", "write 'frames' as a list of frame objects")
        for k, frame in enumerate(frames):
            where = f"frames[{k}]"
            img_id = require_key(frame, "img_id", path, where)
            if not isinstance(img_id, int) or img_id < 0:
                raise DatasetError(path, f"{where} 'img_id' is {img_id!r}", "use the frame's integer number")
            pose = parse_pose(require_key(frame, "transform_matrix", path, where), path, where)
            entries.append((img_id, pose, frame.get("face_rect"), held, path))
    if len(entries) < 2:
        raise DatasetError(train_path, f"the video has {len(entries)} frame(s)", "give each video at least 2 frames")
    entries.sort(key=lambda e: e[0])
    img_ids = [e[0] for e in entries]
    if len(set(img_ids)) != len(img_ids):
        raise DatasetError(train_path, "an 'img_id' is listed twice", "list each frame once across train and val")

    exp_path = folder / layout.TRACK_PARAMS
    exp = _load_exp(exp_path)
    if len(entries) > exp.shape[0]:
        raise DatasetError(exp_path, f"'exp' has {exp.shape[0]} rows but the transforms list {len(entries)} frames",
                           "re-run the tracker on every listed frame, or drop the untracked frames")  # fmt: skip
    rows = img_ids if max(img_ids) < exp.shape[0] else list(range(len(entries)))
    expressions = check_expressions(exp[rows], exp_path, img_ids)

    image_folder = next((folder / n for n in layout.IMAGE_FOLDERS if (folder / n).is_dir()), None)
    if (folder / layout.ORIGINAL_IMAGES).is_dir() and (folder / layout.PARSING_FOLDER).is_dir():
        image_folder = folder / layout.ORIGINAL_IMAGES  # whole frames + head masks: each frame's own background
    if image_folder is None:
        raise DatasetError(folder, "has no head_imgs/, gt_imgs/ or ori_imgs/ folder", "add the frames as <img_id>.jpg")
    frames = ImageFolder(image_folder)
    images = [frames.find(layout.frame_image(i)) for i in img_ids]
    background = ImageFolder(folder).find(layout.BACKGROUND_FILE)
    background = background if background.is_file() else None
    width, height = check_image_sizes(images, [background] if background else [], decode_images)
    intrinsics = VideoIntrinsics(fx, fy, cx, cy, width, height)
    check_intrinsics(intrinsics, train_path)
    parsing = [folder / layout.PARSING_FOLDER / layout.parsing_image(i) for i in img_ids]
    parsing_ok = all(p.is_file() for p in parsing)

    fps = parse_number(train_meta.get(layout.FPS_KEY, layout.DEFAULT_FPS), train_path, f"'{layout.FPS_KEY}'",
                       "the frame rate in frames a second")  # fmt: skip
    if fps <= 0:
        raise DatasetError(train_path, f"'{layout.FPS_KEY}' is {fps:g}", "write the video's frame rate (e.g. 25)")
    audio = ImageFolder(folder).find(layout.AUDIO_FILE)
    segment_starts = _segment_starts(train_meta, train_path)
    face_rects = parse_face_rects([e[2] for e in entries], train_path)
    held_out = np.array([e[3] for e in entries])
    if held_out.all():
        raise DatasetError(
            train_path,
            f"lists no frames to train on ({len(entries)} frames are all in {layout.TRANSFORMS_VAL})",
            f"list the training frames in {layout.TRANSFORMS_TRAIN}",
        )
    if not held_out.any():  # no val file: hold out the last 10% as minerf-synth and minerf-track do
        held_out = last_fraction_held_out(len(entries))
    return VideoRecord(
        name=identity_name(folder.name),
        folder=folder,
        image_filenames=images,
        camera_to_worlds=np.stack([e[1] for e in entries]),
        intrinsics=intrinsics,
        expressions=expressions,
        held_out=held_out,
        background=background,
        parsing_filenames=parsing if parsing_ok else None,
        face_rects=face_rects,
        frame_ids=np.asarray(img_ids, dtype=np.int64),
        full_frames=image_folder.name == layout.ORIGINAL_IMAGES,
        fps=fps,
        audio=audio if audio.is_file() else None,
        segment_starts=segment_starts,
    )


def _segment_starts(meta: dict, path: Path) -> np.ndarray | None:
    """The frame numbers where clips or shots begin (``layout.SEGMENT_STARTS_KEY``), checked; None when absent."""
    starts = meta.get(layout.SEGMENT_STARTS_KEY)
    if starts is None:
        return None
    if not isinstance(starts, list) or not all(isinstance(k, int) and k >= 0 for k in starts) or not starts:
        raise DatasetError(path, f"'{layout.SEGMENT_STARTS_KEY}' is {str(starts)[:40]}", "write a list of increasing "
                           "frame numbers where each clip begins, or remove the key")  # fmt: skip
    if starts != sorted(set(starts)):
        raise DatasetError(path, f"'{layout.SEGMENT_STARTS_KEY}' is not increasing", "list each start once, in order")
    return np.asarray(starts, dtype=np.int64)
