"""Lip-sync measured without SyncNet (not available offline): how well predicted expression curves follow the tracked
ones (correlation) and by how many frames they are shifted (cross-correlation)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Dict, Optional, Sequence

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.visemes import LIP_CLOSURE


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation (0 when either curve is constant)."""
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def best_offset(predicted: np.ndarray, tracked: np.ndarray, max_lag: int = 6) -> int:
    """The shift (frames) that best aligns ``predicted`` with ``tracked`` by cross-correlation: positive when the
    prediction comes late (predicted[t + lag] matches tracked[t])."""
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            scores[lag] = correlation(predicted[lag:], tracked[: len(tracked) - lag])
        else:
            scores[lag] = correlation(predicted[: len(predicted) + lag], tracked[-lag:])
    return max(scores, key=scores.get)


def lip_curves(expressions: Float[np.ndarray, "T d"], names: Sequence[str]) -> Dict[str, np.ndarray]:
    """The two curves lip-sync is judged on: jaw opening and lip closure (ICT-FaceKit names)."""
    index = {name: k for k, name in enumerate(names)}
    return {
        "jaw_open": expressions[:, index["jawOpen"]],
        "lip_closure": sum(expressions[:, index[name]] for name in LIP_CLOSURE),
    }


UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17
"""FaceMesh's outer-lip midpoints on the ICT surface through the landmark map (the inner ones map poorly: the mesh
has no inner lip surface to hit)."""


@lru_cache(maxsize=1)
def _inner_lip_basis() -> tuple[np.ndarray, np.ndarray]:
    from minerf_ns.face.head_model import load_head_model
    from minerf_ns.tracking.landmark_map import load_landmark_map

    model, lmap = load_head_model(), load_landmark_map()
    points = lmap.points(np.concatenate([model.neutral[None], model.expr_delta]))[:, [UPPER_LIP_TOP, LOWER_LIP_BOTTOM]]
    height = (points[:, 0, 1] - points[:, 1, 1]) * 1000.0  # vertical extent of the lips (y up), mm
    return np.zeros(()), height[1:]


def lip_opening_mm(expressions: Float[np.ndarray, "T 53"]) -> Float[np.ndarray, " T"]:
    """How far the lips of the mean ICT-FaceKit head making each expression are open, in mm: the vertical extent of
    the lips (upper lip's top to lower lip's bottom) beyond the neutral face's, whose lips touch. About 0 (or below,
    lips pressed) on p, b, m; 10-20 mm on an open vowel. A geometric reading of a 53-d expression that adds up what
    every mouth blendshape does to the lips."""
    neutral, per_blendshape = _inner_lip_basis()
    return (neutral + np.asarray(expressions, dtype=np.float64) @ per_blendshape).astype(np.float32)


def lip_sync_scores(
    predicted: Float[np.ndarray, "T d"], tracked: Float[np.ndarray, "T d"], names: Optional[Sequence[str]]
) -> Dict[str, float]:
    """Correlation and offset (frames) of the jaw-opening and lip-closure curves; for a basis without names, of the
    tracked data's strongest dimension."""
    if names is None:
        strongest = int(np.argmax(tracked.std(axis=0)))
        curves = {"strongest_dim": (predicted[:, strongest], tracked[:, strongest])}
    else:
        mine, theirs = lip_curves(predicted, names), lip_curves(tracked, names)
        curves = {key: (mine[key], theirs[key]) for key in mine}
    scores = {}
    for key, (a, b) in curves.items():
        scores[f"{key}_correlation"] = correlation(a, b)
        scores[f"{key}_offset_frames"] = float(best_offset(a, b))
    return scores
