"""Held-out evaluation of a trained pipeline (``minerf-demo`` and ``minerf-eval heldout``): every held-out frame
rendered and scored, per identity, a comparison image, the orbit of every identity, and the tables they print."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from jaxtyping import Bool
from rich.table import Table
from torch import Tensor

from dataparsers.head_dataset import box_image
from minerf_ns.contract import EXPRESSION, HEAD_BOX, IDENTITY
from minerf_ns.face.mouth import mouth_rect
from minerf_ns.media import display_factor, label, to_uint8, upscale
from minerf_ns.orbit import orbit_poses
from minerf_ns.rendering import make_camera, render_rgb


def held_out_rows(dataset, frames_per_identity: Optional[int] = None) -> Dict[int, List[int]]:
    """The rows of a held-out dataset to score, by identity index: ``frames_per_identity`` of each identity's, evenly
    spaced from its first (long videos: the benchmarks), or all (None)."""
    identities = dataset.cameras.metadata[IDENTITY][:, 0]
    chosen = {}
    for identity in torch.unique(identities).tolist():
        rows = torch.nonzero(identities == identity)[:, 0]
        if frames_per_identity is not None:
            picks = np.linspace(0, len(rows) - 1, min(frames_per_identity, len(rows))).round().astype(int)
            rows = rows[np.unique(picks)]
        chosen[int(identity)] = rows.tolist()
    return chosen


@torch.no_grad()
def evaluate_held_out(
    pipeline, frames_per_identity: Optional[int] = None
) -> tuple[Dict[str, Dict[str, float]], np.ndarray]:
    """Metrics of every held-out frame, averaged per identity, and a comparison image (one row per identity:
    ground truth, render, error x4 of its first held-out frame).

    Args:
        frames_per_identity: score only this many of each identity's held-out frames, evenly spaced from its first
            (long videos: the benchmarks); None: all.
    """
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    identities = dataset.cameras.metadata[IDENTITY][:, 0]
    chosen = [idx for rows in held_out_rows(dataset, frames_per_identity).values() for idx in rows]
    sums: Dict[str, Dict[str, List[float]]] = {}
    rows = []
    for order, idx in enumerate(chosen):
        item = dataset[idx]
        outputs = model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])
        image = item["image"][..., :3].float()
        render = outputs["rgb"].cpu()
        metrics = model.metrics.image_metrics(render, image, item[HEAD_BOX], mouth_box(dataset.cameras, idx))
        name = model.identity_names[int(identities[idx])]
        for key, value in metrics.items():
            sums.setdefault(name, {}).setdefault(key, []).append(value)
        if order == 0 or int(identities[idx]) != int(identities[chosen[order - 1]]):
            factor = display_factor(image.shape[0])
            error = ((render - image).abs() * 4.0).clamp(0, 1)
            captions = (f"{name}: held-out", f"render {metrics['head_psnr']:.1f} dB", "error x4")
            tiles = [label(upscale(to_uint8(t), factor), c) for t, c in zip((image, render, error), captions)]
            rows.append(np.concatenate(tiles, axis=1))
    per_identity = {name: {k: float(np.mean(v)) for k, v in metrics.items()} for name, metrics in sums.items()}
    return per_identity, np.concatenate(rows, axis=0)


@torch.no_grad()
def render_orbits(model, num_frames: int, progress: Optional[Callable[[], None]] = None) -> np.ndarray:
    """[T, H, W * identities, 3] uint8: each identity with its first held-out expression, the camera orbiting its
    first held-out camera."""
    catalogue = model.catalogue
    columns = []
    for identity, name in enumerate(catalogue.identity_names):
        held_out = torch.nonzero(catalogue.train_frame_index[identity] < 0)
        frame = int(held_out[0, 0]) if len(held_out) else 0
        condition = catalogue.frame_condition(identity, frame)
        intrinsics = catalogue.intrinsics[identity]
        images = []
        for pose in orbit_poses(catalogue.camera_to_worlds[identity][frame], num_frames):
            rgb = to_uint8(render_rgb(model, make_camera(pose, intrinsics, condition)))
            images.append(label(upscale(rgb, display_factor(intrinsics.height)), name))
            if progress is not None:
                progress()
        columns.append(np.stack(images))
    return np.concatenate(columns, axis=2)


REGIONS = (("", ""), ("head ", "head_"), ("mouth ", "mouth_"))
"""The scored regions: (column prefix, metric key prefix) for the whole frame, the head box and the mouth box."""


def mouth_box(cameras, idx: int) -> Optional[Bool[Tensor, "H W 1"]]:
    """The mouth region of camera ``idx`` of a dataset's cameras (``face/mouth.py``), or None where it has none."""
    camera = cameras[idx]
    rect = mouth_rect(camera.camera_to_worlds.numpy(), float(camera.fx), float(camera.fy), float(camera.cx),
                      float(camera.cy), cameras.metadata[EXPRESSION][idx].numpy())  # fmt: skip
    return None if rect is None else box_image(rect, int(camera.height), int(camera.width))


def mean_metrics(per_identity: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    """The mean over identities of each metric (over those that have it: a mouth needs ICT-FaceKit expressions)."""
    keys = dict.fromkeys(k for metrics in per_identity.values() for k in metrics)
    return {k: float(np.mean([m[k] for m in per_identity.values() if k in m])) for k in keys}


def held_out_table(per_identity: Dict[str, Dict[str, float]], mean: Dict[str, float], title: str) -> Table:
    """PSNR/SSIM on the frame, the head box and the mouth box, one row per identity and the mean."""
    table = Table(title=title)
    regions = [(name, key) for name, key in REGIONS if f"{key}psnr" in mean]
    for column in ["identity"] + [f"{name}{metric}" for name, _ in regions for metric in ("PSNR", "SSIM")]:
        table.add_column(column, justify="right")
    for name, m in list(per_identity.items()) + [("mean", mean)]:
        cells = [(f"{m[key + 'psnr']:.2f}", f"{m[key + 'ssim']:.3f}") if key + "psnr" in m else ("-", "-")
                 for _, key in regions]  # fmt: skip
        table.add_row(name, *[cell for pair in cells for cell in pair])
    return table
