"""Head poses in the AD-NeRF tracker's convention, and the cameras they imply (pure numpy).

The AD-NeRF face tracker stores a head rotation as Euler angles (radians) composed by its own ``euler2rot`` and a
translation in decimetres; a head point ``X`` (canonical frame) lands at ``R X + t`` in the camera frame. The
camera-to-world matrix written to ``transforms_*.json`` is the inverse head pose ``[R^T | -R^T t]`` with ``t`` in
metres, so the camera orbits a fixed canonical head at the origin (OpenGL convention: the camera looks along -z).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

TRACKER_TRANS_SCALE = 10.0
"""AD-NeRF's ``track_params.pt['trans']`` is in decimetres: ``transforms`` divide it by 10 to get metres."""


def euler_to_rotation(euler: Float[np.ndarray, "*N 3"]) -> Float[np.ndarray, "*N 3 3"]:
    """Rotation matrices from AD-NeRF Euler angles: ``R = Rx(a) @ Ry(b) @ Rz(-c)`` (its sign pattern, kept as is)."""
    euler = np.asarray(euler, dtype=np.float64)
    a, b, c = euler[..., 0], euler[..., 1], euler[..., 2]
    one, zero = np.ones_like(a), np.zeros_like(a)
    rot_x = np.stack([one, zero, zero, zero, np.cos(a), -np.sin(a), zero, np.sin(a), np.cos(a)], -1)
    rot_y = np.stack([np.cos(b), zero, np.sin(b), zero, one, zero, -np.sin(b), zero, np.cos(b)], -1)
    rot_z = np.stack([np.cos(c), np.sin(c), zero, -np.sin(c), np.cos(c), zero, zero, zero, one], -1)
    shape = euler.shape[:-1] + (3, 3)
    return rot_x.reshape(shape) @ rot_y.reshape(shape) @ rot_z.reshape(shape)


def head_pose_to_camera_to_world(
    rotation: Float[np.ndarray, "*N 3 3"], translation_m: Float[np.ndarray, "*N 3"]
) -> Float[np.ndarray, "*N 4 4"]:
    """The camera-to-world matrix (world = canonical head frame) of a camera that sees the head at ``R X + t``."""
    rotation = np.asarray(rotation, dtype=np.float64)
    translation_m = np.asarray(translation_m, dtype=np.float64)
    rot_inv = np.swapaxes(rotation, -1, -2)
    c2w = np.zeros(rotation.shape[:-2] + (4, 4))
    c2w[..., :3, :3] = rot_inv
    c2w[..., :3, 3] = -(rot_inv @ translation_m[..., None])[..., 0]
    c2w[..., 3, 3] = 1.0
    return c2w


def world_to_camera(points: Float[np.ndarray, "V 3"], camera_to_world: Float[np.ndarray, "4 4"]) -> np.ndarray:
    """Transform world points into the camera frame of ``camera_to_world``."""
    rot = camera_to_world[:3, :3]
    return (points - camera_to_world[:3, 3]) @ rot
