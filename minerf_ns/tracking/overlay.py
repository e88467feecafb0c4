"""The overlay frame of the tracking report: detected landmarks, the fitted model's landmarks and the head mask."""

from __future__ import annotations

import cv2
import numpy as np


def overlay_frame(
    rgb: np.ndarray, detected: np.ndarray | None, fitted: np.ndarray | None, head: np.ndarray | None, text: str
) -> np.ndarray:
    """``rgb`` with the head-mask outline (yellow), detected landmarks (green) and fitted landmarks (red)."""
    out = np.ascontiguousarray(rgb.copy())
    radius = max(1, round(out.shape[0] / 300))
    if head is not None:
        contours, _ = cv2.findContours(head.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 220, 0), radius)
    for points, colour in ((detected, (0, 230, 0)), (fitted, (255, 40, 40))):
        if points is not None:
            for x, y in np.round(points[:, :2]).astype(int):
                cv2.circle(out, (int(x), int(y)), radius, colour, -1)
    scale = out.shape[0] / 512
    cv2.putText(out, text, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
    return out
