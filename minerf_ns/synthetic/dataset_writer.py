"""Write synthetic talking-head videos in the AD-NeRF layout, with exact ground truth.

Layout of ``OUT`` (one folder per video, the folder name is the identity's name)::

    OUT/<name>/head_imgs/<k>.jpg        frames, head over the static background
    OUT/<name>/parsing/<k>.png          BGR parsing: head (255,0,0), neck (0,255,0), background white
    OUT/<name>/bc.jpg                   the background
    OUT/<name>/track_params.pt          exp [N,53], euler [N,3], trans [N,3] (decimetres), focal [1], id [1,K]
    OUT/<name>/transforms_train.json    first 90% of the frames (AD-NeRF keys: focal_len, cx, cy, frames)
    OUT/<name>/transforms_val.json      last 10%
    OUT/_ground_truth/meta.json         true identities, expressions, poses, intrinsics, seed
    OUT/_ground_truth/transfer/<A>/<B>/<k>.jpg   identity A with video B's expression k under A's pose k

Folders whose names start with ``_`` are not videos (the dataparser skips them).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import torch

from minerf_ns import layout
from minerf_ns.face.head_model import load_head_model
from minerf_ns.head_pose import TRACKER_TRANS_SCALE
from minerf_ns.synthetic.talking_head import (
    Appearance,
    Identity,
    RenderedFrame,
    Video,
    background_image,
    intrinsics,
    make_identity,
    make_video,
    narrow_expressions,
    render_frame,
)

JPEG_QUALITY = 95
IDENTITY_NAMES = (
    "ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea", "max", "nia", "oto",
    "pia",
)  # fmt: skip


@dataclass
class SynthSettings:
    """What to generate."""

    num_identities: int = 4
    num_frames: int = 100
    image_size: int = 128
    seed: int = 0
    expression_noise: float = 0.0
    """Standard deviation of the simulated tracker jitter on the written expressions (the images keep the true ones)."""
    narrow_identities: tuple = ()
    """Names of identities whose video keeps a narrow expression range (``talking_head.narrow_expressions``)."""


def identity_name(index: int) -> str:
    """Name of the ``index``-th synthetic identity; names sort in generation order."""
    if index < len(IDENTITY_NAMES):
        return IDENTITY_NAMES[index]
    return f"zz{index:04d}"


def num_train_frames(num_frames: int) -> int:
    """Frames in the train split: all but the last 10% (at least one held out)."""
    return num_frames - layout.num_held_out(num_frames)


def make_scene(settings: SynthSettings) -> tuple[list[Identity], list[Video]]:
    """All identities and their videos, deterministic for ``settings.seed``."""
    model = load_head_model()
    identities, videos = [], []
    for k in range(settings.num_identities):
        rng = np.random.default_rng([settings.seed, k])
        identity = make_identity(rng, identity_name(k))
        identities.append(identity)
        video = make_video(rng, model, identity, settings.num_frames)
        if identity.name in settings.narrow_identities:
            video = replace(video, expressions=narrow_expressions(model, video.expressions))
        videos.append(video)
    return identities, videos


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Write a float RGB image in [0, 1] (JPEG or PNG by suffix)."""
    jpeg = [
        cv2.IMWRITE_JPEG_QUALITY,
        JPEG_QUALITY,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    ]
    params = jpeg if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), cv2.cvtColor(_to_uint8(rgb), cv2.COLOR_RGB2BGR), params):
        raise OSError(f"{path}: could not write the image; check that the folder is writable.")


def parsing_image(frame: RenderedFrame) -> np.ndarray:
    """The BGR parsing image of a frame (AD-NeRF colours)."""
    out = np.empty(frame.head.shape + (3,), dtype=np.uint8)
    out[:] = layout.PARSING_BACKGROUND_BGR
    out[frame.neck] = layout.PARSING_NECK_BGR
    out[frame.head] = layout.PARSING_HEAD_BGR
    return out


def _render_job(job: tuple) -> int:
    """Render and write the frames of one (target identity, expression source) pair; returns frames written."""
    identity, video, expressions, size, folder, with_parsing = job
    model = load_head_model()
    appearance = Appearance(model, identity)
    background = background_image(identity, size, size)
    c2w = video.camera_to_worlds
    folder = Path(folder)
    for k in range(expressions.shape[0]):
        frame = render_frame(model, appearance, identity.shape, expressions[k], c2w[k], background)
        image = layout.frame_image(k)
        write_rgb(folder / layout.HEAD_IMAGES / image if with_parsing else folder / image, frame.rgb)
        if with_parsing:
            cv2.imwrite(str(folder / layout.PARSING_FOLDER / layout.parsing_image(k)), parsing_image(frame))
    return expressions.shape[0]


def _transforms(video: Video, frames: range, size: int) -> dict:
    fx, _, cx, cy = intrinsics(size, size)
    c2w = video.camera_to_worlds
    return {
        "focal_len": fx,
        "cx": cx,
        "cy": cy,
        "frames": [{"img_id": k, "aud_id": k, "transform_matrix": c2w[k].tolist()} for k in frames],
    }


