"""Render a trained MI-NeRF model for an explicit (identity, expression, latent frame, camera): the building block of
the demo, transfer renders and evaluations."""

from __future__ import annotations

from typing import Dict, Optional

import torch
from jaxtyping import Float
from torch import Tensor

from nerfstudio.cameras.cameras import Cameras, CameraType


def condition_metadata(expression: Tensor, identity: int, frame: int = -1) -> Dict[str, Tensor]:
    """Camera metadata that fixes the condition: expression [d], identity index, train-frame index (-1: unseen)."""
    return {
        "expression": expression.reshape(1, -1).float().cpu(),
        "identity_idx": torch.tensor([[int(identity)]], dtype=torch.long),
        "frame_idx": torch.tensor([[int(frame)]], dtype=torch.long),
    }


def make_camera(
    camera_to_world: Float[Tensor, "3 4"],
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    height: int,
    width: int,
    metadata: Optional[Dict[str, Tensor]] = None,
) -> Cameras:
    """One pinhole camera (float32), optionally carrying a condition from ``condition_metadata``."""
    return Cameras(
        camera_to_worlds=camera_to_world[None, :3, :4].float().cpu(),
        fx=float(fx),
        fy=float(fy),
        cx=float(cx),
        cy=float(cy),
        width=int(width),
        height=int(height),
        camera_type=CameraType.PERSPECTIVE,
        metadata=metadata,
    )


@torch.no_grad()
def render_rgb(model, camera: Cameras) -> Float[Tensor, "H W 3"]:
    """RGB in [0, 1] of ``model`` (a MiNerfModel) for one camera, on the CPU."""
    return model.get_outputs_for_camera(camera)["rgb"].clamp(0.0, 1.0).cpu()
