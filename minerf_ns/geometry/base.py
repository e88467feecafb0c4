"""What every geometry shares: its config and interface, and the conditioned field's colour head.

A geometry turns rays that carry a per-ray condition (``RayBundle.metadata[CONDITION]``, [R, C]) and their
background colours into named rendering passes (``compositing.Composite``), the last one being the image. It decides
how rays are sampled (uniform + PDF, a proposal pass, ...) and what field is evaluated. The model supervises the
passes listed in ``supervised_passes`` and adds the geometry's ``regularizers()`` to the loss. A new geometry (e.g.
Gaussians) is a new ``GeometryConfig`` subclass and its ``Geometry``; the model and the other geometries stay as
they are. A geometry that renders whole images instead of rays (``renders_images``: the Gaussians) implements
``render_camera``; the model then hands it cameras, in training too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Type

import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.compositing import Composite, composite
from minerf_ns.contract import CONDITION, EXPRESSION
from minerf_ns.encodings import PaperPositionalEncoding
from minerf_ns.face.expression_warp import ExpressionWarp
from minerf_ns.face.head_model import load_head_model
from minerf_ns.optimizer_groups import FIELDS
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.configs.base_config import InstantiateConfig
from nerfstudio.data.scene_box import OrientedBox
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.fields.base_field import Field


@dataclass
class GeometryConfig(InstantiateConfig):
    """How rays are sampled and the conditioned field evaluated."""

    _target: Type = field(default_factory=lambda: Geometry)
    direction_frequencies: int = 4
    """Octaves of the positional encoding of the view direction in the colour head (paper: 4)."""


class Geometry(nn.Module):
    """Base class: rays with a condition and a background -> named passes, the last one the rendered image.

    Args:
        config: the geometry's settings.
        condition_dim: size of the per-ray condition [M(e, i), l].
        aabb: [2, 3] the scene box around the head.
        expression_dim: size of the frames' expression vectors (a geometry bound to the face model reads it).
    """

    config: GeometryConfig
    pass_names: Tuple[str, ...] = ()
    """Names of the passes ``forward`` returns, in order; the last one is the image."""
    supervised_passes: Tuple[str, ...] = ()
    """The passes whose colour the loss compares with the frame."""
    renders_images: bool = False
    """True for a geometry that renders a camera's whole image at once (``render_camera``), not rays."""

    def __init__(self, config: GeometryConfig, condition_dim: int, aabb: Tensor, expression_dim: int = 0) -> None:
        super().__init__()
        self.config = config

    def forward(self, rays: RayBundle, background: Float[Tensor, "R 3"]) -> Dict[str, Composite]:
        """Render ``rays`` (metadata: ``CONDITION`` [R, C]) over ``background``: one Composite per pass name."""
        raise NotImplementedError

    def render_camera(
        self,
        camera: Cameras,
        condition: Float[Tensor, " C"],
        expression: Optional[Float[Tensor, " E"]],
        background: Float[Tensor, "H W 3"],
        crop: Optional[OrientedBox] = None,
    ) -> Dict[str, Tensor]:
        """A whole image of one camera (geometries with ``renders_images``): ``rgb`` over ``background``,
        ``accumulation`` and ``depth``, each [H, W, *]; with ``crop`` (the viewer's crop box), only what lies in it."""
        raise NotImplementedError

    def parameter_groups(self) -> Dict[str, List[nn.Parameter]]:
        """The geometry's parameters by optimizer group (default: all in "fields")."""
        return {FIELDS: list(self.parameters())}

    @property
    def bytes_per_ray(self) -> int:
        """An estimate of the memory one ray needs while rendering (for choosing chunk sizes on a GPU)."""
        raise NotImplementedError

    @property
    def occupancy_every(self) -> int:
        """Training iterations between updates of the geometry's occupancy grid (0: it has none)."""
        return 0

    @property
    def occupancy_conditions(self) -> int:
        """How many train frames' conditions the occupancy grid covers."""
        return 0

    @property
    def needs_occupancy(self) -> bool:
        """True when rendering would use an occupancy grid that has not been computed yet."""
        return False

    def update_occupancy(self, conditions: Float[Tensor, "K C"], step: int) -> None:
        """Recompute the occupancy grid for these conditions (geometries without one ignore this)."""

    def regularizers(self) -> Dict[str, Tensor]:
        """Weighted regularisation losses of the geometry's own parameters (computed in the training forward pass,
        where DDP sees them); none by default."""
        return {}

    @staticmethod
    def render_pass(field_module: Field, samples: RaySamples, background: Tensor) -> Composite:
        """Evaluate ``field_module`` at ``samples`` and composite its colour over ``background``."""
        outputs = field_module(samples)
        return composite(samples, outputs[FieldHeadNames.DENSITY], outputs[FieldHeadNames.RGB], background)


def expression_warp(enabled: bool, expression_dim: int) -> Optional[ExpressionWarp]:
    """The face model's expression warp for a ray geometry's fields, where it is asked for and the expressions are
    ICT-FaceKit's (another basis has no mesh to move samples with: its fields see the condition only)."""
    if not enabled or expression_dim != load_head_model().num_expressions:
        return None
    return ExpressionWarp()


