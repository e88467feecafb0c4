"""A dataset's audio and tracked expressions as the mapping's training clips: one per video with ``aud.wav``, its
frames split as the dataset splits them (the held-out frames score the mapping). Takes the dataparser's records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

import numpy as np

from minerf_ns.audio.features import frame_features
from minerf_ns.audio.mapping import Clip
from minerf_ns.audio.phones import recognize_phones
from minerf_ns.audio.waveform import SAMPLE_RATE, read_audio

MAX_FRAMES_WITHOUT_SOUND = 5
"""A video's ``aud.wav`` may end this many frames before its last frame (0.2 s at 25 fps: an extraction's rounding),
padded with silence; a shorter sound track is refused, since the mapping would learn silence for frames of speech."""


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
    ``held_out``, ``segments()``).

    Each segment of a video (one of several clips joined into one identity, or a shot between cuts) gets its own
    features from its own stretch of sound, and its train and held-out runs become separate clips: the mapping's
    context never reaches across a boundary.

    Args:
        held_out_seconds: hold out the frames shown from ``start`` to ``end`` seconds of each video instead of the
            dataset's own split (the lip-sync benchmark's folds).

    Raises:
        AudioInputError: a video's ``aud.wav`` cannot be decoded, or ends more than ``MAX_FRAMES_WITHOUT_SOUND``
            frames before its frames do.
    """
    train, held, silent = [], [], []
    for video in videos:
        if video.audio is None:
            silent.append(video.name)
            continue
        frame_ids = video.frame_numbers()
        duration = (int(frame_ids.max()) + 1) / video.fps
        samples = read_audio(video.audio, duration_s=duration, require_sound=False,
                             max_padding_s=MAX_FRAMES_WITHOUT_SOUND / video.fps)  # fmt: skip
        mask = np.asarray(video.held_out, dtype=bool)
        if held_out_seconds is not None:
            mask = held_out_mask(frame_ids, video.fps, held_out_seconds)
        for rows, first in video.segments():
            features = segment_features(samples, frame_ids[rows], first, video.fps)
            for runs, out in ((_contiguous_runs(~mask[rows]), train), (_contiguous_runs(mask[rows]), held)):
                for run in runs:
                    out.append(Clip(video.name, features[run], video.expressions[rows][run]))
    return SplitClips(train, held, silent)


def segment_sound(samples: np.ndarray, frame_ids: np.ndarray, first_frame: int, fps: float) -> np.ndarray:
    """A segment's own sound: from its first frame (``first_frame``) to the end of its last frame ``frame_ids[-1]``."""
    begin = int(round(first_frame / fps * SAMPLE_RATE))
    return samples[begin : int(round((int(frame_ids[-1]) + 1) / fps * SAMPLE_RATE))]


def segment_features(samples: np.ndarray, frame_ids: np.ndarray, first_frame: int, fps: float) -> np.ndarray:
    """Features of the frames ``frame_ids`` of a segment that starts at frame ``first_frame``, from the segment's
    own sound (``segment_sound``)."""
    part = segment_sound(samples, frame_ids, first_frame, fps)
    return frame_features(part, frame_ids - first_frame, fps, recognize_phones(part))
