"""A dataset's audio and tracked expressions as the mapping's training clips: one per video with ``aud.wav``, its
frames split as the dataset splits them (the held-out frames score the mapping). Takes the dataparser's records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from minerf_ns.audio.features import frame_features
from minerf_ns.audio.mapping import Clip
from minerf_ns.audio.phones import recognize_phones
from minerf_ns.audio.waveform import read_audio


@dataclass
class SplitClips:
    """Training and held-out clips of the videos that have sound, and the names of those that have none."""

    train: List[Clip]
    held_out: List[Clip]
    silent_videos: List[str]


def _contiguous_runs(mask: np.ndarray) -> List[slice]:
    """Runs of True in a boolean mask (a video's train or held-out frames)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def held_out_mask(frame_ids: np.ndarray, fps: float, seconds: tuple[float, float]) -> np.ndarray:
    """Which of the frames ``frame_ids`` are shown between ``seconds[0]`` (included) and ``seconds[1]``."""
    times = np.asarray(frame_ids, dtype=np.float64) / fps
    return (times >= seconds[0] - 1e-9) & (times < seconds[1] - 1e-9)


def clips_from_videos(videos: Sequence, held_out_seconds: tuple[float, float] | None = None) -> SplitClips:
    """Training clips from dataparser ``VideoRecord``s (``audio``, ``frame_numbers()``, ``fps``, ``expressions``,
    ``held_out``).

    Args:
        held_out_seconds: hold out the frames shown from ``start`` to ``end`` seconds of each video instead of the
            dataset's own split (the lip-sync benchmark's folds).

    Raises:
        AudioInputError: a video's ``aud.wav`` cannot be decoded.
    """
    train, held, silent = [], [], []
    for video in videos:
        if video.audio is None:
            silent.append(video.name)
            continue
        frame_ids = video.frame_numbers()
        duration = (int(frame_ids.max()) + 1) / video.fps
        samples = read_audio(video.audio, duration_s=duration, require_sound=False)
        features = frame_features(samples, frame_ids, video.fps, recognize_phones(samples))
        mask = np.asarray(video.held_out, dtype=bool)
        if held_out_seconds is not None:
            mask = held_out_mask(frame_ids, video.fps, held_out_seconds)
        for runs, out in ((_contiguous_runs(~mask), train), (_contiguous_runs(mask), held)):
            for run in runs:
                out.append(Clip(video.name, features[run], video.expressions[run]))
    return SplitClips(train, held, silent)
