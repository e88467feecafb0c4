"""The audio prior that needs no training data: timed phones -> visemes -> ICT-FaceKit blendshape curves.

Each phone pulls the mouth towards its viseme's target; neighbouring phones overlap (coarticulation) by Cohen and
Massaro's dominance blending: target i weighs ``dominance_i * exp(-|t - centre_i| / spread_i)`` and the face at time t
is the weighted mean of the targets. Lip closures (p, b, m) and lip-teeth contact (f, v) dominate strongly and briefly,
so they are reached even in fast speech; vowels dominate broadly and colour their neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.phones import SILENCE, Phone


@dataclass(frozen=True)
class Viseme:
    """A mouth shape: ICT-FaceKit blendshape weights, and how strongly and how widely it dominates its neighbours."""

    weights: Mapping[str, float]
    dominance: float
    spread_s: float


def _both(name: str, value: float) -> Dict[str, float]:
    return {f"{name}_L": value, f"{name}_R": value}


VISEMES: Dict[str, Viseme] = {
    "rest": Viseme({}, 0.6, 0.10),
    "closed": Viseme({"jawOpen": 0.02, "mouthClose": 0.10, **_both("mouthPress", 0.5)}, 6.0, 0.03),  # p b m
    "lip_teeth": Viseme({"jawOpen": 0.08, "mouthRollLower": 0.5, **_both("mouthUpperUp", 0.25)}, 2.0, 0.05),  # f v
    "stop_closure": Viseme({"jawOpen": 0.03, "mouthClose": 0.08, **_both("mouthPress", 0.35)}, 2.0, 0.04),
    "dental": Viseme({"jawOpen": 0.15, **_both("mouthStretch", 0.1)}, 1.0, 0.05),  # th dh
    "alveolar": Viseme({"jawOpen": 0.12, **_both("mouthStretch", 0.15)}, 0.8, 0.05),  # t d n l s z
    "postalveolar": Viseme({"jawOpen": 0.12, "mouthFunnel": 0.45, "mouthPucker": 0.2}, 1.2, 0.06),  # sh ch jh zh
    "velar": Viseme({"jawOpen": 0.22}, 0.6, 0.05),  # k g ng hh
    "r": Viseme({"jawOpen": 0.15, "mouthPucker": 0.35, "mouthFunnel": 0.15}, 1.0, 0.06),  # r er
    "w": Viseme({"jawOpen": 0.08, "mouthPucker": 0.7, "mouthFunnel": 0.2}, 1.5, 0.06),  # w
    "open": Viseme({"jawOpen": 0.55, **_both("mouthLowerDown", 0.2)}, 1.0, 0.08),  # aa ae ah ay aw
    "mid": Viseme({"jawOpen": 0.35, **_both("mouthStretch", 0.1)}, 1.0, 0.08),  # eh ey
    "spread": Viseme({"jawOpen": 0.2, **_both("mouthStretch", 0.3), **_both("mouthSmile", 0.15)}, 1.0, 0.08),  # iy ih y
    "rounded": Viseme({"jawOpen": 0.3, "mouthPucker": 0.5, "mouthFunnel": 0.4}, 1.0, 0.08),  # ao ow oy
    "close_rounded": Viseme({"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.3}, 1.2, 0.08),  # uw uh
}
"""The viseme classes (a common 14-class grouping of English phones) and their ICT-FaceKit targets."""

PHONE_VISEME: Dict[str, str] = {
    **dict.fromkeys(["P", "B", "M"], "closed"),
    **dict.fromkeys(["F", "V"], "lip_teeth"),
    **dict.fromkeys(["TH", "DH"], "dental"),
    **dict.fromkeys(["T", "D", "N", "L", "S", "Z"], "alveolar"),
    **dict.fromkeys(["SH", "CH", "JH", "ZH"], "postalveolar"),
    **dict.fromkeys(["K", "G", "NG", "HH"], "velar"),
    **dict.fromkeys(["R", "ER"], "r"),
    "W": "w",
    "Y": "spread",
    **dict.fromkeys(["AA", "AE", "AH", "AY", "AW"], "open"),
    **dict.fromkeys(["EH", "EY"], "mid"),
    **dict.fromkeys(["IY", "IH"], "spread"),
    **dict.fromkeys(["AO", "OW", "OY"], "rounded"),
    **dict.fromkeys(["UW", "UH"], "close_rounded"),
    SILENCE: "rest",
}
"""ARPAbet phone -> viseme class (an unknown label is at rest)."""

VISEME_NAMES: List[str] = list(VISEMES)
BILABIALS = ("P", "B", "M")
LIP_CLOSURE = ("mouthPress_L", "mouthPress_R", "mouthClose")
"""The blendshapes whose sum measures how closed the lips are (with jawOpen as its opposite)."""


STOP_GAP_S = 0.15
"""A pause this short between two speech phones is the closure of a stop consonant: the phone recogniser hears the
silent closure of p, b (and t, d, k, g) as silence. Its viseme closes the lips part way (place unknown)."""


def viseme_of(label: str) -> str:
    return PHONE_VISEME.get(label, "rest")


def _viseme_sequence(phones: Sequence[Phone]) -> List[str]:
    """Each phone's viseme class, with short pauses inside speech read as stop closures."""
    classes = [viseme_of(p.label) for p in phones]
    for k in range(1, len(phones) - 1):
        gap = phones[k].end_s - phones[k].start_s
        if (
            phones[k].label == SILENCE
            and gap <= STOP_GAP_S
            and SILENCE not in (phones[k - 1].label, phones[k + 1].label)
        ):
            classes[k] = "stop_closure"
    return classes


def viseme_activations(phones: Sequence[Phone], times_s: Float[np.ndarray, " T"]) -> Float[np.ndarray, "T V"]:
    """How much each viseme class shapes the mouth at each time (rows sum to 1): dominance blending of the phones."""
    activations = np.zeros((len(times_s), len(VISEME_NAMES)))
    if not phones:
        activations[:, VISEME_NAMES.index("rest")] = 1.0
        return activations
    for phone, name in zip(phones, _viseme_sequence(phones)):
        viseme = VISEMES[name]
        half = 0.5 * (phone.end_s - phone.start_s)
        # full dominance over the phone's own span, decaying outside it: long vowels hold their shape
        distance = np.maximum(np.abs(times_s - phone.centre_s) - half, 0.0)
        activations[:, VISEME_NAMES.index(name)] += viseme.dominance * np.exp(-distance / viseme.spread_s)
    total = activations.sum(axis=1, keepdims=True)
    return activations / np.maximum(total, 1e-12)


def viseme_targets(expression_names: Sequence[str]) -> Float[np.ndarray, "V d"]:
    """Each viseme's target as a row over ``expression_names`` (names the basis lacks are left out)."""
    index = {name: k for k, name in enumerate(expression_names)}
    targets = np.zeros((len(VISEME_NAMES), len(expression_names)))
    for row, name in enumerate(VISEME_NAMES):
        for shape, weight in VISEMES[name].weights.items():
            if shape in index:
                targets[row, index[shape]] = weight
    return targets


def prior_expressions(
    phones: Sequence[Phone], times_s: Float[np.ndarray, " T"], expression_names: Sequence[str]
) -> Float[np.ndarray, "T d"]:
    """Blendshape weights at each time (the prior's mouth; every other blendshape stays 0)."""
    return viseme_activations(phones, times_s) @ viseme_targets(expression_names)
