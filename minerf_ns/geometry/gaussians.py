"""The Gaussian geometry (``mi-gaussians``): 3D Gaussians bound to the ICT-FaceKit head, moved by the tracked
expression and by a small network of the condition [M(e, i), l], splatted (gsplat on CUDA, our kernel on the CPU).

One set of canonical Gaussians serves every identity, as the NeRF geometries' one field does: identity enters only
through M(e, i), in the deformation. Each canonical Gaussian is either bound to a point of the ICT head's surface
(a triangle and barycentric coordinates: the frame's expression weights move it exactly as they move the mesh, when
the dataset's expressions are ICT-FaceKit's 53 blendshapes) or free in the head box (hair, neck, shoulders, what the
mesh lacks). The network sees a learned feature of each Gaussian and the condition, and adds offsets to its position,
rotation, scale, opacity and colour; its last layer starts at zero, so training starts from the mesh.

Whole images, not rays: the model hands this geometry a camera (``render_camera``); rays (``forward``) are not
supported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Type

import torch
import tyro
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.compositing import Composite, over_background
from minerf_ns.face.head_model import load_head_model
from minerf_ns.face.surface import sample_surface, sample_teeth
from minerf_ns.geometry.base import Geometry, GeometryConfig, mlp, split_linear
from minerf_ns.optimizer_groups import FIELDS, GAUSSIAN_GROUPS
from minerf_ns.splatting import render_gaussians
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.scene_box import OrientedBox

OFFSET_UNIT = 0.01
"""The network's position offsets are in centimetres (metres / 100): its outputs stay near 1 for a face's motion."""
OUTPUTS = (("position", 3), ("rotation", 4), ("scale", 3), ("opacity", 1), ("colour", 3))
"""What the deformation network adds to each Gaussian, in the order of its output columns."""
TEETH_COLOUR_LOGIT = 2.0
"""The teeth's starting colour logit: sigmoid(2) = 0.88, off-white."""
FACTORED = 6
"""What the factorised term (``factor_rank``) adds to each Gaussian: a position offset (3) and a colour term (3)."""


@dataclass
class GaussianGeometryConfig(GeometryConfig):
    """3D Gaussians on the face mesh, deformed by the condition, splatted."""

    _target: Type = field(default_factory=lambda: GaussianGeometry)
    direction_frequencies: tyro.conf.Suppress[int] = 4
    """Not an option: the Gaussians' view dependence is ``view_dependence``, not an encoding of the direction."""
    num_mesh_gaussians: int = 16384
    """Gaussians bound to the ICT head's surface (area-uniform over the skin, mouth and eyes)."""
    num_free_gaussians: int = 4096
    """Gaussians spread through the head box, for what the mesh lacks (hair, neck, shoulders)."""
    feature_dim: int = 16
    """Size of the learned feature of each Gaussian that the deformation network reads."""
    hidden_dim: int = 64
    """Width of the deformation network."""
    num_layers: int = 2
    """Hidden layers of the deformation network."""
    initial_opacity: float = 0.9
    """Opacity of the mesh Gaussians at the start (free ones start at a tenth of it)."""
    teeth_gaussians: int = 0
    """Gaussians on each row of teeth (0: none), which the ICT head lacks: the upper row fixed to the skull, the lower
    one moved by the jaw blendshapes (``face/surface.py``), starting white; an open mouth then shows teeth as
    GaussianAvatars' FLAME teeth do. With ICT-FaceKit expressions only."""
    seed: int = 0
    """Seed of the surface and box samples."""
    factor_rank: int = 0
    """Rank of a per-Gaussian multilinear term (0: off): each Gaussian's position and colour also get
    B_g P([M(e, i), l]), a learned per-Gaussian basis B_g [rank, 6] weighted by a linear map P of the condition. Since
    M(e, i) mixes identity and expression multiplicatively, this is a low-rank tensor over Gaussians x identity x
    expression, as MIGS factorises them, beside the shared network. ``mi-gaussians`` uses 8 (runs saved before it
    existed load with 0); ``benchmarks/gaussian_variants.py`` measures it."""
    view_dependence: bool = False
    """Each Gaussian's colour also gets V_g d: a learned per-Gaussian [3, 3] map (zero at the start) of the unit
    direction d from the camera to it, in the head's frame, added to its colour logit (a degree-1 term, as in
    spherical harmonics). The reason to expect a gain: where a video's light is fixed while the head turns, the head's
    shading changes with that direction."""


