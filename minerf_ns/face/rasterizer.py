"""A small vectorised z-buffer triangle rasteriser in numpy.

Cameras follow nerfstudio's OpenGL convention (x right, y up, looking along -z) and sample each pixel at its centre,
so pixel ``(row i, column j)`` sees the point that projects to ``u = j + 0.5, v = i + 0.5`` with
``u = cx + fx * x / -z`` and ``v = cy - fy * y / -z``: exactly the rays nerfstudio casts for the same intrinsics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int


@dataclass
class Fragments:
    """What each pixel sees: the nearest triangle, perspective-correct barycentrics and depth."""

    triangle: Int[np.ndarray, "H W"]
    """Index of the visible triangle, -1 where the pixel sees nothing."""
    barycentric: Float[np.ndarray, "H W 3"]
    """Perspective-correct barycentric weights of the triangle's three vertices (zero where empty)."""
    depth: Float[np.ndarray, "H W"]
    """Distance along -z to the surface, +inf where empty."""

    @property
    def coverage(self) -> np.ndarray:
        """Boolean mask of the covered pixels."""
        return self.triangle >= 0

    def interpolate(self, values: Float[np.ndarray, "V C"], triangles: Int[np.ndarray, "T 3"]) -> np.ndarray:
        """Interpolate per-vertex values over the image (zero where empty)."""
        tri = np.where(self.coverage, self.triangle, 0)
        corner_values = values[triangles[tri]]  # H W 3 C
        out = np.einsum("hwk,hwkc->hwc", self.barycentric, corner_values)
        out[~self.coverage] = 0.0
        return out


def project(
    points_cam: Float[np.ndarray, "N 3"], fx: float, fy: float, cx: float, cy: float
) -> tuple[np.ndarray, np.ndarray]:
    """Project camera-frame points to pixel coordinates (u, v) and positive depth."""
    depth = -points_cam[:, 2]
    safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
    u = cx + fx * points_cam[:, 0] / safe
    v = cy - fy * points_cam[:, 1] / safe
    return np.stack([u, v], axis=-1), depth


def rasterize(
    points_cam: Float[np.ndarray, "V 3"],
    triangles: Int[np.ndarray, "T 3"],
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    height: int,
    width: int,
) -> Fragments:
    """Rasterise a triangle mesh given in camera coordinates.

    Args:
        points_cam: vertices in the camera frame (OpenGL: the camera looks along -z).
        triangles: vertex indices of each triangle.
        fx, fy, cx, cy: pinhole intrinsics in pixels.
        height, width: image size.

    Returns:
        The per-pixel fragments.
    """
    uv, depth = project(points_cam, fx, fy, cx, cy)
    tri_uv = uv[triangles]  # T 3 2
    tri_depth = depth[triangles]  # T 3
    # Candidate pixel columns/rows whose centres may fall in the triangle.
    j0 = np.ceil(tri_uv[..., 0].min(1) - 0.5).astype(np.int64)
    j1 = np.floor(tri_uv[..., 0].max(1) - 0.5).astype(np.int64)
    i0 = np.ceil(tri_uv[..., 1].min(1) - 0.5).astype(np.int64)
    i1 = np.floor(tri_uv[..., 1].max(1) - 0.5).astype(np.int64)
    j0, i0 = np.maximum(j0, 0), np.maximum(i0, 0)
    j1, i1 = np.minimum(j1, width - 1), np.minimum(i1, height - 1)
    keep = (tri_depth.min(1) > 1e-6) & (j1 >= j0) & (i1 >= i0)
    extent = np.maximum(j1 - j0, i1 - i0) + 1

    pix_all, depth_all, tri_all, bary_all = [], [], [], []
    size = 1
    while True:
        sel = np.nonzero(keep & (extent <= size) & (extent > size // 2))[0]
        if sel.size:
            oy, ox = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
            jj = j0[sel, None] + ox.reshape(1, -1)
            ii = i0[sel, None] + oy.reshape(1, -1)
            valid = (jj <= j1[sel, None]) & (ii <= i1[sel, None])
            px, py = jj + 0.5, ii + 0.5
            a, b, c = tri_uv[sel, 0], tri_uv[sel, 1], tri_uv[sel, 2]
            area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
            ok_area = np.abs(area) > 1e-12
            area = np.where(ok_area, area, 1.0)[:, None]
            w0 = ((b[:, None, 0] - px) * (c[:, None, 1] - py) - (b[:, None, 1] - py) * (c[:, None, 0] - px)) / area
            w1 = ((c[:, None, 0] - px) * (a[:, None, 1] - py) - (c[:, None, 1] - py) * (a[:, None, 0] - px)) / area
            w2 = 1.0 - w0 - w1
            inside = valid & ok_area[:, None] & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
            rows, cols = np.nonzero(inside)
            if rows.size:
                bary = np.stack([w0[rows, cols], w1[rows, cols], w2[rows, cols]], axis=-1)
                inv_z = bary / tri_depth[sel[rows]]
                z = 1.0 / inv_z.sum(-1)
                pix_all.append(ii[rows, cols] * width + jj[rows, cols])
                depth_all.append(z)
                tri_all.append(sel[rows])
                bary_all.append(inv_z * z[:, None])
        if size >= max(height, width) or not np.any(keep & (extent > size)):
            break
        size *= 2

    triangle = np.full(height * width, -1, dtype=np.int64)
    out_depth = np.full(height * width, np.inf, dtype=np.float64)
    out_bary = np.zeros((height * width, 3), dtype=np.float64)
    if pix_all:
        pix = np.concatenate(pix_all)
        dep = np.concatenate(depth_all)
        order = np.lexsort((dep, pix))
        pix_sorted = pix[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = pix_sorted[1:] != pix_sorted[:-1]
        winners = order[first]
        triangle[pix[winners]] = np.concatenate(tri_all)[winners]
        out_depth[pix[winners]] = dep[winners]
        out_bary[pix[winners]] = np.concatenate(bary_all)[winners]
    return Fragments(
        triangle=triangle.reshape(height, width),
        barycentric=out_bary.reshape(height, width, 3),
        depth=out_depth.reshape(height, width),
    )
