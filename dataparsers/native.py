"""Reader of the native layout: one nerfstudio-style ``transforms.json`` per video with per-frame expressions.

Keys: ``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``, ``frames[].file_path``, ``frames[].transform_matrix``,
``frames[].expression`` (d floats); optional ``frames[].mask_path`` (non-zero = head), ``frames[].face_rect``
``[x, y, w, h]``, a top-level ``background`` image and ``identity_name`` (else the folder name). Frames are in time
order; the last 10% are held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataparsers.dataset_error import DatasetError
from dataparsers.video_record import (
    VideoRecord,
    check_expressions,
    check_image_sizes,
    last_fraction_held_out,
    load_json,
    parse_pose,
    require_key,
)
from minerf_ns.catalogue import VideoIntrinsics

NATIVE_FILE = "transforms.json"


def is_native_video(folder: Path) -> bool:
    """True if the folder has a native ``transforms.json``."""
    return (folder / NATIVE_FILE).is_file()


def read_native_video(folder: Path) -> VideoRecord:
    """Read and check one native-layout video folder."""
    path = folder / NATIVE_FILE
    meta = load_json(path)
    frames = require_key(meta, "frames", path, "the file")
    if not isinstance(frames, list) or len(frames) < 2:
        count = len(frames) if isinstance(frames, list) else 0
        raise DatasetError(path, f"the video has {count} frame(s)", "give each video at least 2 frames")
    fx = float(require_key(meta, "fl_x", path, "the file"))
    fy = float(meta.get("fl_y", fx))
    poses, expressions, images, masks, rects = [], [], [], [], []
    dim = None
    for k, frame in enumerate(frames):
        where = f"frames[{k}]"
        images.append(folder / require_key(frame, "file_path", path, where))
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
        masks.append(folder / frame["mask_path"] if "mask_path" in frame else None)
        rects.append(frame.get("face_rect"))
    background = folder / meta["background"] if "background" in meta else None
    extra = ([background] if background else []) + [m for m in masks if m is not None]
    width, height = check_image_sizes(images, extra)
    face_rects = np.asarray(rects, dtype=np.float32) if all(r is not None for r in rects) else None
    return VideoRecord(
        name=str(meta.get("identity_name", folder.name)),
        folder=folder,
        image_filenames=images,
        camera_to_worlds=np.stack(poses),
        intrinsics=VideoIntrinsics(
            fx,
            fy,
            float(meta.get("cx", width / 2.0)),
            float(meta.get("cy", height / 2.0)),
            int(meta.get("w", width)),
            int(meta.get("h", height)),
        ),
        expressions=check_expressions(np.stack(expressions), path, list(range(len(frames)))),
        held_out=last_fraction_held_out(len(frames)),
        background=background,
        mask_filenames=masks if all(m is not None for m in masks) else None,
        face_rects=face_rects,
    )
