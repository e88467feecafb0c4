"""Separating head pose from face shape: the rigid part of identity modes, and a face's orientation.

Several ICT-FaceKit identity modes carry a rigid motion (mode 1 is 72% a 1.3 degree pitch per unit weight), so
from landmarks alone an identity weight and a head rotation are interchangeable. The tracker fits identity in a
*rigid-free* basis (each mode minus its best rotation + translation of the face region), so the fitted pose is the
face's orientation; ``face_orientation`` gives the same quantity for any (pose, identity) pair, e.g. ground truth.
``landmark_region_orientation`` is the orientation of only the part of the face that landmarks cover.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from jaxtyping import Float

from minerf_ns.face.head_model import HeadModel


def _rigid_generators(points: Float[np.ndarray, "V 3"]) -> Float[np.ndarray, "3V 6"]:
    """Columns: the displacement fields of small rotations about x, y, z and of translations along x, y, z."""
    cols = [np.cross(np.eye(3)[axis], points).ravel() for axis in range(3)]
    cols += [np.tile(np.eye(3)[axis], (points.shape[0], 1)).ravel() for axis in range(3)]
    return np.stack(cols, axis=1)


def rigid_free_identity(model: HeadModel) -> Float[np.ndarray, "I V 3"]:
    """The identity modes with their small-motion rigid component (fitted on the face region) removed."""
    face = model.part_mask("face")
    gens_face = _rigid_generators(model.neutral[face].astype(np.float64))
    gens_all = _rigid_generators(model.neutral.astype(np.float64))
    deltas = model.id_delta.astype(np.float64)
    coef, *_ = np.linalg.lstsq(gens_face, deltas[:, face].reshape(deltas.shape[0], -1).T, rcond=None)  # 6 x I
    rigid = (gens_all @ coef).T.reshape(deltas.shape)
    return (deltas - rigid).astype(np.float32)


def kabsch(source: Float[np.ndarray, "V 3"], target: Float[np.ndarray, "V 3"]) -> Float[np.ndarray, "3 3"]:
    """Rotation R minimising ``|R (source - mean) - (target - mean)|``."""
    a = source - source.mean(0)
    b = target - target.mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    sign = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, sign]) @ vt


def face_orientation(
    model: HeadModel, rotation: Float[np.ndarray, "N 3 3"], identity: Float[np.ndarray, " K"]
) -> Float[np.ndarray, "N 3 3"]:
    """Orientation of the face region in the camera frame: head rotation times the identity's own rigid tilt."""
    face = model.part_mask("face")
    return rotation @ kabsch(model.neutral[face].astype(np.float64), model.shape(identity)[face].astype(np.float64))


def landmark_region_orientation(
    model: HeadModel,
    landmark_points: Callable[[np.ndarray], np.ndarray],
    rotation: Float[np.ndarray, "N 3 3"],
    identity: Float[np.ndarray, " K"],
    identity_delta: Float[np.ndarray, "I V 3"],
) -> Float[np.ndarray, "N 3 3"]:
    """Orientation of the part of the face that FaceMesh's landmarks cover (``LandmarkMap.points``): head rotation
    times the rotation that best carries the neutral head's landmarks onto those of ``identity`` (in the modes
    ``identity_delta``: the model's own for ground truth, ``rigid_free_identity`` for a fit)."""
    neutral = landmark_points(model.neutral.astype(np.float64))
    return rotation @ kabsch(neutral, landmark_points(model.shape(identity, identity_delta).astype(np.float64)))


def rotation_error_deg(a: Float[np.ndarray, "N 3 3"], b: Float[np.ndarray, "N 3 3"]) -> Float[np.ndarray, " N"]:
    """Geodesic angle between two sets of rotations, degrees."""
    cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
