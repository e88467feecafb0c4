"""Which Gaussians reach which 16-pixel tile, front to back: the lists the compositor walks."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

TILE_SIZE = 16
"""Pixels on a tile's side (gsplat's default)."""


def tile_grid(width: int, height: int, tile_size: int = TILE_SIZE) -> Tuple[int, int]:
    """Tiles across and down an image."""
    return (width + tile_size - 1) // tile_size, (height + tile_size - 1) // tile_size


@torch.no_grad()
def tile_ranges(
    means2d: Float[Tensor, "N 2"],
    radii: Int[Tensor, " N"],
    tiles_x: int,
    tiles_y: int,
    conics: Optional[Float[Tensor, "N 3"]] = None,
    opacities: Optional[Float[Tensor, " N"]] = None,
    tile_size: int = TILE_SIZE,
) -> Tuple[Int[Tensor, "N 2"], Int[Tensor, "N 2"]]:
    """Each Gaussian's tiles [first, last) in x and y: those its screen square (centre +- radius) touches and, given
    its conic and opacity, that its ellipse of visible alpha (>= 1/255, the compositor's threshold) reaches.

    The second bound changes no pixel (the compositor skips a Gaussian where its alpha is below the threshold) but
    drops the tiles where a faint or elongated Gaussian would only be skipped: on real faces most (Gaussian, tile)
    pairs.
    """
    low = torch.floor((means2d - radii[:, None]) / tile_size).int()
    high = torch.ceil((means2d + radii[:, None]) / tile_size).int()
    visible = radii > 0
    if conics is not None and opacities is not None:
        # alpha = o exp(-q / 2) >= 1/255  <=>  q <= 2 ln(255 o); the ellipse q <= r spans sqrt(r cov_xx) in x.
        reach = (2.0 * torch.log((255.0 * opacities).clamp(min=1.0))) * 1.01 + 1e-3  # a margin for rounding
        a, b, c = conics.unbind(-1)
        det = (a * c - b * b).clamp(min=1e-12)
        half = torch.sqrt((torch.stack([c, a], -1) / det[:, None] * reach[:, None]).clamp(min=0.0))
        low = torch.maximum(low, torch.floor((means2d - half) / tile_size).int())
        high = torch.minimum(high, torch.floor((means2d + half) / tile_size).int() + 1)
        visible &= opacities * 255.0 > 1.0
    limits = torch.tensor([tiles_x, tiles_y], device=means2d.device)
    low = torch.minimum(low.clamp(min=0), limits)
    high = torch.maximum(torch.minimum(high.clamp(min=0), limits), low)
    high = torch.where(visible[:, None], high, low)  # culled Gaussians reach no tile
    return low, high


@torch.no_grad()
def bin_tiles(
    means2d: Float[Tensor, "N 2"],
    radii: Int[Tensor, " N"],
    depths: Float[Tensor, " N"],
    width: int,
    height: int,
    conics: Optional[Float[Tensor, "N 3"]] = None,
    opacities: Optional[Float[Tensor, " N"]] = None,
    tile_size: int = TILE_SIZE,
) -> Tuple[Int[Tensor, " T1"], Int[Tensor, " M"]]:
    """The Gaussians of every tile (``tile_ranges``), nearest first.

    Returns:
        offsets: int32 [tiles + 1]; tile t's Gaussians are ``ids[offsets[t]:offsets[t + 1]]`` (tiles row-major).
        ids: int32 [M], Gaussian indices sorted by tile, then depth.
    """
    tiles_x, tiles_y = tile_grid(width, height, tile_size)
    low, high = tile_ranges(means2d, radii, tiles_x, tiles_y, conics, opacities, tile_size)
    span = high - low
    counts = (span[:, 0] * span[:, 1]).long()
    gaussian = torch.repeat_interleave(torch.arange(len(counts), device=means2d.device), counts)
    # Position of each (Gaussian, tile) pair within its Gaussian's rectangle of tiles.
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(len(gaussian), device=means2d.device) - first[gaussian]
    width_g = span[gaussian, 0].clamp(min=1)
    tile_x = low[gaussian, 0] + local % width_g
    tile_y = low[gaussian, 1] + local // width_g
    tile = tile_y.long() * tiles_x + tile_x.long()
    depth_rank = torch.empty_like(depths, dtype=torch.long)
    depth_rank[torch.argsort(depths)] = torch.arange(len(depths), device=depths.device)
    order = torch.argsort(tile * len(depths) + depth_rank[gaussian])
    ids = gaussian[order].int()
    per_tile = torch.bincount(tile, minlength=tiles_x * tiles_y)
    offsets = torch.zeros(tiles_x * tiles_y + 1, dtype=torch.int32, device=means2d.device)
    offsets[1:] = torch.cumsum(per_tile, 0)
    return offsets, ids