def _meta(settings: SynthSettings, identities: list[Identity], videos: list[Video]) -> dict:
    fx, fy, cx, cy = intrinsics(settings.image_size, settings.image_size)
    return {
        "generator": "minerf-synth",
        "settings": asdict(settings),
        "intrinsics": {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "width": settings.image_size},
        "expression_names": list(load_head_model().expr_names),
        "num_train_frames": num_train_frames(settings.num_frames),
        "transfer": "transfer/<target>/<source>/<k>.jpg: target's shape, appearance and pose k, source's expression k",
        "identities": [
            {
                "name": ident.name,
                "shape": ident.shape.tolist(),
                "skin": ident.skin.tolist(),
                "lips": ident.lips.tolist(),
                "iris": ident.iris.tolist(),
                "hair": ident.hair.tolist(),
                "background": ident.background.tolist(),
                "smile_bias": ident.smile_bias,
                "talkativeness": ident.talkativeness,
                "narrow_range": ident.name in settings.narrow_identities,
                "expressions": video.expressions.tolist(),
                "euler": video.euler.tolist(),
                "translation": video.translation.tolist(),
                "camera_to_worlds": video.camera_to_worlds.tolist(),
            }
            for ident, video in zip(identities, videos)
        ],
    }


def identity_from_meta(entry: dict) -> tuple[Identity, Video]:
    """Rebuild one identity and its video from a ``meta.json`` entry."""
    identity = Identity(
        name=entry["name"],
        shape=np.asarray(entry["shape"], dtype=np.float32),
        skin=np.asarray(entry["skin"]),
        lips=np.asarray(entry["lips"]),
        iris=np.asarray(entry["iris"]),
        hair=np.asarray(entry["hair"]),
        background=np.asarray(entry["background"]),
        smile_bias=entry["smile_bias"],
        talkativeness=entry["talkativeness"],
    )
    video = Video(
        expressions=np.asarray(entry["expressions"], dtype=np.float32),
        euler=np.asarray(entry["euler"], dtype=np.float32),
        translation=np.asarray(entry["translation"], dtype=np.float32),
    )
    return identity, video


def render_from_meta(meta: dict, target: str, frame: int, source: Optional[str] = None) -> RenderedFrame:
    """Re-render frame ``frame`` of ``target`` (optionally with ``source``'s expression) from ``meta.json``."""
    entries = {e["name"]: e for e in meta["identities"]}
    identity, video = identity_from_meta(entries[target])
    expressions = identity_from_meta(entries[source])[1].expressions if source else video.expressions
    model = load_head_model()
    size = meta["settings"]["image_size"]
    return render_frame(
        model,
        Appearance(model, identity),
        identity.shape,
        expressions[frame],
        video.camera_to_worlds[frame],
        background_image(identity, size, size),
    )


def generate(
    out: Path,
    settings: SynthSettings,
    with_transfer: bool = True,
    workers: Optional[int] = None,
    progress: Optional[Callable[[int], None]] = None,
) -> dict:
    """Generate a synthetic multi-identity dataset under ``out`` and return its ``meta.json`` content.

    Args:
        out: dataset root; must not exist or be empty.
        settings: number of identities, frames, image size and seed.
        with_transfer: also render every identity with every other identity's expressions.
        workers: processes to render with (default: all cores, at most 8).
        progress: called with the number of frames written after each finished job.
    """
    identities, videos = make_scene(settings)
    size = settings.image_size
    n_train = num_train_frames(settings.num_frames)
    jobs = []
    jitter = np.random.default_rng(settings.seed + 1)
    for identity, video in zip(identities, videos):
        folder = out / identity.name
        tracked = video.expressions + jitter.normal(0.0, settings.expression_noise, video.expressions.shape)
        (folder / layout.HEAD_IMAGES).mkdir(parents=True)
        (folder / layout.PARSING_FOLDER).mkdir()
        write_rgb(folder / layout.BACKGROUND_FILE, background_image(identity, size, size))
        torch.save(
            {
                "exp": torch.from_numpy(tracked.astype(np.float32)),
                "euler": torch.from_numpy(video.euler),
                "trans": torch.from_numpy(video.translation * TRACKER_TRANS_SCALE),
                "focal": torch.tensor([intrinsics(size, size)[0]], dtype=torch.float32),
                "id": torch.from_numpy(identity.shape[None]),
            },
            folder / layout.TRACK_PARAMS,
        )
        val = range(n_train, settings.num_frames)
        for name, frames in ((layout.TRANSFORMS_TRAIN, range(n_train)), (layout.TRANSFORMS_VAL, val)):
            with open(folder / name, "w", encoding="utf-8") as handle:
                json.dump(_transforms(video, frames, size), handle, indent=1)
        jobs.append((identity, video, video.expressions, size, str(folder), True))
    gt = out / layout.GROUND_TRUTH_DIR
    gt.mkdir(parents=True)
    if with_transfer:
        for identity, video in zip(identities, videos):
            for source, source_video in zip(identities, videos):
                if source.name != identity.name:
                    folder = gt / "transfer" / identity.name / source.name
                    folder.mkdir(parents=True)
                    jobs.append((identity, video, source_video.expressions, size, str(folder), False))
    meta = _meta(settings, identities, videos)
    with open(gt / "meta.json", "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    workers = workers or min(8, os.cpu_count() or 1)
    if workers <= 1:
        for job in jobs:
            done = _render_job(job)
            if progress:
                progress(done)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(_render_job, jobs):
                if progress:
                    progress(done)
    return meta
