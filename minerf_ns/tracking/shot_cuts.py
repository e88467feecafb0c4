"""Cuts inside a video (a change of shot, a cutaway graphic): two consecutive frames whose small grey thumbnails
differ by more than ``CUT_THRESHOLD`` on average. A talking head changes a few grey levels from frame to frame; a cut
changes most of the picture. Nothing that looks at neighbouring frames (tracking's crop, temporal smoothness, the
smoothing window, the audio mapping's context) reaches across a cut."""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

THUMBNAIL = 32
"""Side of the grey thumbnail compared between frames."""
CUT_THRESHOLD = 24.0
"""Mean absolute difference (grey levels of 255) above which two consecutive frames are in different shots."""


class CutDetector:
    """Feed frames in order; ``is_cut`` says whether a frame starts a new shot."""

    def __init__(self, threshold: float = CUT_THRESHOLD) -> None:
        self.threshold = threshold
        self._previous: Optional[np.ndarray] = None
        self.last_difference = 0.0

    def reset(self) -> None:
        """Forget the previous frame (a new clip starts: its first frame is a boundary already)."""
        self._previous = None

    def is_cut(self, rgb: np.ndarray) -> bool:
        """True when ``rgb`` differs from the frame before it as a new shot does."""
        grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32)
        previous, self._previous = self._previous, grey
        if previous is None:
            self.last_difference = 0.0
            return False
        self.last_difference = float(np.abs(grey - previous).mean())
        return self.last_difference > self.threshold
