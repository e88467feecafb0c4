"""Render a trained MI-NeRF model for an explicit condition and camera: the building block of the demo, transfer
renders and evaluations."""

from __future__ import annotations

from typing import Optional

import torch
from jaxtyping import Float
from torch import Tensor

from minerf_ns.contract import Condition, VideoIntrinsics
from nerfstudio.cameras.cameras import Cameras, CameraType


def make_camera(
    camera_to_world: Float[Tensor, "3 4"], intrinsics: VideoIntrinsics, condition: Optional[Condition] = None
) -> Cameras:
    """One pinhole camera (float32) of a video's intrinsics, optionally carrying a condition."""
    return Cameras(
        camera_to_worlds=camera_to_world[None, :3, :4].float().cpu(),
        fx=float(intrinsics.fx),
        fy=float(intrinsics.fy),
        cx=float(intrinsics.cx),
        cy=float(intrinsics.cy),
        width=int(intrinsics.width),
        height=int(intrinsics.height),
        camera_type=CameraType.PERSPECTIVE,
        metadata=None if condition is None else condition.camera_metadata(),
    )


@torch.no_grad()
def render_rgb(model, camera: Cameras) -> Float[Tensor, "H W 3"]:
    """RGB in [0, 1] of ``model`` (a MiNerfModel) for one camera, on the CPU."""
    return model.get_outputs_for_camera(camera)["rgb"].clamp(0.0, 1.0).cpu()
