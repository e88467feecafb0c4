"""EWA projection of 3D Gaussians into one pinhole camera (gsplat 1.4's conventions, differentiable by autograd)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

LOW_PASS = 0.3
"""Added to both diagonal entries of every projected covariance (pixels^2): no Gaussian is thinner than a pixel."""
SIGMAS = 3.0
"""A Gaussian's screen radius in standard deviations of its widest axis; it reaches no tile beyond it."""
FRUSTUM_SLACK = 0.3
"""The Jacobian is evaluated no further than this share of the half field of view outside the image (a Gaussian far
off-screen would otherwise blow up)."""


@dataclass
class Projection:
    """Gaussians in screen space."""

    means2d: Float[Tensor, "N 2"]
    """Centres in pixels (x right, y down; a pixel's centre is at +0.5)."""
    conics: Float[Tensor, "N 3"]
    """The inverse 2D covariance [[a, b], [b, c]] as (a, b, c)."""
    depths: Float[Tensor, " N"]
    """Camera-space z of the centres."""
    radii: Int[Tensor, " N"]
    """Screen radius in pixels; 0 for Gaussians behind the near plane, degenerate or off-screen."""


def rotations(quats: Float[Tensor, "N 4"]) -> Float[Tensor, "N 3 3"]:
    """Rotation matrices of (w, x, y, z) quaternions, normalised first."""
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, -1).view(-1, 3, 3)


def covariances(quats: Float[Tensor, "N 4"], scales: Float[Tensor, "N 3"]) -> Float[Tensor, "N 3 3"]:
    """R S S^T R^T of each Gaussian."""
    axes = rotations(quats) * scales[:, None, :]
    return axes @ axes.transpose(1, 2)


def project(
    means: Float[Tensor, "N 3"],
    quats: Float[Tensor, "N 4"],
    scales: Float[Tensor, "N 3"],
    viewmat: Float[Tensor, "4 4"],
    intrinsics: Float[Tensor, "3 3"],
    width: int,
    height: int,
    near: float = 0.01,
    far: float = 1e10,
) -> Projection:
    """Project world-space Gaussians into a camera.

    Args:
        means, quats, scales: the Gaussians (quaternions w, x, y, z; scales are standard deviations, not logs).
        viewmat: world-to-camera transform, OpenCV axes.
        intrinsics: the pinhole matrix K.
        width, height: the image size in pixels.
        near, far: Gaussians whose centre's depth is outside (near, far) are culled.
    """
    rotation, translation = viewmat[:3, :3], viewmat[:3, 3]
    centres = means @ rotation.T + translation
    cov = rotation @ covariances(quats, scales) @ rotation.T
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    x, y, z = centres.unbind(-1)
    # The Jacobian of the perspective division at the centre, clamped to a little beyond the image.
    slack_x, slack_y = FRUSTUM_SLACK * 0.5 * width / fx, FRUSTUM_SLACK * 0.5 * height / fy
    xc = z * torch.clamp(x / z, min=-(cx / fx + slack_x), max=(width - cx) / fx + slack_x)
    yc = z * torch.clamp(y / z, min=-(cy / fy + slack_y), max=(height - cy) / fy + slack_y)
    zero = torch.zeros_like(z)
    jacobian = torch.stack([fx / z, zero, -fx * xc / z**2, zero, fy / z, -fy * yc / z**2], -1).view(-1, 2, 3)
    cov2d = jacobian @ cov @ jacobian.transpose(1, 2) + LOW_PASS * torch.eye(2, dtype=means.dtype, device=means.device)
    a, b, c = cov2d[:, 0, 0], 0.5 * (cov2d[:, 0, 1] + cov2d[:, 1, 0]), cov2d[:, 1, 1]
    det = (a * c - cov2d[:, 0, 1] * cov2d[:, 1, 0]).clamp(min=1e-10)
    conics = torch.stack([c / det, -b / det, a / det], -1)
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], -1)
    with torch.no_grad():
        half_trace = 0.5 * (a + c)
        largest = half_trace + torch.sqrt(torch.clamp(half_trace**2 - det, min=0.01))
        radius = torch.ceil(SIGMAS * torch.sqrt(largest))
        visible = (det > 0) & (z > near) & (z < far)
        visible &= (means2d[:, 0] + radius > 0) & (means2d[:, 0] - radius < width)
        visible &= (means2d[:, 1] + radius > 0) & (means2d[:, 1] - radius < height)
        radii = torch.where(visible, radius, torch.zeros_like(radius)).int()
    return Projection(means2d=means2d, conics=conics, depths=z, radii=radii)
