"""Points spread evenly over the ICT-FaceKit head's surface, each bound to its triangle, so that expression
blendshapes move it exactly (the canonical Gaussians of ``mi-gaussians``), and on two rows of teeth the head lacks.
Pure numpy."""

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


TEETH_BEHIND_LIPS = 0.004
"""How far behind the inner lip contour the teeth's front stands, metres."""
TEETH_HEIGHT = 0.010
"""Height of each row of teeth, metres (the lip hides most of it when the mouth is closed)."""
ARCH_DEPTH = 0.015
"""How far back the dental arch curves at the mouth's corners, metres."""


def sample_teeth(model: HeadModel, count: int, seed: int = 0) -> SurfaceSamples:
    """``count`` points on each of two rows of teeth, which the ICT head lacks: curved patches behind the inner lip
    contour (68-point landmarks 60-67), the upper row fixed to the skull, the lower one moved by the jaw blendshapes
    (jaw*) as the middle of the inner lower lip moves with them, and by nothing else.

    Returns:
        The upper row's ``count`` points, then the lower row's (``vertices`` and ``barycentric`` are -1 and 0: they
        lie on no triangle).
    """
    rng = np.random.default_rng(seed)
    landmarks = model.neutral[model.landmark68]
    half_width = 0.5 * abs(landmarks[64, 0] - landmarks[60, 0])
    jaw = np.array([name.startswith("jaw") for name in model.expr_names])
    lower_motion = model.expr_delta[:, model.landmark68[65:68]].mean(axis=1) * jaw[:, None]  # [E, 3]
    positions, bases = [], []
    for edge, direction, motion in ((landmarks[62], 1.0, np.zeros_like(lower_motion)),
                                    (landmarks[66], -1.0, lower_motion)):  # fmt: skip
        x = (rng.random(count) * 2.0 - 1.0) * half_width
        height = rng.random(count) * TEETH_HEIGHT
        z = edge[2] - TEETH_BEHIND_LIPS - ARCH_DEPTH * (x / half_width) ** 2
        y = edge[1] + direction * height  # upwards from the upper incisal edge, downwards from the lower
        positions.append(np.stack([x, y, z], axis=-1))
        bases.append(np.repeat(motion[:, None], count, axis=1))
    area = 2 * (2 * half_width) * TEETH_HEIGHT
    return SurfaceSamples(
        vertices=np.full((2 * count, 3), -1, dtype=np.int64),
        barycentric=np.zeros((2 * count, 3), dtype=np.float32),
        positions=np.concatenate(positions).astype(np.float32),
        expression_basis=np.concatenate(bases, axis=1).astype(np.float32),
        spacing=float(np.sqrt(area / (2 * count))),
    )
