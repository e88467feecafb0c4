"""Reader of the native layout: one nerfstudio-style ``transforms.json`` per video with per-frame expressions.

Keys: ``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``, ``frames[].file_path``, ``frames[].transform_matrix``,
``frames[].expression`` (d floats); optional ``frames[].mask_path`` (non-zero = head), ``frames[].face_rect``
``[x, y, w, h]``, a top-level ``background`` image and ``identity_name`` (else the folder name). Frames are in time
order; the last 10% are held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np

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
from minerf_ns.contract import VideoIntrinsics

NATIVE_FILE = "transforms.json"


def is_native_video(folder: Path) -> bool:
    """True if the folder has a native ``transforms.json``."""
    return (folder / NATIVE_FILE).is_file()


def _file(folder: Path, value: Any, path: Path, where: str, folders: Dict[Path, ImageFolder]) -> Path:
    """A file named relative to the video folder, its extension's case ignored (see ``ImageFolder``)."""
    if not isinstance(value, str) or not value:
        raise DatasetError(path, f"{where} is {value!r}, not a file name", "write the image's path as a string")
    target = folder / value
    if target.parent not in folders:
        folders[target.parent] = ImageFolder(target.parent)
    return folders[target.parent].find(target.name)


def _image_dimension(meta: dict, key: str, actual: int, path: Path) -> None:
    """A given ``w`` or ``h`` must be the images' own size."""
    if key in meta:
        value = parse_number(meta[key], path, f"'{key}'", "the image size in pixels")
        if value != actual:
            raise DatasetError(path, f"'{key}' is {meta[key]!r} but the images are {actual} pixels",
                               f"set '{key}' to {actual} or remove it (the images' size is used)")  # fmt: skip


def read_native_video(folder: Path, decode_images: bool = False) -> VideoRecord:
    """Read and check one native-layout video folder (``decode_images``: decode every frame, not only headers)."""
    path = folder / NATIVE_FILE
    meta = load_json(path)
    if not isinstance(meta, dict):
        raise DatasetError(path, "is not a JSON object", "write the nerfstudio transforms.json keys in an object")
    frames = require_key(meta, "frames", path, "the file")
    if not isinstance(frames, list) or len(frames) < 2:
        count = len(frames) if isinstance(frames, list) else 0
        raise DatasetError(path, f"the video has {count} frame(s)", "give each video at least 2 frames")
    fx = parse_number(require_key(meta, "fl_x", path, "the file"), path, "'fl_x'", "the focal length in pixels")
    fy = parse_number(meta.get("fl_y", fx), path, "'fl_y'", "the focal length in pixels")
    poses, expressions, images, masks, rects = [], [], [], [], []
    folders: Dict[Path, ImageFolder] = {}
    dim = None
    for k, frame in enumerate(frames):
        where = f"frames[{k}]"
        image = require_key(frame, "file_path", path, where)
        images.append(_file(folder, image, path, f"{where} 'file_path'", folders))
        poses.append(parse_pose(require_key(frame, "transform_matrix", path, where), path, where))
        try:
            expr = np.asarray(require_key(frame, "expression", path, where), dtype=np.float64)
        except (TypeError, ValueError):
            raise DatasetError(path, f"{where} 'expression' is not a list of numbers", "write d floats") from None
        if expr.ndim != 1 or (dim is not None and expr.shape[0] != dim):
            raise DatasetError(path, f"{where} 'expression' has shape {list(expr.shape)}, not [{dim or 'd'}]",
                               "give every frame the same number of expression values")  # fmt: skip
        dim = expr.shape[0]
        expressions.append(expr)
        mask = frame.get("mask_path")
        masks.append(None if mask is None else _file(folder, mask, path, f"{where} 'mask_path'", folders))
        rects.append(frame.get("face_rect"))
    background = None
    if "background" in meta:
        background = _file(folder, meta["background"], path, "'background'", folders)
    extra = ([background] if background else []) + [m for m in masks if m is not None]
    width, height = check_image_sizes(images, extra, decode_images)
    _image_dimension(meta, "w", width, path)
    _image_dimension(meta, "h", height, path)
    cx = parse_number(meta.get("cx", width / 2.0), path, "'cx'", "the principal point in pixels")
    cy = parse_number(meta.get("cy", height / 2.0), path, "'cy'", "the principal point in pixels")
    intrinsics = VideoIntrinsics(fx, fy, cx, cy, width, height)
    check_intrinsics(intrinsics, path)
    return VideoRecord(
        name=identity_name(str(meta.get("identity_name", folder.name))),
        folder=folder,
        image_filenames=images,
        camera_to_worlds=np.stack(poses),
        intrinsics=intrinsics,
        expressions=check_expressions(np.stack(expressions), path, list(range(len(frames)))),
        held_out=last_fraction_held_out(len(frames)),
        background=background,
        mask_filenames=masks if all(m is not None for m in masks) else None,
        face_rects=parse_face_rects(rects, path),
        full_frames=True,
    )
