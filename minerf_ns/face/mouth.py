"""Where the mouth is in a frame, for the mouth-region metric: ICT-FaceKit's lip landmarks (68-point scheme, points
48-67) on the mean head under the frame's expression, projected with the frame's camera and grown by a margin.

The mean head stands in for each person's own shape: a face's lips sit within about a centimetre of the mean's, which
the margin covers. The world frame of every dataset is the canonical head frame (``head_model.py``), so a camera's
pose is all the projection needs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from jaxtyping import Float

from minerf_ns.face.head_model import load_head_model

LIP_LANDMARKS = slice(48, 68)
"""The outer (48-59) and inner (60-67) lip contour of the 68-point landmark scheme."""
MOUTH_MARGIN = 0.25
"""Grow the lips' box by this fraction of its width and height on every side (the chin and the philtrum's edge)."""


def mouth_rect(
    camera_to_world: Float[np.ndarray, "3 4"],
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    expression: Float[np.ndarray, " E"],
) -> Optional[tuple[float, float, float, float]]:
    """``(x, y, w, h)`` in pixels of the mouth of a frame seen by an OpenGL camera (x right, y up, looking along -z).

    Args:
        camera_to_world: the camera's pose in the canonical head frame (the first 3 rows suffice).
        fx, fy, cx, cy: its intrinsics in pixels.
        expression: the frame's ICT-FaceKit expression weights.

    Returns:
        The box, or None when the expression is not ICT-FaceKit's (another basis has no lips to place) or a lip point
        is behind the camera.
    """
    model = load_head_model()
    expression = np.asarray(expression, dtype=np.float32)
    if expression.shape != (model.num_expressions,):
        return None
    points = model.landmark68[LIP_LANDMARKS]
    lips = model.neutral[points] + np.tensordot(expression, model.expr_delta[:, points], axes=1)
    pose = np.asarray(camera_to_world, dtype=np.float64)[:3]
    in_camera = (lips - pose[:, 3]) @ pose[:, :3]  # R^T (X - t), one point a row
    depth = -in_camera[:, 2]
    if (depth <= 1e-6).any():
        return None
    u = cx + fx * in_camera[:, 0] / depth
    v = cy - fy * in_camera[:, 1] / depth
    width, height = u.max() - u.min(), v.max() - v.min()
    x0, y0 = u.min() - MOUTH_MARGIN * width, v.min() - MOUTH_MARGIN * height
    return float(x0), float(y0), float(width * (1 + 2 * MOUTH_MARGIN)), float(height * (1 + 2 * MOUTH_MARGIN))
