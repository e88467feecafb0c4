"""The fast conditioned field: tri-plane features of x + [M(e, i), l] -> small MLP -> density, feature -> colour.

Paper appendix D puts the interaction module on a grid-based NeRF (INSTA); this is the plain-torch analogue: the
tri-planes hold what all identities share, the small decoder turns them into one identity's face with one expression
via the condition. Positions are normalised by the head box, so every sample of a ray that the box clips is on a grid.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.encoding import PaperPositionalEncoding
from minerf_ns.field import CONDITION_KEY
from minerf_ns.triplane import TriPlaneEncoding
from nerfstudio.cameras.rays import RaySamples
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.fields.base_field import Field

MAX_LOG_DENSITY = 15.0
"""Cap of the raw density output: exp(14) ~ 1e6 is opaque over any interval of a head-sized scene."""


def _mlp(in_dim: int, hidden_dim: int, num_layers: int, out_dim: int) -> nn.Sequential:
    layers: list = []
    for k in range(num_layers):
        layers += [nn.Linear(in_dim if k == 0 else hidden_dim, hidden_dim), nn.ReLU()]
    layers.append(nn.Linear(hidden_dim if num_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class MiNerfFastField(Field):
    """Tri-plane field conditioned on a per-ray vector.

    Args:
        condition_dim: size of [M(e, i), l].
        aabb: [2, 3] head box; positions are mapped from it to [-1, 1]^3.
        resolutions: tri-plane side per level.
        channels: features per plane and level.
        hidden_dim: width of the density and colour decoders.
        num_layers: hidden layers of the density decoder (the colour decoder has one).
        feature_dim: size of the geometry feature handed to the colour decoder.
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
        feature_dim: int = 15,
        direction_frequencies: int = 4,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb.float().clone(), persistent=False)
        self.grid = TriPlaneEncoding(resolutions, channels)
        self.direction_encoding = PaperPositionalEncoding(3, direction_frequencies)
        self.feature_dim = feature_dim
        self.density_decoder = _mlp(self.grid.out_dim + condition_dim, hidden_dim, num_layers, 1 + feature_dim)
        self.color_decoder = nn.Sequential(
            _mlp(feature_dim + self.direction_encoding.out_dim, hidden_dim, 1, 3), nn.Sigmoid()
        )

    def normalized_positions(self, positions: Float[Tensor, "*bs 3"]) -> Float[Tensor, "*bs 3"]:
        """Positions mapped from the head box to [-1, 1]^3."""
        low, high = self.aabb[0], self.aabb[1]
        return (positions - low) / (high - low) * 2.0 - 1.0

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, Tensor]:
        assert ray_samples.metadata is not None and CONDITION_KEY in ray_samples.metadata
        x = self.normalized_positions(ray_samples.frustums.get_positions())
        condition = ray_samples.metadata[CONDITION_KEY]
        inputs = torch.cat([self.grid(x), condition.expand(*x.shape[:-1], -1)], dim=-1)
        raw = self.density_decoder(inputs)
        inside = (x.abs() <= 1.0).all(dim=-1, keepdim=True)
        # trunc_exp as nerfstudio's grid fields (nerfacto), capped so it never overflows; nothing outside the head box
        # (torch.where, not a product: inf * 0 would be NaN).
        density = torch.where(inside, trunc_exp(raw[..., :1].clamp(max=MAX_LOG_DENSITY) - 1.0), 0.0)
        return density, raw[..., 1:]

    def get_outputs(
        self, ray_samples: RaySamples, density_embedding: Optional[Tensor] = None
    ) -> Dict[FieldHeadNames, Float[Tensor, "*bs 3"]]:
        assert density_embedding is not None
        directions = self.direction_encoding(ray_samples.frustums.directions)
        rgb = self.color_decoder(torch.cat([density_embedding, directions], dim=-1))
        return {FieldHeadNames.RGB: rgb}
