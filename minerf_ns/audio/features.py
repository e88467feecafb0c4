"""Audio features at a video's frame rate: log-mel energies (speaker- and language-agnostic) and the viseme prior's
activations (what the phones say the mouth does), one row per video frame."""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
from jaxtyping import Float

from minerf_ns.audio.phones import Phone, recognize_phones
from minerf_ns.audio.visemes import VISEME_NAMES, prior_expressions, viseme_activations
from minerf_ns.audio.waveform import SAMPLE_RATE

NUM_MELS = 40
WINDOW = 400
"""25 ms analysis windows at 16 kHz, every 10 ms."""
HOP = 160
LIP_LEAD_S = 0.08
"""Lips move ahead of the sound they make (anticipatory coarticulation): the frame at time t is given the audio of
t + 80 ms. Measured on the two real clips: the prior's jawOpen correlates best with the tracked lip gap at a lead of
80-120 ms (BENCHMARKS.md "Audio")."""
NUM_FEATURES = NUM_MELS + 1 + len(VISEME_NAMES)
"""Per frame: 40 log-mel energies, the frame's loudness relative to the clip's (dB / 20), the 14 viseme activations."""


@lru_cache(maxsize=4)
def mel_filterbank(num_mels: int = NUM_MELS, n_fft: int = 512, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular mel filters [num_mels, n_fft // 2 + 1] from 60 Hz to 7.6 kHz (HTK mel scale)."""

    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(60.0), mel(7600.0), num_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(samples: Float[np.ndarray, " samples"]) -> Float[np.ndarray, "F m"]:
    """log(1e-6 + mel energy) every 10 ms (frame f centred at f * 10 ms + 12.5 ms)."""
    padded = np.concatenate([samples, np.zeros(WINDOW, dtype=samples.dtype)])
    count = max(1, (len(samples) + HOP - 1) // HOP)
    index = np.arange(count)[:, None] * HOP + np.arange(WINDOW)[None]
    spectrum = np.abs(np.fft.rfft(padded[index] * np.hanning(WINDOW), n=512, axis=1)) ** 2
    return np.log(1e-6 + spectrum @ mel_filterbank().T)


def sound_times(frame_ids: Sequence[int], fps: float) -> Float[np.ndarray, " T"]:
    """When the sound that frame k's mouth shape makes starts: k / fps plus the lip lead."""
    return np.asarray(frame_ids, dtype=np.float64) / fps + LIP_LEAD_S


def frame_features(
    samples: Float[np.ndarray, " samples"],
    frame_ids: Sequence[int],
    fps: float,
    phones: Optional[Sequence[Phone]] = None,
) -> Float[np.ndarray, "T f"]:
    """One feature row per video frame ``frame_ids`` (frame k is shown from k / fps for 1 / fps).

    ``phones`` are recognised from ``samples`` when not given. The log-mel rows are centred on the clip's mean (a
    recording's gain and microphone colour cancel).
    """
    if phones is None:
        phones = recognize_phones(samples)
    mel = log_mel(samples)
    centres = (np.arange(len(mel)) * HOP + WINDOW / 2) / SAMPLE_RATE
    lead = sound_times(frame_ids, fps)
    rows = []
    for start in lead:
        inside = (centres >= start) & (centres < start + 1.0 / fps)
        if not inside.any():  # beyond the audio's end, or frames shorter than 10 ms: the nearest analysis frame
            inside = np.arange(len(mel)) == np.argmin(np.abs(centres - (start + 0.5 / fps)))
        rows.append(mel[inside].mean(axis=0))
    mel_rows = np.stack(rows)
    loudness = np.log10(np.exp(mel_rows).sum(axis=1))  # log10 of the frame's energy (x 10 = dB)
    loudness = (loudness - np.percentile(loudness, 90)) / 2.0  # dB / 20, 0 at the clip's loud speech
    visemes = viseme_activations(phones, lead + 0.5 / fps)
    mel_rows = mel_rows - mel_rows.mean(axis=0, keepdims=True)
    return np.concatenate([mel_rows, loudness[:, None], visemes], axis=1).astype(np.float32)


def prior_for_frames(
    phones: Sequence[Phone], frame_ids: Sequence[int], fps: float, expression_names: Sequence[str]
) -> Float[np.ndarray, "T d"]:
    """The viseme prior's blendshape weights for video frames ``frame_ids`` (with the lip lead)."""
    return prior_expressions(phones, sound_times(frame_ids, fps) + 0.5 / fps, expression_names)
