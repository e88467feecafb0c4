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
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from minerf_ns.compositing import Composite, composite, composite_colour
from minerf_ns.contract import CONDITION
from minerf_ns.encodings import TriPlaneEncoding
from minerf_ns.geometry.base import ConditionedField, Geometry, GeometryConfig, expression_warp, mlp
from minerf_ns.occupancy import OccupancyGrid
from minerf_ns.optimizer_groups import FIELDS, GRIDS
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler

MAX_LOG_DENSITY = 15.0
"""Cap of the raw density output: exp(14) ~ 1e6 is opaque over any interval of a head-sized scene."""
FEATURE_DIM = 15
"""Size of the geometry feature the density decoder hands to the colour head."""


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
        plane_gains: scale each tri-plane feature by a gain from the condition (see ``TriplaneGeometryConfig``).
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
        plane_gains: bool = False,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb.float().clone(), persistent=False)
        self.grid = TriPlaneEncoding(resolutions, channels)
        self.density_decoder = mlp(self.grid.out_dim + condition_dim, hidden_dim, num_layers, 1 + FEATURE_DIM)
        self.plane_gain: nn.Linear | None = None
        if plane_gains:
            self.plane_gain = nn.Linear(condition_dim, self.grid.out_dim)
            # Zero: every gain starts at 1, the field starts as the unmodulated one.
            nn.init.zeros_(self.plane_gain.weight)
            nn.init.zeros_(self.plane_gain.bias)
        self.build_color_head(FEATURE_DIM, direction_frequencies, 1, hidden_dim)

    def normalized_positions(self, positions: Float[Tensor, "*bs 3"]) -> Float[Tensor, "*bs 3"]:
        """Positions mapped from the head box to [-1, 1]^3."""
        low, high = self.aabb[0], self.aabb[1]
        return (positions - low) / (high - low) * 2.0 - 1.0

    def condition_term(self, condition: Float[Tensor, "*bs C"]) -> Float[Tensor, "*bs T"]:
        """What a sample needs of its ray's condition, computed once per ray (or condition): the condition's share of
        the density decoder's first layer, bias included, then (with plane gains) the gains of the plane features."""
        first = self.density_decoder[0]
        term = F.linear(condition, first.weight[:, self.grid.out_dim :], first.bias)  # the bias too, once
        if self.plane_gain is None:
            return term
        return torch.cat([term, 1.0 + self.plane_gain(condition)], dim=-1)

    def decode(
        self, x: Float[Tensor, "*bs 3"], condition_term: Float[Tensor, "*bs T"]
    ) -> Tuple[Float[Tensor, "*bs 1"], Float[Tensor, "*bs F"]]:
        """Density and geometry feature at normalised positions ``x``, given their ray's ``condition_term``
        (broadcast against ``x``'s batch shape)."""
        first = self.density_decoder[0]
        features = self.grid(x)
        if self.plane_gain is not None:
            condition_term, gains = condition_term.split([first.out_features, self.grid.out_dim], dim=-1)
            features = features * gains
        hidden = F.linear(features, first.weight[:, : self.grid.out_dim])
        raw = self.density_decoder[1:](hidden.add_(condition_term))
        inside = (x.abs() <= 1.0).all(dim=-1, keepdim=True)
        # trunc_exp as nerfstudio's grid fields (nerfacto), capped so it never overflows; nothing outside the head box
        # (torch.where, not a product: inf * 0 would be NaN).
        density = torch.where(inside, trunc_exp(raw[..., :1].clamp(max=MAX_LOG_DENSITY) - 1.0), 0.0)
        return density, raw[..., 1:]

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, Tensor]:
        x = self.normalized_positions(self.positions(ray_samples))
        return self.decode(x, self.condition_term(self.condition(ray_samples)))


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
    skip_empty_space: bool = True
    """When rendering (not training): evaluate the field only in cells of the occupancy grid that hold density,
    return the background for rays that meet none, and compute colour only where a sample's weight counts."""
    occupancy_resolution: int = 32
    """Cells per side of the occupancy grid over the head box."""
    occupancy_threshold: float = 0.05
    """A cell is occupied where the density exceeds this for one of the grid's conditions (an opacity of 4e-4 over
    the typical 8 mm between samples)."""
    occupancy_conditions: int = 16
    """Train frames (evenly spaced over all videos) whose conditions the grid covers; cells grow by one cell for
    others (transfer, held-out expressions)."""
    occupancy_every: int = 100
    """Training iterations between updates of the grid (it is also updated after the last one)."""
    min_render_weight: float = 1e-4
    """When skipping empty space: rays whose opacity stays below this show the background, and samples whose weight
    is below it get no colour."""
    expression_warp: bool = False
    """Evaluate the field where the face model's jaw and mouth blendshapes carry each sample back to under the ray's
    expression (``face/expression_warp.py``; INSTA's mesh-guided canonical space, not in the paper): the expression
    then moves the mouth explicitly, also when another person's expressions drive the model. ICT-FaceKit expressions
    only (another basis renders unwarped)."""
    plane_gains: bool = False
    """Scale each tri-plane feature by a gain computed from the ray's condition (1 + a linear map, starting at 1),
    so identity and expression reweight the shared planes' spatial patterns, not only shift the decoder's input: a
    factorisation over identities with the planes as the shared factors, so a new person can be new gains fitted
    from few frames (issue 16; measured in BENCHMARKS.md "A new person")."""


