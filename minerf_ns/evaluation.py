"""Held-out evaluation of a trained pipeline (``minerf-demo`` and ``minerf-eval heldout``): every held-out frame
rendered and scored, per identity, a comparison image, the orbit of every identity, and the tables they print."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from rich.table import Table
from torch import Tensor

from dataparsers.head_dataset import mouth_box
from minerf_ns.contract import EXPRESSION, HEAD_BOX, IDENTITY
from minerf_ns.face.head_model import load_head_model
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


WIDEST_MOUTHS = 3
"""Held-out frames per identity in the mouth comparison: those with the widest tracked jawOpen."""
MOUTH_CROP_SIDE = 3.0
"""The mouth comparison's crop: this many mouth-box heights (and at least its width) around the mouth box's centre."""


def widest_mouth_rows(dataset, count: int = WIDEST_MOUTHS) -> Dict[int, List[int]]:
    """The held-out rows of each identity with the widest tracked jawOpen, widest first ({} where the expression
    basis is not ICT-FaceKit's: no jaw to read)."""
    model = load_head_model()
    expressions = dataset.cameras.metadata[EXPRESSION]
    if expressions.shape[-1] != model.num_expressions:
        return {}
    jaw = expressions[:, model.expression_index("jawOpen")]
    identities = dataset.cameras.metadata[IDENTITY][:, 0]
    rows = {}
    for identity in torch.unique(identities).tolist():
        mine = torch.nonzero(identities == identity)[:, 0]
        rows[int(identity)] = mine[torch.argsort(jaw[mine], descending=True)[:count]].tolist()
    return rows


def mouth_crop(image: np.ndarray, box: Optional[Tensor]) -> np.ndarray:
    """A square crop around the mouth box (the whole image without one), resized to 96 px by nearest neighbour."""
    height, width = image.shape[:2]
    if box is None or not bool(box.any()):
        crop = image
    else:
        ys, xs = torch.nonzero(box[..., 0], as_tuple=True)
        centre_y, centre_x = float(ys.float().mean()), float(xs.float().mean())
        side = max(MOUTH_CROP_SIDE * float(ys.max() - ys.min() + 1), float(xs.max() - xs.min() + 1), 8.0)
        y0 = int(np.clip(round(centre_y - side / 2), 0, max(height - side, 0)))
        x0 = int(np.clip(round(centre_x - side / 2), 0, max(width - side, 0)))
        crop = image[y0 : y0 + int(side), x0 : x0 + int(side)]
    picks_y = np.linspace(0, crop.shape[0] - 1, 96).round().astype(int)
    picks_x = np.linspace(0, crop.shape[1] - 1, 96).round().astype(int)
    return crop[picks_y][:, picks_x]


@torch.no_grad()
def compare_widest_mouths(
    pipeline, count: int = WIDEST_MOUTHS, progress: Optional[Callable[[], None]] = None
) -> tuple[Dict[str, Dict[str, float]], Optional[np.ndarray]]:
    """The held-out frames with the widest tracked jawOpen of each identity, rendered: FaceMesh's lip gap on the truth
    and on the render, and a picture (one row per identity: truth | render of each frame, the mouth enlarged).

    Returns:
        Per identity ``true_gap`` and ``render_gap`` (means over the frames where FaceMesh finds both faces, NaN
        where it finds none) and ``gap_ratio`` (render / truth); the picture, or None where no identity has
        ICT-FaceKit expressions.
    """
    from minerf_ns.tracking.face_landmarker import FaceLandmarker, still_lip_gap

    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    rows = widest_mouth_rows(dataset, count)
    if not rows:
        return {}, None
    landmarker = FaceLandmarker()
    scores: Dict[str, Dict[str, float]] = {}
    lines = []
    for identity, chosen in rows.items():
        name = model.identity_names[identity]
        tiles, truths, renders = [], [], []
        for idx in chosen:
            image = dataset[idx]["image"][..., :3].float()
            render = model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])["rgb"].cpu()
            truth_u8, render_u8 = to_uint8(image), to_uint8(render)
            truth_gap, render_gap = still_lip_gap(landmarker, truth_u8), still_lip_gap(landmarker, render_u8)
            if np.isfinite(truth_gap) and np.isfinite(render_gap):
                truths.append(truth_gap)
                renders.append(render_gap)
            box = mouth_box(dataset.cameras, idx)
            tiles += [label(mouth_crop(truth_u8, box), f"{name} truth"), label(mouth_crop(render_u8, box), "render")]
            if progress is not None:
                progress()
        truth_mean = float(np.mean(truths)) if truths else float("nan")
        render_mean = float(np.mean(renders)) if renders else float("nan")
        ratio = render_mean / truth_mean if truths and truth_mean > 0 else float("nan")
        scores[name] = {"true_gap": truth_mean, "render_gap": render_mean, "gap_ratio": ratio, "frames": len(truths)}
        blank = np.zeros_like(tiles[0])
        tiles += [blank] * (2 * count - len(tiles))
        lines.append(np.concatenate(tiles, axis=1))
    return scores, np.concatenate(lines, axis=0)
