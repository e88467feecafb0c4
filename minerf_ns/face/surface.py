"""Points spread evenly over the ICT-FaceKit head's surface, each bound to its triangle, so that expression
blendshapes move it exactly (the canonical Gaussians of ``mi-gaussians``). Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from minerf_ns.face.head_model import HeadModel

SURFACE_PARTS = ("face", "head_neck", "mouth_socket", "eyeball_left", "eyeball_right")
"""The parts that can be seen: skin, the inside of the mouth (teeth and tongue sit there), the eyes."""


@dataclass(frozen=True)
class SurfaceSamples:
    """Points on the head's triangles."""

    vertices: Int[np.ndarray, "N 3"]
    """The vertex indices of each point's triangle."""
    barycentric: Float[np.ndarray, "N 3"]
    """Its barycentric coordinates in that triangle."""
    positions: Float[np.ndarray, "N 3"]
    """Its place on the neutral head, metres."""
    expression_basis: Float[np.ndarray, "E N 3"]
    """How each expression blendshape moves it (weights . basis = its displacement)."""
    spacing: float
    """The mean distance between neighbouring points on the surface (sqrt of area per point), metres."""


def sample_surface(model: HeadModel, count: int, seed: int = 0) -> SurfaceSamples:
    """``count`` points spread over the visible parts' triangles in proportion to their area."""
    parts = [model.part_names.index(name) for name in SURFACE_PARTS]
    triangles = model.triangles[np.isin(model.part[model.triangles[:, 0]], parts)]
    corners = model.neutral[triangles]  # [T, 3, 3]
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=-1)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(triangles), size=count, p=areas / areas.sum())
    # Uniform over a triangle: fold the unit square's upper half back onto the lower.
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    barycentric = np.stack([1 - u - v, u, v], -1).astype(np.float32)
    vertex_ids = triangles[chosen]  # [N, 3]
    positions = np.einsum("nk,nkc->nc", barycentric, model.neutral[vertex_ids])
    basis = np.einsum("nk,enkc->enc", barycentric, model.expr_delta[:, vertex_ids])
    return SurfaceSamples(
        vertices=vertex_ids,
        barycentric=barycentric,
        positions=positions.astype(np.float32),
        expression_basis=basis.astype(np.float32),
        spacing=float(np.sqrt(areas.sum() / count)),
    )
