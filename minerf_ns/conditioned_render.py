"""Render a trained MI-NeRF model for an explicit (identity, expression, latent frame, camera): the building block of
the demo, transfer renders and evaluations."""

from __future__ import annotations

from typing import Dict

import torch
from jaxtyping import Float
from torch import Tensor

from nerfstudio.cameras.cameras import Cameras, CameraType


def make_camera(
    camera_to_world: Float[Tensor, "3 4"], fx: float, fy: float, cx: float, cy: float, height: int, width: int
) -> Cameras:
    """One pinhole camera (float32)."""
    return Cameras(
        camera_to_worlds=camera_to_world[None, :3, :4].float().cpu(),
        fx=float(fx),
        fy=float(fy),
        cx=float(cx),
        cy=float(cy),
        width=int(width),
        height=int(height),
        camera_type=CameraType.PERSPECTIVE,
    )


def condition_metadata(expression: Tensor, identity: int, frame: int = -1) -> Dict[str, Tensor]:
    """Camera metadata that fixes the condition: expression [d], identity index, train-frame index (-1: unseen)."""
    return {
        "expression": expression.reshape(1, -1).float().cpu(),
        "identity_idx": torch.tensor([[int(identity)]], dtype=torch.long),
        "frame_idx": torch.tensor([[int(frame)]], dtype=torch.long),
    }


@torch.no_grad()
def render_rgb(model, camera: Cameras, expression: Tensor, identity: int, frame: int = -1) -> Float[Tensor, "H W 3"]:
    """RGB in [0, 1] of ``model`` (a MiNerfModel) for one camera and one condition, on the CPU."""
    camera = Cameras(
        camera_to_worlds=camera.camera_to_worlds.reshape(1, 3, 4),
        fx=camera.fx.reshape(1, 1),
        fy=camera.fy.reshape(1, 1),
        cx=camera.cx.reshape(1, 1),
        cy=camera.cy.reshape(1, 1),
        width=camera.width.reshape(1, 1),
        height=camera.height.reshape(1, 1),
        camera_type=camera.camera_type.reshape(1, 1),
        metadata=condition_metadata(expression, identity, frame),
    )
    outputs = model.get_outputs_for_camera(camera)
    return outputs["rgb"].clamp(0.0, 1.0).cpu()
