"""An occupancy grid over the head box (pure torch): which cells can hold density, so that rendering skips the
samples, and whole rays, that lie in empty space.

The grid is conservative: a cell is occupied when the density at its centre exceeds a small threshold for any of the
conditions it was computed for, and occupied cells are grown by one cell on every side. Until it is computed every cell
counts as occupied, so skipping never changes a render it has no grid for.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn


class OccupancyGrid(nn.Module):
    """A boolean [R, R, R] grid over [-1, 1]^3 (positions normalised by the head box).

    Args:
        resolution: cells per side.
    """

    def __init__(self, resolution: int = 32) -> None:
        super().__init__()
        self.resolution = int(resolution)
        r = self.resolution
        self.register_buffer("occupied", torch.ones(r, r, r, dtype=torch.bool))
        self.register_buffer("computed_at", torch.tensor(-1, dtype=torch.long))
        """The training step the grid was computed at; -1: never (every cell counts as occupied)."""

    @property
    def ready(self) -> bool:
        """True once the grid has been computed."""
        return int(self.computed_at) >= 0

    def cell_centres(self) -> Float[Tensor, "C 3"]:
        """The centre of every cell in [-1, 1]^3, in the grid's (x, y, z) index order."""
        r = self.resolution
        axis = (torch.arange(r, device=self.occupied.device, dtype=torch.float32) + 0.5) / r * 2.0 - 1.0
        return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)

    @torch.no_grad()
    def update(
        self, density: Callable[[Tensor], Tensor], threshold: float, step: int, dilation: int = 1, chunk: int = 65536
    ) -> None:
        """Recompute the grid.

        Args:
            density: the largest density over the conditions of interest at points [N, 3] -> [N].
            threshold: a cell is occupied where that density exceeds this.
            step: the training step, recorded in ``computed_at``.
            dilation: occupied cells grow by this many cells on every side.
            chunk: points evaluated at once.
        """
        centres = self.cell_centres()
        values = torch.cat([density(centres[k : k + chunk]) for k in range(0, len(centres), chunk)])
        grid = (values > threshold).reshape(1, 1, *self.occupied.shape).float()
        if dilation > 0:
            grid = F.max_pool3d(grid, kernel_size=2 * dilation + 1, stride=1, padding=dilation)
        self.occupied.copy_(grid[0, 0] > 0)
        self.computed_at.fill_(int(step))

    def lookup(self, x: Float[Tensor, "*bs 3"]) -> Bool[Tensor, "*bs"]:
        """Whether each normalised position lies in an occupied cell (False outside [-1, 1]^3)."""
        r = self.resolution
        inside = (x.abs() <= 1.0).all(dim=-1)
        cells = ((x + 1.0) * (0.5 * r)).long().clamp(0, r - 1)
        return inside & self.occupied[cells[..., 0], cells[..., 1], cells[..., 2]]

    @property
    def occupied_fraction(self) -> float:
        return float(self.occupied.float().mean())
