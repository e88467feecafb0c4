"""Novel-view camera paths around the head at the world origin (pure torch: no nerfstudio)."""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor


def rotation_yaw_pitch(yaw: float, pitch: float) -> Float[Tensor, "3 3"]:
    """World rotation: ``pitch`` radians about x, then ``yaw`` radians about y (the head's up axis)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    rot_y = torch.tensor([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rot_x = torch.tensor([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    return rot_y @ rot_x


def orbit_poses(
    camera_to_world: Float[Tensor, "3 4"], num_frames: int, yaw_degrees: float = 35.0, pitch_degrees: float = 10.0
) -> Float[Tensor, "T 3 4"]:
    """A closed orbit of the camera about the head centre (the origin): yaw swings +-``yaw_degrees`` once and
    pitch +-``pitch_degrees`` twice, so the path starts and ends at the given camera.

    Args:
        camera_to_world: the reference camera (nerfstudio/OpenGL convention).
        num_frames: number of poses.
        yaw_degrees: yaw amplitude.
        pitch_degrees: pitch amplitude.
    """
    if num_frames < 1:
        raise ValueError("an orbit needs at least one frame")
    poses = []
    for k in range(num_frames):
        phase = 2.0 * math.pi * k / num_frames
        rot = rotation_yaw_pitch(
            math.radians(yaw_degrees) * math.sin(phase), math.radians(pitch_degrees) * math.sin(2 * phase)
        ).to(camera_to_world)
        poses.append(rot @ camera_to_world[:3, :4])
    return torch.stack(poses)
