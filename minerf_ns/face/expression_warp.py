"""The face model's expression motion as a warp of 3D space (pure torch): a sample at x of a frame with expression e
is looked up by the field at x - D(x) e, where D(x) is how the ICT-FaceKit mean head's surface near x moves per unit
of each blendshape. The expression then moves the geometry explicitly (INSTA's idea: a tracked mesh carries samples
into a canonical space), so an open jaw opens the rendered mouth whoever's expression it is, and the field's
condition is left with what the mesh does not say (the inside of the mouth, skin, identity).

Only the jaw and mouth blendshapes move samples (what speech moves; the eyes and brows stay with the condition).
D is built once: each vertex's displacement per blendshape is splatted on a grid over the box those blendshapes move
(plus a margin), blurred with a Gaussian of ``smoothing`` metres, divided by the splatted vertex density, and faded
to zero where no surface is near. The 27 x 3 displacement fields are compressed to their ``modes`` leading singular
vectors (8 hold 95% of the motion), so a sample reads ``modes`` x 3 channels and the ray's expression selects a mix
of them once per ray; samples outside the box are not looked up at all (most of a ray's samples).

The warp is first-order: D is read at the sample's own (deformed) position, not solved for the canonical one; within
the 1-2 cm that speech moves the jaw, the blur makes the two close.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.face.head_model import HeadModel, load_head_model

MOVING_BLENDSHAPES = ("jaw", "mouth")
"""Name prefixes of the blendshapes that warp space."""
MOVING_THRESHOLD = 0.002
"""A vertex that one of them moves by more than this (metres) sets the warped box."""
MARGIN = 0.01
"""The box grows by this on every side (metres): the blur's reach."""


def _blur(volume: Float[Tensor, "C Z Y X"], sigma_cells: float) -> Float[Tensor, "C Z Y X"]:
    """A separable 3D Gaussian blur of every channel."""
    radius = max(1, int(math.ceil(3.0 * sigma_cells)))
    taps = torch.arange(-radius, radius + 1, dtype=volume.dtype)
    kernel = torch.exp(-0.5 * (taps / sigma_cells) ** 2)
    kernel = kernel / kernel.sum()
    out = volume[:, None]  # [C, 1, Z, Y, X]
    for axis in range(3):
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = len(taps)
        padding = [0, 0, 0]
        padding[axis] = radius
        out = F.conv3d(out, kernel.view(shape), padding=tuple(padding))
    return out[:, 0]


def warped_box(model: HeadModel, moving: np.ndarray) -> Float[Tensor, "2 3"]:
    """The box the ``moving`` blendshapes move vertices in, grown by the margin."""
    motion = np.linalg.norm(model.expr_delta[moving], axis=2).max(axis=0)
    vertices = model.neutral[motion > MOVING_THRESHOLD]
    return torch.tensor(np.stack([vertices.min(0) - MARGIN, vertices.max(0) + MARGIN]), dtype=torch.float32)


