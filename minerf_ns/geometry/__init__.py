"""Pluggable geometries of the one MI-NeRF model: how rays are sampled and which conditioned field is evaluated.

- ``mlp``: the paper's coarse + fine NeRF MLPs (``mi-nerf``, ``mi-nerf-small``).
- ``triplane``: tri-planes with a small decoder and a proposal pass (``mi-nerf-fast``).
- ``gaussians``: 3D Gaussians bound to the face mesh, deformed by the condition, splatted (``mi-gaussians``).
"""

from minerf_ns.geometry.base import ConditionedField, Geometry, GeometryConfig
from minerf_ns.geometry.gaussians import GaussianGeometry, GaussianGeometryConfig
from minerf_ns.geometry.mlp import MlpGeometry, MlpGeometryConfig
from minerf_ns.geometry.triplane import TriplaneGeometry, TriplaneGeometryConfig

__all__ = [
    "ConditionedField",
    "GaussianGeometry",
    "GaussianGeometryConfig",
    "Geometry",
    "GeometryConfig",
    "MlpGeometry",
    "MlpGeometryConfig",
    "TriplaneGeometry",
    "TriplaneGeometryConfig",
]
