"""Lip-sync measured without SyncNet (not available offline): how well predicted expression curves follow the tracked
ones (correlation) and by how many frames they are shifted (cross-correlation)."""

from __future__ import annotations

import math
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
