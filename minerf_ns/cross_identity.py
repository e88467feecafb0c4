"""Expression transfer on real footage, where no image of A making B's expression exists (``minerf-eval transfer`` on
a dataset without ``minerf-synth``'s ground truth): two measures that need none.

Identity A is rendered for each of its held-out frames k (its pose, latent policy and background) with the expression
of driver B's held-out frame j(k) (the k-th of B's chosen frames), for every identity B of the model; B == A is
self-reenactment, the plain held-out render.

- ``identity_psnr``: PSNR against A's real frame k on the head box without the mouth (neither A's nor B's mouth box).
  What an expression does outside the mouth (eyes, brows, cheeks) differs between B's frame and A's, so even a perfect
  model loses something there; a model that carries part of B's identity with B's expression (skin, hair, face shape)
  loses more. The transfer - self difference compares modules, as the synthetic ``gap`` does with ground truth.
- ``lip_gap_r``: whether A's mouth does what B's did: the correlation, over every (A, B, k), of the lip gap FaceMesh
  measures on the render with the one it measures on B's real frame j (``tracking.face_landmarker.lip_gap``); NaN
  where FaceMesh finds no face, and such frames are left out (``lip_gap_frames`` counts the rest).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from dataparsers.head_dataset import mouth_box
from minerf_ns.contract import HEAD_BOX
from minerf_ns.media import display_factor, label, to_uint8, upscale
from minerf_ns.tracking.face_landmarker import FaceLandmarker, still_lip_gap
from minerf_ns.transfer import driven_camera


def correlation(x: List[float], y: List[float]) -> float:
    """Pearson's r over the pairs where both are finite (NaN: fewer than 3, or no spread)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or a[keep].std() == 0 or b[keep].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def summarize(pairs: Dict[str, Dict[str, dict]], same: bool) -> Dict[str, float]:
    """Mean identity PSNR (and the held-out metrics of self pairs) over the pairs with A == B (``same``) or A != B,
    and the lip-gap correlation over all their frames, each target's gaps taken about its own means: how far a face's
    lips are apart at rest differs from person to person, and that offset says nothing of following the driver."""
    chosen = {a: [m for b, m in row.items() if (a == b) == same] for a, row in pairs.items()}
    flat = [m for ms in chosen.values() for m in ms]
    if not flat:
        return {}
    out = {key: float(np.mean([m[key] for m in flat])) for key in flat[0] if not key.endswith("_gaps")}
    renders, drivers = [], []
    for ms in chosen.values():
        mine = np.asarray(sum((m["render_gaps"] for m in ms), []), dtype=np.float64)
        theirs = np.asarray(sum((m["driver_gaps"] for m in ms), []), dtype=np.float64)
        both = np.isfinite(mine) & np.isfinite(theirs)
        if both.any():
            renders += list(mine[both] - mine[both].mean())
            drivers += list(theirs[both] - theirs[both].mean())
    out["lip_gap_r"] = correlation(renders, drivers)
    out["lip_gap_frames"] = float(len(renders))
    return out


@torch.no_grad()
def evaluate_cross_identity(
    pipeline, rows: Dict[int, List[int]], progress: Optional[Callable[[], None]] = None
) -> tuple[dict, np.ndarray]:
    """Every identity of the model driven by every identity's held-out expressions, scored without ground truth.

    Args:
        rows: the held-out rows to use, by identity index (``evaluation.held_out_rows``).

    Returns:
        ``{"transfer": ..., "self_reenactment": ..., "pairs": {A: {B: ...}}}`` and a grid image: a header row of each
        driver's first chosen held-out frame, then one row per identity A rendered with each of those expressions
        under A's first chosen held-out camera.
    """
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    cameras, names = dataset.cameras, model.identity_names
    landmarker = FaceLandmarker()
    items = {idx: dataset[idx] for chosen in rows.values() for idx in chosen}
    images = {idx: item["image"][..., :3].float() for idx, item in items.items()}
    real_gaps = {idx: still_lip_gap(landmarker, to_uint8(image)) for idx, image in images.items()}
    pairs: Dict[str, Dict[str, dict]] = {}
    grid: Dict[int, List[np.ndarray]] = {}
    for a, targets in rows.items():
        for b, drivers in rows.items():
            scores: Dict[str, List[float]] = {}
            render_gaps, driver_gaps = [], []
            for k, idx in enumerate(targets):
                jdx = drivers[k % len(drivers)]
                camera = driven_camera(cameras, idx, jdx)
                render = model.get_outputs_for_camera(camera)["rgb"].cpu()
                region = items[idx][HEAD_BOX][..., 0].clone()
                for box in (mouth_box(cameras, idx), mouth_box(camera, 0)):
                    if box is not None:
                        region &= ~box[..., 0]
                scores.setdefault("identity_psnr", []).append(float(model.metrics.masked_psnr(render, images[idx],
                                                                                               region)))  # fmt: skip
                if a == b:
                    metrics = model.metrics.image_metrics(render, images[idx], items[idx][HEAD_BOX],
                                                          mouth_box(cameras, idx))  # fmt: skip
                    for key in ("head_psnr", "head_ssim", "mouth_psnr", "mouth_ssim"):
                        if key in metrics:
                            scores.setdefault(key, []).append(float(metrics[key]))
                render_gaps.append(still_lip_gap(landmarker, to_uint8(render)))
                driver_gaps.append(real_gaps[jdx])
                if k == 0:
                    grid.setdefault(a, []).append(to_uint8(render))
                if progress is not None:
                    progress()
            pairs.setdefault(names[a], {})[names[b]] = {
                **{key: float(np.mean(values)) for key, values in scores.items()},
                "render_gaps": render_gaps,
                "driver_gaps": driver_gaps,
            }
    summary = {"transfer": summarize(pairs, same=False), "self_reenactment": summarize(pairs, same=True),
               "pairs": pairs}  # fmt: skip
    if summary["transfer"]:
        summary["transfer"]["gap"] = summary["transfer"]["identity_psnr"] - summary["self_reenactment"]["identity_psnr"]
    factor = display_factor(int(cameras.height[0]))
    header = [label(upscale(to_uint8(images[rows[b][0]]), factor), f"{names[b]} (driver)") for b in rows]
    lines = [np.concatenate(header, axis=1)]
    for a, renders in grid.items():
        tiles = [label(upscale(r, factor), f"{names[a]} <- {names[b]}") for r, b in zip(renders, rows)]
        lines.append(np.concatenate(tiles, axis=1))
    return summary, np.concatenate(lines, axis=0)