def displacement_modes(
    model: HeadModel, box: Float[Tensor, "2 3"], cell: float, smoothing: float, modes: int, moving: np.ndarray
) -> tuple[Float[Tensor, "J3 Z Y X"], Float[Tensor, "E J"]]:
    """The ``moving`` blendshapes' displacement field on a grid of ``cell`` metres over ``box``, as ``modes`` fields
    and the mix of them that each blendshape moves by: D(x) e = sum_j (e @ mixing)_j field_j(x).

    Returns:
        fields [modes * 3, Z, Y, X] (mode-major, xyz minor; grid_sample's volume order) and mixing [E, modes] (zero
        rows for the blendshapes that do not move space).
    """
    low, high = box[0].double(), box[1].double()
    size = ((high - low) / cell).ceil().long() + 1  # cells per axis (x, y, z)
    vertices = torch.from_numpy(model.neutral).double()
    delta = torch.from_numpy(model.expr_delta[moving]).double()  # [K, V, 3]
    cells = (vertices - low) / (high - low) * (size - 1)  # grid coordinates (x, y, z)
    inside = ((cells >= 0) & (cells <= size - 1)).all(dim=1)
    cells, delta = cells[inside], delta[:, inside]
    count = delta.shape[0]
    values = torch.cat([delta.permute(1, 0, 2).reshape(len(cells), -1), torch.ones(len(cells), 1).double()], dim=1)
    nx, ny, nz = size.tolist()
    grid = torch.zeros(values.shape[1], nz * ny * nx, dtype=torch.float64)
    base = torch.minimum(cells.floor().long(), size - 2)
    frac = cells - base
    for corner in range(8):  # trilinear splat
        offset = torch.tensor([(corner >> 0) & 1, (corner >> 1) & 1, (corner >> 2) & 1])
        weight = torch.where(offset.bool(), frac, 1.0 - frac).prod(dim=1)
        x, y, z = (base + offset).unbind(dim=1)
        grid.index_add_(1, (z * ny + y) * nx + x, (values * weight[:, None]).T)
    grid = _blur(grid.view(-1, nz, ny, nx), smoothing / cell)
    density = grid[-1]
    # Where fewer than this fraction of the densest cell's vertices are near, fade the motion out (no surface).
    fade = (density / (0.05 * density.max())).clamp(max=1.0)
    motion = grid[:-1] / density.clamp(min=1e-12) * fade  # [K * 3, Z, Y, X]
    u, s, vh = torch.linalg.svd(motion.reshape(count, -1), full_matrices=False)
    modes = min(modes, len(s))
    fields = vh[:modes].reshape(modes * 3, nz, ny, nx)
    mixing = torch.zeros(model.expr_delta.shape[0], modes, dtype=torch.float64)
    mixing[torch.from_numpy(moving)] = u[:, :modes] * s[:modes]
    return fields.float(), mixing.float()


@lru_cache(maxsize=2)
def mean_head_modes(cell: float, smoothing: float, modes: int) -> tuple[Tensor, Tensor, Tensor]:
    """The warped box, fields and mixing of the mean ICT-FaceKit head (built once a process: a few seconds)."""
    model = load_head_model()
    moving = np.array([k for k, name in enumerate(model.expr_names) if name.startswith(MOVING_BLENDSHAPES)])
    box = warped_box(model, moving)
    return (box, *displacement_modes(model, box, cell, smoothing, modes, moving))


class ExpressionWarp(nn.Module):
    """x -> x - D(x) e for samples whose rays carry the frame's expression e (ICT-FaceKit weights), D from the mean
    ICT-FaceKit head.

    Args:
        cell: grid cell size, metres.
        smoothing: standard deviation of the blur, metres.
        modes: singular modes kept of the displacement fields.
    """

    def __init__(self, cell: float = 0.004, smoothing: float = 0.006, modes: int = 8) -> None:
        super().__init__()
        box, fields, mixing = mean_head_modes(cell, smoothing, modes)
        # Rebuilt from the face model whenever the geometry is built: not saved in checkpoints.
        self.register_buffer("fields", fields[None], persistent=False)  # [1, J * 3, Z, Y, X]
        self.register_buffer("mixing", mixing, persistent=False)  # [E, J]
        self.register_buffer("box", box, persistent=False)

    @torch.no_grad()
    def forward(self, positions: Float[Tensor, "*bs 3"], expression: Float[Tensor, "*bs E"]) -> Float[Tensor, "*bs 3"]:
        """The canonical positions of samples (world units) given their ray's expression (broadcast against them).
        No gradient: positions are not learnt."""
        normalised = (positions - self.box[0]) / (self.box[1] - self.box[0]) * 2.0 - 1.0
        inside = (normalised.abs() < 1.0).all(dim=-1)
        index = torch.nonzero(inside, as_tuple=True)
        if len(index[0]) == 0:
            return positions
        # The mix of modes once per ray (the expression broadcasts over its samples), then gathered per sample.
        weights = (expression.to(self.mixing) @ self.mixing).expand(*positions.shape[:-1], -1)[index]  # [P, J]
        # grid_sample reads (x, y, z) against a (z, y, x) volume: our fields are stored that way.
        lookup = F.grid_sample(self.fields, normalised[index].view(1, -1, 1, 1, 3), align_corners=True)
        per_mode = lookup.view(-1, 3, len(weights)).permute(2, 0, 1)  # [P, J, 3]
        out = positions.clone()
        out[index] -= torch.einsum("pjc,pj->pc", per_mode, weights)
        return out