class TriplaneGeometry(Geometry):
    """A density-only proposal pass (no gradients), then the supervised pass at PDF samples, one tri-plane field."""

    config: TriplaneGeometryConfig
    pass_names = ("fine",)
    supervised_passes = ("fine",)

    def __init__(
        self, config: TriplaneGeometryConfig, condition_dim: int, aabb: Tensor, expression_dim: int = 0
    ) -> None:
        super().__init__(config, condition_dim, aabb, expression_dim)
        self.field = TriplaneField(
            condition_dim,
            aabb,
            resolutions=config.plane_resolutions,
            channels=config.plane_channels,
            hidden_dim=config.decoder_dim,
            num_layers=config.decoder_layers,
            direction_frequencies=config.direction_frequencies,
            plane_gains=config.plane_gains,
        )
        self.field.warp = expression_warp(config.expression_warp, expression_dim)
        self.occupancy = OccupancyGrid(config.occupancy_resolution)
        proposal = config.num_proposal_samples
        self.sampler_uniform = UniformSampler(num_samples=proposal if proposal > 0 else config.num_samples)
        self.sampler_pdf = PDFSampler(num_samples=config.num_samples, include_original=True)

    def forward(self, rays: RayBundle, background: Tensor) -> Dict[str, Composite]:
        if self.renders_sparsely:
            return {"fine": self.render_sparsely(rays, background)}
        samples = self.sampler_uniform(rays)
        if self.config.num_proposal_samples > 0:
            with torch.no_grad():
                proposal = composite(samples, self.field.get_density(samples)[0])
            samples = self.sampler_pdf(rays, samples, proposal.resampling_weights())
        return {"fine": self.render_pass(self.field, samples, background)}

    @property
    def renders_sparsely(self) -> bool:
        """True when rendering skips empty space: not training, enabled, a proposal pass and a computed grid."""
        enabled = self.config.skip_empty_space and self.config.num_proposal_samples > 0
        return enabled and not self.training and self.occupancy.ready

    def render_sparsely(self, rays: RayBundle, background: Tensor) -> Composite:
        """The same passes as training's, evaluating the field only in occupied cells, only for rays that meet
        density, and the colour only where a sample's weight is at least ``min_render_weight``."""
        min_weight = self.config.min_render_weight
        condition_terms = self.field.condition_term(rays.metadata[CONDITION])  # [R, T]
        samples = self.sampler_uniform(rays)
        x = self.field.normalized_positions(self.field.positions(samples))
        density, _ = self._decode_where(x, condition_terms, self.occupancy.lookup(x))
        proposal = composite(samples, density)
        hit = proposal.accumulation[:, 0] >= min_weight
        rgb = background.clone()
        accumulation, depth = proposal.accumulation.clone(), proposal.depth.clone()
        weights = torch.zeros(len(rays), 1 + self.config.num_proposal_samples + self.config.num_samples, 1).to(rgb)
        weights[:, -1] = 1.0 - accumulation
        if not bool(hit.any()):  # nothing but background in this batch of rays
            return Composite(weights=weights, accumulation=accumulation, depth=depth, rgb=rgb)
        hit_rays = rays[hit]
        fine_samples = self.sampler_pdf(hit_rays, self.sampler_uniform(hit_rays), proposal.resampling_weights()[hit])
        x = self.field.normalized_positions(self.field.positions(fine_samples))
        density, features = self._decode_where(x, condition_terms[hit], self.occupancy.lookup(x))
        fine = composite(fine_samples, density)
        coloured = fine.weights[..., 0] >= min_weight
        coloured[:, -1] = False  # the background sample
        ray_index, sample_index = torch.nonzero(coloured, as_tuple=True)
        colours = torch.zeros_like(x)
        direction_terms = self.field.direction_term(hit_rays.directions)
        colours[ray_index, sample_index] = self.field.colour(
            features[ray_index, sample_index], direction_terms[ray_index]
        )
        rgb[hit] = composite_colour(fine.weights, colours, background[hit])
        accumulation[hit], depth[hit] = fine.accumulation, fine.depth
        weights[hit] = fine.weights
        return Composite(weights=weights, accumulation=accumulation, depth=depth, rgb=rgb)

    def _decode_where(
        self, x: Float[Tensor, "R S 3"], condition_terms: Float[Tensor, "R T"], where: Bool[Tensor, "R S"]
    ) -> Tuple[Float[Tensor, "R S 1"], Float[Tensor, "R S F"]]:
        """Density and features of the samples ``where`` is True; zero elsewhere."""
        density = x.new_zeros(*where.shape, 1)
        features = x.new_zeros(*where.shape, FEATURE_DIM)
        ray_index, sample_index = torch.nonzero(where, as_tuple=True)
        if len(ray_index):
            d, f = self.field.decode(x[ray_index, sample_index], condition_terms[ray_index])
            density[ray_index, sample_index], features[ray_index, sample_index] = d, f
        return density, features

    @property
    def bytes_per_ray(self) -> int:
        config = self.config
        samples = 2 * config.num_proposal_samples + config.num_samples + 1
        per_sample = self.field.grid.out_dim + 3 * config.decoder_dim + FEATURE_DIM + 16  # live activations, floats
        return 4 * samples * per_sample  # float32; measured on an H100 (tri-planes): 56 kB a ray, this gives 80

    @property
    def occupancy_every(self) -> int:
        return self.config.occupancy_every if self.config.skip_empty_space else 0

    @property
    def occupancy_conditions(self) -> int:
        return self.config.occupancy_conditions

    @property
    def needs_occupancy(self) -> bool:
        return self.config.skip_empty_space and not self.occupancy.ready

    @torch.no_grad()
    def update_occupancy(self, conditions: Float[Tensor, "K C"], step: int) -> None:
        """Recompute the occupancy grid: the largest density over ``conditions`` in every cell."""
        terms = self.field.condition_term(conditions.to(self.field.aabb))

        def max_density(points: Tensor) -> Tensor:
            return torch.stack([self.field.decode(points, term)[0][..., 0] for term in terms]).amax(dim=0)

        self.occupancy.update(max_density, self.config.occupancy_threshold, step)

    def parameter_groups(self) -> Dict[str, List[nn.Parameter]]:
        """The tri-planes in their own group "grids" (a higher learning rate), the decoders in "fields"."""
        grids = list(self.field.grid.parameters())
        ids = {id(p) for p in grids}
        return {FIELDS: [p for p in self.parameters() if id(p) not in ids], GRIDS: grids}

    def regularizers(self) -> Dict[str, Tensor]:
        return {"plane_tv": self.config.plane_tv_mult * self.field.grid.total_variation()}
