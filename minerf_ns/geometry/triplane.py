"""The tri-plane geometry (``mi-nerf-fast``): tri-plane features of x + [M(e, i), l] -> small MLP -> density,
feature -> colour, rendered with a cheap proposal pass through the same field.

Paper appendix D puts the interaction module on a grid-based NeRF (INSTA); this is the plain-torch analogue: the
tri-planes hold what all identities share, the small decoder turns them into one identity's face with one expression
via the condition. Positions are normalised by the head box, so every sample of a ray that the box clips is on a grid.

Sampling: a proposal pass evaluates the field's density without gradients at uniform samples between the near and
far planes; its weights place PDF samples, which are merged with the proposal samples (so the last sample is still
the far plane, where the background pixel sits) and rendered with gradients. With no proposal samples the geometry
renders stratified uniform samples only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple, Type

import torch
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.compositing import Composite, composite
from minerf_ns.encodings import TriPlaneEncoding
from minerf_ns.geometry.base import ConditionedField, Geometry, GeometryConfig, split_linear
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler

MAX_LOG_DENSITY = 15.0
"""Cap of the raw density output: exp(14) ~ 1e6 is opaque over any interval of a head-sized scene."""
FEATURE_DIM = 15
"""Size of the geometry feature the density decoder hands to the colour head."""


def mlp(in_dim: int, hidden_dim: int, num_layers: int, out_dim: int) -> nn.Sequential:
    """``num_layers`` ReLU layers of ``hidden_dim``, then a linear output."""
    layers: List[nn.Module] = []
    for k in range(num_layers):
        layers += [nn.Linear(in_dim if k == 0 else hidden_dim, hidden_dim), nn.ReLU()]
    layers.append(nn.Linear(hidden_dim if num_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class TriplaneField(ConditionedField):
    """Tri-plane field conditioned on a per-ray vector.

    Args:
        condition_dim: size of [M(e, i), l].
        aabb: [2, 3] head box; positions are mapped from it to [-1, 1]^3.
        resolutions: tri-plane side per level.
        channels: features per plane and level.
        hidden_dim: width of the density decoder and the colour head.
        num_layers: hidden layers of the density decoder (the colour head has one).
        direction_frequencies: octaves of gamma(v).
    """

    def __init__(
        self,
        condition_dim: int,
        aabb: Tensor,
        resolutions: Sequence[int] = (32, 64, 128),
        channels: int = 8,
        hidden_dim: int = 64,
        num_layers: int = 2,
        direction_frequencies: int = 4,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb.float().clone(), persistent=False)
        self.grid = TriPlaneEncoding(resolutions, channels)
        self.density_decoder = mlp(self.grid.out_dim + condition_dim, hidden_dim, num_layers, 1 + FEATURE_DIM)
        self.build_color_head(FEATURE_DIM, direction_frequencies, 1, hidden_dim)

    def normalized_positions(self, positions: Float[Tensor, "*bs 3"]) -> Float[Tensor, "*bs 3"]:
        """Positions mapped from the head box to [-1, 1]^3."""
        low, high = self.aabb[0], self.aabb[1]
        return (positions - low) / (high - low) * 2.0 - 1.0

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, Tensor]:
        x = self.normalized_positions(ray_samples.frustums.get_positions())
        first, rest = self.density_decoder[0], self.density_decoder[1:]
        raw = rest(split_linear(first, (self.grid(x), self.condition(ray_samples))))
        inside = (x.abs() <= 1.0).all(dim=-1, keepdim=True)
        # trunc_exp as nerfstudio's grid fields (nerfacto), capped so it never overflows; nothing outside the head box
        # (torch.where, not a product: inf * 0 would be NaN).
        density = torch.where(inside, trunc_exp(raw[..., :1].clamp(max=MAX_LOG_DENSITY) - 1.0), 0.0)
        return density, raw[..., 1:]


@dataclass
class TriplaneGeometryConfig(GeometryConfig):
    """Tri-planes and a small conditioned decoder, rendered with a proposal pass through the same field."""

    _target: Type = field(default_factory=lambda: TriplaneGeometry)
    num_proposal_samples: int = 24
    """Uniform samples per ray evaluated without gradients to place the PDF samples (0: no proposal pass)."""
    num_samples: int = 32
    """Samples per ray rendered with gradients: PDF samples after a proposal pass, else stratified uniform ones."""
    plane_resolutions: Tuple[int, ...] = (32, 64, 128)
    """Side of the tri-planes of each level."""
    plane_channels: int = 8
    """Features per plane and level."""
    decoder_dim: int = 64
    """Width of the density decoder and the colour head."""
    decoder_layers: int = 2
    """Hidden layers of the density decoder."""
    plane_tv_mult: float = 1e-4
    """Weight of the tri-planes' total variation."""


class TriplaneGeometry(Geometry):
    """A density-only proposal pass (no gradients), then the supervised pass at PDF samples, one tri-plane field."""

    config: TriplaneGeometryConfig
    pass_names = ("fine",)
    supervised_passes = ("fine",)

    def __init__(self, config: TriplaneGeometryConfig, condition_dim: int, aabb: Tensor) -> None:
        super().__init__(config, condition_dim, aabb)
        self.field = TriplaneField(
            condition_dim,
            aabb,
            resolutions=config.plane_resolutions,
            channels=config.plane_channels,
            hidden_dim=config.decoder_dim,
            num_layers=config.decoder_layers,
            direction_frequencies=config.direction_frequencies,
        )
        proposal = config.num_proposal_samples
        self.sampler_uniform = UniformSampler(num_samples=proposal if proposal > 0 else config.num_samples)
        self.sampler_pdf = PDFSampler(num_samples=config.num_samples, include_original=True)

    def forward(self, rays: RayBundle, background: Tensor) -> Dict[str, Composite]:
        samples = self.sampler_uniform(rays)
        if self.config.num_proposal_samples > 0:
            with torch.no_grad():
                proposal = composite(samples, self.field.get_density(samples)[0])
            samples = self.sampler_pdf(rays, samples, proposal.resampling_weights())
        return {"fine": self.render_pass(self.field, samples, background)}

    def parameter_groups(self) -> Dict[str, List[nn.Parameter]]:
        """The tri-planes in their own group "grids" (a higher learning rate), the decoders in "fields"."""
        grids = list(self.field.grid.parameters())
        ids = {id(p) for p in grids}
        return {"fields": [p for p in self.parameters() if id(p) not in ids], "grids": grids}

    def regularizers(self) -> Dict[str, Tensor]:
        return {"plane_tv": self.config.plane_tv_mult * self.field.grid.total_variation()}