class GaussianGeometry(Geometry):
    """Gaussians + deformation network; renders whole images.

    Args:
        config: the geometry's settings.
        condition_dim: size of [M(e, i), l].
        aabb: [2, 3] the head box (the free Gaussians' volume).
        expression_dim: size of the dataset's expression vectors; 53 (ICT-FaceKit's blendshapes) binds Gaussians to
            the mesh, any other basis starts every Gaussian in the head box.
    """

    config: GaussianGeometryConfig
    pass_names = ("fine",)
    supervised_passes = ("fine",)
    renders_images = True

    def __init__(self, config: GaussianGeometryConfig, condition_dim: int, aabb: Tensor, expression_dim: int = 0):
        super().__init__(config, condition_dim, aabb, expression_dim)
        head = load_head_model()
        bound = expression_dim == head.num_expressions
        mesh_count = config.num_mesh_gaussians if bound else 0
        free_count = config.num_free_gaussians + (0 if bound else config.num_mesh_gaussians)
        generator = torch.Generator().manual_seed(config.seed)
        low, high = aabb[0].float(), aabb[1].float()
        free = low + (high - low) * torch.rand(free_count, 3, generator=generator)
        free_spacing = float(((high - low).prod() / max(free_count, 1)) ** (1 / 3))
        teeth_count = 2 * config.teeth_gaussians if bound else 0
        if mesh_count:
            parts = [sample_surface(head, mesh_count, config.seed)]
            if teeth_count:
                parts.append(sample_teeth(head, config.teeth_gaussians, config.seed))
            positions = torch.cat([torch.from_numpy(p.positions) for p in parts] + [free])
            basis = torch.cat([torch.from_numpy(p.expression_basis) for p in parts], dim=1)  # [E, M, 3]
            spacing = torch.cat([torch.full((len(p.positions),), p.spacing) for p in parts]
                                + [torch.full((free_count,), free_spacing)])  # fmt: skip
            mesh_count += teeth_count
        else:
            positions, basis, spacing = free, torch.zeros(0, 0, 3), torch.full((free_count,), free_spacing)
        count = len(positions)
        self.num_mesh = mesh_count
        self.register_buffer("canonical", positions.float())
        self.register_buffer("expression_basis", basis.float())
        opacity = torch.full((count,), config.initial_opacity)
        opacity[mesh_count:] *= 0.1
        self.means = nn.Parameter(torch.zeros(count, 3))  # learned offsets from the canonical places
        self.log_scales = nn.Parameter(torch.log(0.7 * spacing)[:, None].repeat(1, 3))
        self.quats = nn.Parameter(torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(count, 1))
        self.opacity_logits = nn.Parameter(torch.logit(opacity))
        colour = torch.zeros(count, 3)
        colour[mesh_count - teeth_count : mesh_count] = TEETH_COLOUR_LOGIT  # teeth start white, the rest grey
        self.colour_logits = nn.Parameter(colour)
        self.features = nn.Parameter(0.1 * torch.randn(count, config.feature_dim, generator=generator))
        outputs = sum(size for _, size in OUTPUTS)
        self.deformation = mlp(config.feature_dim + condition_dim, config.hidden_dim, config.num_layers, outputs)
        nn.init.zeros_(self.deformation[-1].weight)  # training starts from the mesh
        nn.init.zeros_(self.deformation[-1].bias)
        if config.factor_rank > 0:
            self.factor_in = nn.Linear(condition_dim, config.factor_rank)
            self.factor_basis = nn.Parameter(torch.zeros(count, config.factor_rank, FACTORED))  # starts at no change
        if config.view_dependence:
            self.view_colour = nn.Parameter(torch.zeros(count, 3, 3))  # starts view-independent

    @property
    def num_gaussians(self) -> int:
        return len(self.canonical)

    def parameter_groups(self) -> Dict[str, List[nn.Parameter]]:
        """One group per Gaussian attribute (its own learning rate) and "fields" for the network."""
        attributes = (self.means, self.log_scales, self.quats, self.opacity_logits, self.colour_logits, self.features)
        groups: Dict[str, List[nn.Parameter]] = {name: [p] for name, p in zip(GAUSSIAN_GROUPS, attributes)}
        groups[FIELDS] = list(self.deformation.parameters())
        if self.config.factor_rank > 0:  # the basis is a per-Gaussian learned feature; P is network weights
            groups[GAUSSIAN_GROUPS[-1]].append(self.factor_basis)
            groups[FIELDS] += list(self.factor_in.parameters())
        if self.config.view_dependence:  # a colour attribute, at the colours' rate
            groups[GAUSSIAN_GROUPS[4]].append(self.view_colour)
        return groups

    @property
    def bytes_per_ray(self) -> int:
        return 64  # a whole image at once; a pixel costs its colour, alpha and a few sort entries

    def forward(self, rays: RayBundle, background: Float[Tensor, "R 3"]) -> Dict[str, Composite]:
        raise NotImplementedError("mi-gaussians renders whole images: the model calls render_camera")

    def gaussians(
        self,
        condition: Float[Tensor, " C"],
        expression: Optional[Float[Tensor, " E"]],
        camera_centre: Optional[Float[Tensor, " 3"]] = None,
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The Gaussians of one condition (and the frame's expression weights; the camera's centre, for the view
        dependence): means, quats, scales, opacities, colours."""
        means = self.canonical + self.means
        if self.num_mesh and expression is not None:
            bound = torch.einsum("e,enc->nc", expression.to(means), self.expression_basis)
            means = torch.cat([means[: self.num_mesh] + bound, means[self.num_mesh :]])
        # The condition's share of the first layer once for the image, not once per Gaussian.
        delta = self.deformation[1:](split_linear(self.deformation[0], [self.features, condition[None]]))
        d_pos, d_rot, d_scale, d_opacity, d_colour = delta.split([size for _, size in OUTPUTS], -1)
        if self.config.factor_rank > 0:
            factored = torch.einsum("k,nkc->nc", self.factor_in(condition), self.factor_basis)
            d_pos, d_colour = d_pos + factored[:, :3], d_colour + factored[:, 3:]
        means = means + OFFSET_UNIT * d_pos
        if self.config.view_dependence and camera_centre is not None:
            direction = torch.nn.functional.normalize(means - camera_centre.to(means), dim=-1)
            d_colour = d_colour + torch.einsum("ncd,nd->nc", self.view_colour, direction)
        quats = self.quats + d_rot
        scales = torch.exp(self.log_scales + d_scale)
        opacities = torch.sigmoid(self.opacity_logits + d_opacity[:, 0])
        colours = torch.sigmoid(self.colour_logits + d_colour)
        return means, quats, scales, opacities, colours

    def render_camera(
        self,
        camera: Cameras,
        condition: Float[Tensor, " C"],
        expression: Optional[Float[Tensor, " E"]],
        background: Float[Tensor, "H W 3"],
        crop: Optional[OrientedBox] = None,
    ) -> Dict[str, Tensor]:
        """One camera's image: ``rgb`` over ``background`` [H, W, 3], ``accumulation`` and ``depth`` [H, W, 1]; with
        ``crop``, of the Gaussians whose centres lie in it (as splatfacto crops)."""
        centre = camera.camera_to_worlds.reshape(-1, 3, 4)[0, :, 3]
        means, quats, scales, opacities, colours = self.gaussians(condition, expression, centre)
        if crop is not None:
            inside = crop.within(means).reshape(-1)
            means, quats, scales, opacities, colours = (t[inside] for t in (means, quats, scales, opacities, colours))
        viewmat, intrinsics = opencv_camera(camera)
        viewmat, intrinsics = viewmat.to(means), intrinsics.to(means)
        depth = means @ viewmat[2, :3] + viewmat[2, 3]  # camera z of each centre: rendered as a fourth channel
        width, height = int(camera.width.reshape(-1)[0]), int(camera.height.reshape(-1)[0])
        image, alpha = render_gaussians(
            means, quats, scales, opacities, torch.cat([colours, depth[:, None]], -1), viewmat, intrinsics, width,
            height,
        )  # fmt: skip
        return {
            "rgb": over_background(image[..., :3], alpha, background),
            "accumulation": alpha,
            "depth": image[..., 3:] / alpha.clamp(min=1e-6),
        }


def opencv_camera(camera: Cameras) -> Tuple[Float[Tensor, "4 4"], Float[Tensor, "3 3"]]:
    """The world-to-camera matrix (OpenCV axes: y down, z forward) and pinhole matrix of nerfstudio's first camera
    (OpenGL axes: y up, z backward)."""
    c2w = camera.camera_to_worlds.reshape(-1, 3, 4)[0].float()
    rotation = c2w[:, :3] * torch.tensor([1.0, -1.0, -1.0], device=c2w.device)
    viewmat = torch.eye(4, device=c2w.device)
    viewmat[:3, :3] = rotation.T
    viewmat[:3, 3] = -rotation.T @ c2w[:, 3]
    fx, fy, cx, cy = (float(v.reshape(-1)[0]) for v in (camera.fx, camera.fy, camera.cx, camera.cy))
    intrinsics = torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], device=c2w.device)
    return viewmat, intrinsics
