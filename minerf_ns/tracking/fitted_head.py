"""The whole ICT head of a fit (one identity in the tracker's identity modes), posed in the camera frame per frame.

Used for what needs every vertex rather than the landmarks: head masks and the overlay (``tracker``) and the
photometric refinement's z-buffer visibility.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from minerf_ns.face.head_model import HeadModel
from minerf_ns.head_pose import euler_to_rotation


class FittedHead:
    """One video's fitted head shape, with the model's expression blendshapes.

    Args:
        model: the head model.
        identity_delta: the identity modes the fit used (``rigid_free_identity``).
        identity: the fitted identity weights.
    """

    def __init__(
        self, model: HeadModel, identity_delta: Float[np.ndarray, "I V 3"], identity: Float[np.ndarray, " K"]
    ) -> None:
        self.shape = model.shape(identity, identity_delta)
        self.expr_delta = model.expr_delta.reshape(len(model.expr_delta), -1)  # [E, 3V]

    def camera_vertices(
        self, expressions: Float[np.ndarray, " E"], euler: Float[np.ndarray, " 3"], translation: Float[np.ndarray, " 3"]
    ) -> Float[np.ndarray, "V 3"]:
        """Every vertex of one frame's head in the camera frame (``R X + t``, float64)."""
        verts = self.shape + (np.asarray(expressions, dtype=np.float32) @ self.expr_delta).reshape(-1, 3)
        return verts.astype(np.float64) @ euler_to_rotation(np.asarray(euler, dtype=np.float64)).T + translation
