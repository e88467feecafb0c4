"""The paper's geometry: a conditioned NeRF MLP, coarse and fine (appendix E, Table 5).

Each field is an 8-layer 256-wide ReLU MLP on [gamma(x), M(e, i), l] with a skip connection re-injecting that input at
layer 4, a linear ReLU density head, and a 4-layer 128-wide colour head that also sees gamma(v). 64 uniform samples
go through the coarse field; 128 PDF samples placed by its weights, merged with the uniform ones, go through the fine
field. Both passes are supervised. Density uses ReLU as in the paper (nerfstudio's stock fields use trunc_exp).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple, Type

import torch
from torch import Tensor, nn

from minerf_ns.compositing import Composite
from minerf_ns.encodings import PaperPositionalEncoding
from minerf_ns.geometry.base import ConditionedField, Geometry, GeometryConfig, expression_warp, split_linear
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler

DENSITY_BIAS_INIT = 0.1
"""Initial bias of the density head (see MlpField.__init__)."""


class MlpField(ConditionedField):
    """NeRF MLP conditioned on a per-ray vector.

    Args:
        condition_dim: size of [M(e, i), l].
        num_layers: trunk depth (paper: 8).
        hidden_dim: trunk width (paper: 256).
        skip_layer: trunk layer that re-receives the input (paper: 4).
        color_layers: colour-head depth (paper: 4).
        color_dim: colour-head width (paper: 128).
        position_frequencies: octaves of gamma(x) (paper: 10).
        direction_frequencies: octaves of gamma(v) (paper: 4).
    """

    def __init__(
        self,
        condition_dim: int,
        num_layers: int = 8,
        hidden_dim: int = 256,
        skip_layer: int = 4,
        color_layers: int = 4,
        color_dim: int = 128,
        position_frequencies: int = 10,
        direction_frequencies: int = 4,
    ) -> None:
        super().__init__()
        self.position_encoding = PaperPositionalEncoding(3, position_frequencies)
        in_dim = self.position_encoding.out_dim + condition_dim
        self.skip_layer = skip_layer
        self.trunk = nn.ModuleList(
            nn.Linear(in_dim if k == 0 else hidden_dim + (in_dim if k == skip_layer else 0), hidden_dim)
            for k in range(num_layers)
        )
        self.density_head = nn.Linear(hidden_dim, 1)
        # With ReLU density and PyTorch's default init, whole fields start at density 0 on every ray (measured: the
        # fine field of 4 of 5 seeds), where ReLU passes no gradient and the field never learns. A small positive bias
        # starts every field slightly translucent (mean accumulation 0.02-0.09) so gradients flow; the paper leaves
        # the init unstated.
        nn.init.constant_(self.density_head.bias, DENSITY_BIAS_INIT)
        self.feature = nn.Linear(hidden_dim, hidden_dim)
        self.build_color_head(hidden_dim, direction_frequencies, color_layers, color_dim)

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, Tensor]:
        inputs = (self.position_encoding(self.positions(ray_samples)), self.condition(ray_samples))
        hidden = torch.relu(split_linear(self.trunk[0], inputs))
        for k, layer in enumerate(self.trunk[1:], start=1):
            hidden = torch.relu(split_linear(layer, (hidden, *inputs) if k == self.skip_layer else (hidden,)))
        return torch.relu(self.density_head(hidden)), self.feature(hidden)


@dataclass
class MlpGeometryConfig(GeometryConfig):
    """The paper's coarse and fine MLP fields (Table 5 by default)."""

    _target: Type = field(default_factory=lambda: MlpGeometry)
    num_coarse_samples: int = 64
    """Uniform samples per ray for the coarse network."""
    num_importance_samples: int = 128
    """PDF samples per ray for the fine network."""
    num_layers: int = 8
    """Layers of the MLP trunk."""
    hidden_dim: int = 256
    """Width of the MLP trunk."""
    skip_layer: int = 4
    """Trunk layer that re-receives the input."""
    color_layers: int = 4
    """Layers of the colour head."""
    color_dim: int = 128
    """Width of the colour head."""
    position_frequencies: int = 10
    """Octaves of the positional encoding of x."""
    expression_warp: bool = False
    """Evaluate both fields where the face model's jaw and mouth blendshapes carry each sample back to under the
    ray's expression (as the tri-plane geometry's ``expression_warp``; not in the paper)."""


class MlpGeometry(Geometry):
    """Coarse (uniform samples) then fine (PDF samples) passes through their own conditioned MLPs."""

    config: MlpGeometryConfig
    pass_names = ("coarse", "fine")
    supervised_passes = ("coarse", "fine")

    def __init__(self, config: MlpGeometryConfig, condition_dim: int, aabb: Tensor, expression_dim: int = 0) -> None:
        super().__init__(config, condition_dim, aabb, expression_dim)
        settings = dict(
            condition_dim=condition_dim,
            num_layers=config.num_layers,
            hidden_dim=config.hidden_dim,
            skip_layer=config.skip_layer,
            color_layers=config.color_layers,
            color_dim=config.color_dim,
            position_frequencies=config.position_frequencies,
            direction_frequencies=config.direction_frequencies,
        )
        self.coarse = MlpField(**settings)
        self.fine = MlpField(**settings)
        self.coarse.warp = self.fine.warp = expression_warp(config.expression_warp, expression_dim)
        self.sampler_uniform = UniformSampler(num_samples=config.num_coarse_samples)
        self.sampler_pdf = PDFSampler(num_samples=config.num_importance_samples)

    @property
    def bytes_per_ray(self) -> int:
        config = self.config
        samples = 2 * config.num_coarse_samples + config.num_importance_samples + 1
        per_sample = self.coarse.position_encoding.out_dim + 3 * config.hidden_dim + config.color_dim + 16  # floats
        return 4 * samples * per_sample  # float32 (an over-estimate of the same kind as the tri-planes: 80 vs 56 kB)

    def forward(self, rays: RayBundle, background: Tensor) -> Dict[str, Composite]:
        samples = self.sampler_uniform(rays)
        coarse = self.render_pass(self.coarse, samples, background)
        fine_samples = self.sampler_pdf(rays, samples, coarse.resampling_weights().detach())
        return {"coarse": coarse, "fine": self.render_pass(self.fine, fine_samples, background)}
