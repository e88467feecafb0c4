"""Encodings of points and directions (pure torch, no nerfstudio; the same code on a laptop CPU and a GPU).

- ``PaperPositionalEncoding``: the paper's gamma(x) = [x, sin(2^k x), cos(2^k x)], k = 0..L-1. MI-NeRF follows
  NeRFace/AD-NeRF, whose embedder uses frequencies 2^k with no 2*pi factor and includes the input; nerfstudio's
  ``NeRFEncoding`` multiplies by 2*pi and has no sin/cos pairing of the same kind, so we keep our own.
- ``TriPlaneEncoding``: multi-resolution tri-plane features, the grid of the tri-plane geometry. A point x in
  [-1, 1]^3 is projected onto the xy, xz and yz planes of every level; each plane is a learned [C, R, R] image
  sampled bilinearly. The features of the three planes are multiplied (as in K-Planes, which keeps them
  axis-aligned and lets a plane be 'off' by being near zero) and the levels concatenated. Plain ``grid_sample``
  instead of a CUDA hash grid.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

PLANE_AXES = ((0, 1), (0, 2), (1, 2))
"""The coordinate pairs of the xy, xz and yz planes."""


class PaperPositionalEncoding(nn.Module):
    """gamma(x) with ``num_frequencies`` octaves starting at 2^0, the input included."""

    def __init__(self, in_dim: int, num_frequencies: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.register_buffer("freqs", 2.0 ** torch.arange(num_frequencies, dtype=torch.float32), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (1 + 2 * self.freqs.numel())

    def forward(self, x: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        scaled = (x[..., None, :] * self.freqs[:, None]).flatten(-2)
        return torch.cat([x, torch.sin(scaled), torch.cos(scaled)], dim=-1)


class TriPlaneEncoding(nn.Module):
    """Features of points in [-1, 1]^3 from multi-resolution tri-planes.

    Args:
        resolutions: side R of the planes of each level.
        channels: features C per plane and level.
        init_range: planes start uniform in [1 - r, 1 + r] so that the product of three planes starts near 1.
    """

    def __init__(self, resolutions: Sequence[int] = (32, 64, 128), channels: int = 8, init_range: float = 0.1) -> None:
        super().__init__()
        self.resolutions = tuple(int(r) for r in resolutions)
        self.channels = int(channels)
        self.planes = nn.ParameterList(
            nn.Parameter(torch.empty(3, self.channels, r, r).uniform_(1.0 - init_range, 1.0 + init_range))
            for r in self.resolutions
        )

    @property
    def out_dim(self) -> int:
        return self.channels * len(self.resolutions)

    def forward(self, x: Float[Tensor, "*bs 3"]) -> Float[Tensor, "*bs out"]:
        flat = x.reshape(-1, 3)
        # grid_sample wants [planes, 1, N, 2] with (u, v) = (width, height) coordinates.
        coords = torch.stack([flat[:, list(axes)] for axes in PLANE_AXES])[:, None]
        levels = []
        for planes in self.planes:
            sampled = F.grid_sample(planes, coords, mode="bilinear", padding_mode="border", align_corners=True)
            levels.append(sampled[:, :, 0].prod(dim=0).transpose(0, 1))  # [N, C]
        return torch.cat(levels, dim=-1).reshape(*x.shape[:-1], self.out_dim)

    def total_variation(self) -> Tensor:
        """Mean squared difference of neighbouring plane texels over all levels (smoothness prior)."""
        loss = torch.zeros((), device=self.planes[0].device)
        for planes in self.planes:
            loss = loss + (planes[..., 1:, :] - planes[..., :-1, :]).square().mean()
            loss = loss + (planes[..., :, 1:] - planes[..., :, :-1]).square().mean()
        return loss / len(self.planes)
