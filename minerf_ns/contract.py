"""The data contract: what the dataparser writes per camera, what nerfstudio hands to every ray, and what the model
reads (pure torch; no learned module). The readers (``dataparsers/``) and the model both import it; it imports neither.

Per camera the dataparser writes ``EXPRESSION`` (the frame's 3DMM expression e [d]), ``IDENTITY`` (the video index),
``FRAME`` (the index of the train frame, ``UNSEEN_FRAME`` for frames not trained on), ``SOURCE_FRAME`` (the frame's
row in its video, for its background), and ``EXPRESSION_WINDOW`` / ``FRAME_WINDOW`` (the expressions and train-frame
indices of the frame's ``WINDOW`` neighbours in its sequence, for the temporal smoothing; a frame of no sequence
repeats itself); nerfstudio hands them to every ray in ``RayBundle.metadata``. Each dataset item adds
``BACKGROUND`` (the frame's background), ``HEAD_BOX`` and ``MOUTH_BOX`` (its head and mouth boxes per pixel); the
datamanager gives every ray its background colour. ``Condition`` writes one camera's metadata; ``VideoIntrinsics`` is
a video's pinhole camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

WINDOW = 8
"""Frames in a window (AD-NeRF's): offsets -4 .. +3 around the frame, clamped to the sequence."""
CENTRE = WINDOW // 2
"""Position of the frame itself in its window."""


def window_rows(
    rows: Int[Tensor, " T"], length: int, segments: Optional[Int[Tensor, " N"]] = None
) -> Int[Tensor, "T W"]:
    """The rows of each frame's window in a sequence of ``length`` frames, clamped at its ends, and at the ends of the
    frame's segment when ``segments`` (every row's segment index, non-decreasing) is given: a window never reaches
    across a clip boundary or a cut."""
    offsets = torch.arange(WINDOW, device=rows.device) - CENTRE
    window = (rows[:, None] + offsets).clamp(0, max(length - 1, 0))
    if segments is None:
        return window
    first = torch.searchsorted(segments, segments[rows])
    last = torch.searchsorted(segments, segments[rows], right=True) - 1
    return torch.minimum(torch.maximum(window, first[:, None]), last[:, None])


EXPRESSION = "expression"
"""Camera/ray metadata: the frame's expression e, float32 [.., d]."""
IDENTITY = "identity_idx"
"""Camera/ray metadata: the video (identity) index, long [.., 1]."""
FRAME = "frame_idx"
"""Camera/ray metadata: the train-frame index whose latent code to use, long [.., 1]; ``UNSEEN_FRAME`` if none."""
SOURCE_FRAME = "source_frame"
"""Camera metadata: the row, within its video, of the frame a camera reproduces, long [.., 1]; ``NO_SOURCE_FRAME``
for renders of no recorded frame (novel views, the viewer). It selects the frame's own background."""
NO_SOURCE_FRAME = -1
EXPRESSION_WINDOW = "expression_window"
"""Camera/ray metadata: the expressions of the frame's window of neighbours (``minerf_ns.smoothing.window_rows``),
float32 [.., W * d], flattened because nerfstudio gathers metadata per ray as [.., k]."""
FRAME_WINDOW = "frame_window"
"""Camera/ray metadata: the train-frame index of each frame of the window (latent codes), long [.., W]."""
BACKGROUND = "bg"
"""Ray metadata (and dataset item): the ray's background colour, float [.., 3] in [0, 1] (uint8 in dataset items)."""
HEAD_BOX = "head_box"
"""Dataset item: the frame's head box, bool [H, W, 1] (95% of the training rays are drawn inside it; the metrics'
head box)."""
MOUTH_BOX = "mouth_box"
"""Dataset item: the frame's mouth box, bool [H, W, 1], empty where the expression basis has no lips (a share of the
training rays can be drawn inside it; the metrics' mouth box)."""
PIXEL_WEIGHT = "pixel_weight"
"""Whole-image batch: each pixel's share of the loss, float [H, W, 1] summing to 1 (the head-box sampler's odds)."""
CONDITION = "condition"
"""Ray metadata inside the model: the per-ray condition [M(e, i), l]."""
UNSEEN_FRAME = -1
"""``FRAME`` value of frames that were not trained on (val/test, novel renders, the viewer)."""

CAMERA_CONDITION_KEYS = (EXPRESSION, IDENTITY, FRAME, EXPRESSION_WINDOW, FRAME_WINDOW)
"""What the condition is computed from (a whole image's once, not per pixel)."""


def sequence_windows(
    expressions: Float[Tensor, "T d"], frames: Optional[Int[Tensor, " T"]] = None
) -> tuple[Float[Tensor, "T W d"], Int[Tensor, "T W"]]:
    """Every frame's window of neighbours in a sequence: their expressions and train-frame indices (``frames``;
    default: none trained on, as for a driving sequence)."""
    rows = window_rows(torch.arange(len(expressions)), len(expressions))
    frames = torch.full((len(expressions),), UNSEEN_FRAME, dtype=torch.long) if frames is None else frames
    return expressions[rows], frames.long()[rows]


def camera_metadata(
    expression: Float[Tensor, "N d"],
    identity: Int[Tensor, " N"],
    frame: Int[Tensor, " N"],
    source_frame: Optional[Int[Tensor, " N"]] = None,
    expression_window: Optional[Float[Tensor, "N W d"]] = None,
    frame_window: Optional[Int[Tensor, "N W"]] = None,
) -> Dict[str, Tensor]:
    """The conditioning metadata of N cameras (float32 expressions, long [N, 1] indices), on the CPU. Without a
    window, each camera's window repeats its own frame (the smoothing leaves it as it is)."""
    n = len(identity)
    expression = expression.reshape(n, -1).float()
    source = torch.full_like(identity, NO_SOURCE_FRAME) if source_frame is None else source_frame
    if expression_window is None:
        expression_window = expression[:, None].expand(n, WINDOW, expression.shape[1])
    if frame_window is None:
        frame_window = frame.reshape(n, 1).expand(n, WINDOW)
    return {
        EXPRESSION: expression.cpu(),
        IDENTITY: identity.reshape(-1, 1).long().cpu(),
        FRAME: frame.reshape(-1, 1).long().cpu(),
        SOURCE_FRAME: source.reshape(-1, 1).long().cpu(),
        EXPRESSION_WINDOW: expression_window.reshape(n, -1).float().cpu().contiguous(),
        FRAME_WINDOW: frame_window.reshape(n, -1).long().cpu().contiguous(),
    }


@dataclass(frozen=True)
class Condition:
    """What one rendered frame is conditioned on: an expression, an identity, and whose latent code."""

    expression: Float[Tensor, " d"]
    identity: int
    frame: int = UNSEEN_FRAME
    """Train-frame index of the latent code, or ``UNSEEN_FRAME`` (the code book's policy for unseen frames)."""
    source_frame: int = NO_SOURCE_FRAME
    """Row, in the identity's video, of the recorded frame whose background to show; ``NO_SOURCE_FRAME``: the
    video's static background."""
    expression_window: Optional[Float[Tensor, "W d"]] = None
    """The expressions of the frame's neighbours in its sequence (``sequence_windows``); None: a still frame."""
    frame_window: Optional[Int[Tensor, " W"]] = None
    """Their train-frame indices (latent codes); None: ``frame`` repeated."""

    def camera_metadata(self) -> Dict[str, Tensor]:
        """Metadata for one camera that fixes this condition."""
        return Condition.batch_metadata([self])

    @staticmethod
    def batch_metadata(conditions: Sequence[Condition]) -> Dict[str, Tensor]:
        """Metadata for one camera (or ray) per condition."""
        expressions = torch.stack([c.expression for c in conditions]).float()
        frames = torch.tensor([c.frame for c in conditions])
        windows = [c.expression_window if c.expression_window is not None else e.expand(WINDOW, -1)
                   for c, e in zip(conditions, expressions)]  # fmt: skip
        frame_windows = [c.frame_window if c.frame_window is not None else f.expand(WINDOW)
                         for c, f in zip(conditions, frames)]  # fmt: skip
        return camera_metadata(
            expressions,
            torch.tensor([c.identity for c in conditions]),
            frames,
            torch.tensor([c.source_frame for c in conditions]),
            torch.stack(windows),
            torch.stack(frame_windows),
        )


@dataclass
class VideoIntrinsics:
    """A video's pinhole camera."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def vertical_fov(self) -> float:
        """Vertical field of view in radians."""
        return float(2.0 * np.arctan(self.height / (2.0 * self.fy)))
