"""Expressions that make an identity say an audio clip: from the learned mapping, or from the viseme prior scaled to
the identity's own range of motion. Pure numpy/torch: reads no files, knows no model."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.features import frame_features, prior_for_frames, sound_times
from minerf_ns.audio.lipsync import lip_opening_mm
from minerf_ns.audio.mapping import AudioToExpression
from minerf_ns.audio.phones import Phone, recognize_phones
from minerf_ns.audio.visemes import VISEME_NAMES, viseme_activations, viseme_targets
from minerf_ns.audio.waveform import SAMPLE_RATE


def num_video_frames(num_samples: int, fps: float) -> int:
    """Frames a video of the audio needs: every started frame."""
    return max(1, math.ceil(num_samples / SAMPLE_RATE * fps - 1e-9))


def calibrated_prior(
    prior: Float[np.ndarray, "T d"], own: Float[np.ndarray, "N d"], expression_names: Sequence[str]
) -> Float[np.ndarray, "T d"]:
    """The prior on the identity's face: every blendshape the prior drives moves over the identity's own range (its
    5th to 95th percentile in its video, the prior's strongest target reaching the 95th); the others hold their median
    (a face at rest that looks like the person's, eyes open)."""
    strongest = viseme_targets(expression_names).max(axis=0)
    driven = strongest > 0
    low, high = np.percentile(own, 5, axis=0), np.percentile(own, 95, axis=0)
    out = np.repeat(np.median(own, axis=0)[None], len(prior), axis=0)
    gain = (high - low)[driven] / strongest[driven]
    out[:, driven] = low[driven] + prior[:, driven] * gain
    return out.astype(np.float32)


RETARGET_GAIN = (0.25, 4.0)
"""Bounds of the per-value gain that moves a mapping's expressions onto another identity's range of motion."""


def retarget(
    predicted: Float[np.ndarray, "T d"], mapping: AudioToExpression, own: Float[np.ndarray, "N d"]
) -> Float[np.ndarray, "T d"]:
    """A mapping's expressions on an identity it was not fitted on (a mapping from GRID driving anyone): each value's
    offset from the mapping's training mean, scaled by the ratio of the identity's spread to the training spread
    (within ``RETARGET_GAIN``), added to the identity's own mean, and kept within what the identity's video showed.
    The mouth moves with the speech as the mapping learnt it, over the amplitude this face showed."""
    mean, spread = mapping.target_mean.numpy(), mapping.target_std.numpy()
    gain = np.clip(own.std(axis=0) / np.maximum(spread, 1e-3), *RETARGET_GAIN)
    out = own.mean(axis=0) + (predicted - mean) * gain
    return np.clip(out, own.min(axis=0), own.max(axis=0)).astype(np.float32)


CLOSED_PERCENTILE = 5.0
"""An identity's closed mouth: the median of its frames whose lips are open least (this percentile of the opening)."""


def closed_mouth(own: Float[np.ndarray, "N 53"]) -> Float[np.ndarray, " 53"]:
    """The identity's own closed mouth, from its video (ICT-FaceKit basis)."""
    opening = lip_opening_mm(own)
    return np.median(own[opening <= np.percentile(opening, CLOSED_PERCENTILE)], axis=0)


def close_lips(
    predicted: Float[np.ndarray, "T 53"],
    phones: Sequence[Phone],
    frame_ids: Sequence[int],
    fps: float,
    own: Float[np.ndarray, "N 53"],
    expression_names: Sequence[str],
) -> Float[np.ndarray, "T 53"]:
    """With exact phones (a transcript), the lips close where p, b, m are said: the mouth's blendshapes (jaw*,
    mouth*) move towards the identity's own closed mouth by the weight the viseme prior gives its lip closure there
    (dominance blending: strong and brief, with the lip lead). A learned mapping hears a closure only in the silence
    it makes; the words say where it is."""
    weight = viseme_activations(phones, sound_times(frame_ids, fps) + 0.5 / fps)[:, VISEME_NAMES.index("closed")]
    mouth = [k for k, name in enumerate(expression_names) if name.startswith(("jaw", "mouth"))]
    out = predicted.copy()
    out[:, mouth] = (1.0 - weight[:, None]) * predicted[:, mouth] + weight[:, None] * closed_mouth(own)[mouth]
    return out.astype(np.float32)


def expressions_from_audio(
    samples: Float[np.ndarray, " samples"],
    fps: float,
    own_expressions: Float[np.ndarray, "N d"],
    expression_names: Optional[Sequence[str]],
    mapping: Optional[AudioToExpression] = None,
    identity: Optional[str] = None,
    phones: Optional[Sequence[Phone]] = None,
    phones_exact: bool = False,
) -> Float[np.ndarray, "T d"]:
    """One expression per video frame of the audio, in the identity's basis.

    Args:
        samples: the audio (16 kHz mono).
        fps: the video's frame rate.
        own_expressions: the identity's tracked expressions (the prior's range of motion).
        expression_names: the basis's blendshape names (the prior needs ICT-FaceKit's; None for another basis).
        mapping: the learned mapping; None: the viseme prior.
        identity: whose speaking style the mapping uses; for an identity the mapping was not fitted on, its mean
            style, retargeted to ``own_expressions`` (``retarget``).
        phones: the audio's timed phones (e.g. aligned to a transcript); recognised from the sound when not given.
        phones_exact: the phones come from a transcript: the learned mapping's lips then close at every p, b, m
            (``close_lips``; ICT-FaceKit basis).
    """
    frame_ids = np.arange(num_video_frames(len(samples), fps))
    phones = recognize_phones(samples) if phones is None else phones
    if mapping is not None:
        predicted = mapping.predict(frame_features(samples, frame_ids, fps, phones), identity)
        if identity not in mapping.identities:
            predicted = retarget(predicted, mapping, own_expressions)
        if phones_exact and expression_names is not None:
            predicted = close_lips(predicted, phones, frame_ids, fps, own_expressions, expression_names)
        return predicted
    if expression_names is None:
        raise ValueError("the viseme prior drives ICT-FaceKit blendshapes; this basis has no names")
    prior = prior_for_frames(phones, frame_ids, fps, expression_names)
    return calibrated_prior(prior, own_expressions, expression_names)
