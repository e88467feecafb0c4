"""The FaceMesh-landmark -> ICT-FaceKit surface map: each of the 468 landmarks is a barycentric point on one ICT
triangle, so a head's landmarks follow its identity and expression weights exactly.

Built once by ``python -m minerf_ns.tracking.build_landmark_map`` (FaceMesh run on synthetic ICT renders whose
geometry is known) and shipped as ``models/facemesh_to_ict.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from jaxtyping import Float, Int

from minerf_ns.face.head_model import HeadModel

MAP_FILE = "facemesh_to_ict.npz"

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
    136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
"""FaceMesh's face-oval landmarks: silhouette points, whose surface point moves with the view (weighted down)."""


SPREAD_SCALE_MM = 1.5
"""Landmarks whose map spread is this large get half weight."""


@dataclass(frozen=True)
class LandmarkMap:
    """Barycentric positions of the 468 FaceMesh landmarks on the ICT mesh."""

    vertex_ids: Int[np.ndarray, "468 3"]
    barycentric: Float[np.ndarray, "468 3"]
    spread_mm: Float[np.ndarray, " 468"]
    """How far the landmark's surface hits scattered when the map was built (median, mm): its reliability."""

    def points(self, vertices: Float[np.ndarray, "*B V 3"]) -> Float[np.ndarray, "*B 468 3"]:
        """The landmarks' 3D positions on a mesh (or a basis of vertex offsets) with ICT topology."""
        corners = vertices[..., self.vertex_ids, :]  # *B 468 3 3
        return np.einsum("lk,...lkc->...lc", self.barycentric, corners)

    def basis(self, model: HeadModel, identity_delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Neutral landmarks [468, 3], identity offsets [I, 468, 3], expression offsets [E, 468, 3] (metres).

        Args:
            model: the head model.
            identity_delta: the identity modes to use [I, V, 3] (the tracker passes ``rigid_free_identity``).
        """
        return self.points(model.neutral), self.points(identity_delta), self.points(model.expr_delta)

    def weights(self) -> Float[np.ndarray, " 468"]:
        """Fitting weight of each landmark: face-oval points 0.3, others 1, divided by ``1 + (spread / 1.5 mm)^2``."""
        weight = np.ones(len(self.spread_mm))
        weight[list(FACE_OVAL)] = 0.3
        return weight / (1.0 + (self.spread_mm / SPREAD_SCALE_MM) ** 2)


@lru_cache(maxsize=1)
def load_landmark_map() -> LandmarkMap:
    """The shipped map (cached)."""
    with resources.files(__package__).joinpath("models", MAP_FILE).open("rb") as handle:
        data = np.load(handle)
        return LandmarkMap(
            vertex_ids=data["vertex_ids"].astype(np.int64),
            barycentric=data["barycentric"].astype(np.float64),
            spread_mm=data["spread_mm"].astype(np.float64),
        )