def mlp(in_dim: int, hidden_dim: int, num_layers: int, out_dim: int) -> nn.Sequential:
    """``num_layers`` ReLU layers of ``hidden_dim``, then a linear output."""
    layers: List[nn.Module] = []
    for k in range(num_layers):
        layers += [nn.Linear(in_dim if k == 0 else hidden_dim, hidden_dim), nn.ReLU()]
    layers.append(nn.Linear(hidden_dim if num_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


def split_linear(layer: nn.Linear, parts: Sequence[Tensor]) -> Tensor:
    """``layer(torch.cat(parts, -1))`` without building the concatenation: each part meets its own columns of the
    weight, and parts broadcast. The per-ray condition ([R, 1, C]) is then multiplied once per ray, not once per
    sample, and never copied to every sample.

    The largest part's product is the output; the others (with the bias folded into the smallest) are added to it
    in place, so each per-sample tensor is written once, as a fused ``addmm`` would.
    """
    widths = [part.shape[-1] for part in parts]
    assert sum(widths) == layer.in_features, "the parts do not cover the layer's input"
    offsets = [sum(widths[:k]) for k in range(len(parts))]
    terms = [(part, layer.weight[:, start : start + width]) for part, start, width in zip(parts, offsets, widths)]
    terms.sort(key=lambda term: term[0].shape[:-1].numel())
    smallest, largest = terms[0], terms[-1]
    out = F.linear(largest[0], largest[1])
    if len(terms) == 1:
        return out if layer.bias is None else out.add_(layer.bias)
    out.add_(F.linear(smallest[0], smallest[1], layer.bias))
    for part, weight in terms[1:-1]:
        out.add_(F.linear(part, weight))
    return out


class ConditionedField(Field):
    """A field whose samples see their ray's condition; owns the colour head: feature + gamma(v) -> RGB.

    Subclasses implement ``get_density`` (density and a geometry feature per sample, at ``positions``) and call
    ``build_color_head`` last in their ``__init__``. A field given an ``ExpressionWarp`` (``warp``) is evaluated at
    its samples' canonical positions: the ray's expression moves them as the face model's mouth moves.
    """

    def __init__(self) -> None:
        super().__init__()
        self.warp: Optional[ExpressionWarp] = None
        """The expression warp (``face/expression_warp.py``), or None: samples stay where they are."""

    def positions(self, ray_samples: RaySamples) -> Float[Tensor, "R S 3"]:
        """Where the field is evaluated: the samples' positions, carried by the warp with their ray's expression."""
        positions = ray_samples.frustums.get_positions()
        if self.warp is None:
            return positions
        assert ray_samples.metadata is not None and EXPRESSION in ray_samples.metadata, "samples carry no expression"
        return self.warp(positions, ray_samples.metadata[EXPRESSION][:, :1])

    def build_color_head(self, feature_dim: int, direction_frequencies: int, num_layers: int, width: int) -> None:
        """The colour head: ``num_layers`` ReLU layers of ``width`` on [feature, gamma(v)], then RGB in [0, 1]."""
        self.direction_encoding = PaperPositionalEncoding(3, direction_frequencies)
        layers: List[nn.Module] = []
        in_dim = feature_dim + self.direction_encoding.out_dim
        for k in range(num_layers):
            layers += [nn.Linear(in_dim if k == 0 else width, width), nn.ReLU()]
        layers += [nn.Linear(width if num_layers else in_dim, 3), nn.Sigmoid()]
        self.color_head = nn.Sequential(*layers)

    @staticmethod
    def condition(ray_samples: RaySamples) -> Float[Tensor, "R 1 C"]:
        """The per-ray condition, one row per ray (it broadcasts over the ray's samples).

        nerfstudio hands it to the samples as a stride-0 view [R, S, C]; its first sample is the ray's row.
        """
        assert ray_samples.metadata is not None and CONDITION in ray_samples.metadata, "samples carry no condition"
        return ray_samples.metadata[CONDITION][:, :1]

    def direction_term(self, directions: Float[Tensor, "*bs 3"]) -> Float[Tensor, "*bs H"]:
        """The view direction's share of the colour head's first layer, bias included (computed once per ray)."""
        first = self.color_head[0]
        weight = first.weight[:, first.in_features - self.direction_dim :]
        return F.linear(self.direction_encoding(directions), weight, first.bias)  # the bias too, once per ray

    @property
    def direction_dim(self) -> int:
        return self.direction_encoding.out_dim

    def colour(
        self, features: Float[Tensor, "*bs F"], direction_term: Float[Tensor, "*bs H"]
    ) -> Float[Tensor, "*bs 3"]:
        """RGB of samples from their geometry features and their ray's ``direction_term`` (broadcast)."""
        first = self.color_head[0]
        hidden = F.linear(features, first.weight[:, : first.in_features - self.direction_dim])
        return self.color_head[1:](hidden.add_(direction_term))

    def get_outputs(
        self, ray_samples: RaySamples, density_embedding: Optional[Tensor] = None
    ) -> Dict[FieldHeadNames, Float[Tensor, "*bs 3"]]:
        assert density_embedding is not None
        # Every sample of a ray has the ray's direction: encode it once per ray and let it broadcast.
        direction_term = self.direction_term(ray_samples.frustums.directions[:, :1])
        return {FieldHeadNames.RGB: self.colour(density_embedding, direction_term)}
