"""The MI-NeRF model: identity and latent codes, the interaction module, coarse/fine conditioned NeRF, the losses.

Per ray: e (the frame's 3DMM expression), i = identity_codes[video], l = latent_codes[train frame];
condition = [M(e, i), l]; the field sees gamma(x) + condition, and gamma(v) in its colour branch.
The last sample of every ray is the background pixel with opacity 1 (NeRFace/AD-NeRF, paper appendix E): the head is
composited over the frame's real background, so the network never has to model the background itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Tuple, Type

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn import Parameter

from minerf_ns.conditioned_render import condition_metadata
from minerf_ns.field import CONDITION_KEY, MiNerfField
from minerf_ns.interaction import InteractionName, make_interaction
from minerf_ns.metrics import ImageMetrics
from minerf_ns.viewer_camera import FrameCameraControl
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle, RaySamples
from nerfstudio.data.scene_box import OrientedBox
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler
from nerfstudio.model_components.scene_colliders import NearFarCollider
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.utils import colormaps
from nerfstudio.viewer.viewer_elements import ViewerButton, ViewerCheckbox, ViewerDropdown, ViewerSlider

CODE_MODULES = ("identity_codes", "latent_codes")
"""Modules holding per-identity and per-frame codes (their own optimizer group: personalization trains them faster)."""
BACKGROUND_DENSITY = 1e10
"""Density given to the last sample of a ray so that it is opaque (alpha = 1) and shows the background pixel."""


@dataclass
class MiNerfModelConfig(ModelConfig):
    """MI-NeRF: one dynamic face NeRF for many identities (Chatziagapi, Chrysos, Samaras)."""

    _target: Type = field(default_factory=lambda: MiNerfModel)
    interaction: InteractionName = "multiplicative"
    """How e and i are mixed: multiplicative (Eq. 1), high-degree (Eq. 2), concat (Baseline NeRF), or a1..a7."""
    interaction_rank: int = 8
    """Rank k of the multiplicative module."""
    interaction_degree: int = 2
    """Degree N of the high-degree module."""
    latent_dim: int = 32
    """Size of the per-frame latent code l (0 disables latent codes)."""
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
    """Layers of the colour branch."""
    color_dim: int = 128
    """Width of the colour branch."""
    position_frequencies: int = 10
    """Octaves of the positional encoding of x."""
    direction_frequencies: int = 4
    """Octaves of the positional encoding of the view direction."""
    latent_reg_mult: float = 0.01
    """lambda_l: weight of ||l||."""
    identity_reg_mult: float = 1e-4
    """lambda_i: weight of ||i||."""
    unseen_latent: Literal["video-mean", "zero"] = "video-mean"
    """Latent code of frames not trained on (val/test, viewer, novel renders): the video's mean latent, or zero."""
    enable_collider: bool = True
    """Clip rays to the dataset's near/far planes."""
    freeze_interaction: bool = False
    """Keep the interaction module's weights fixed (personalization, paper sec. 3.4)."""


class MiNerfModel(Model):
    """MI-NeRF model.

    Args:
        config: MI-NeRF configuration.
    """

    config: MiNerfModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        meta: Dict[str, Any] = self.kwargs["metadata"]
        self.identity_names: List[str] = list(meta["identity_names"])
        self.expression_dim = int(meta["expression_dim"])
        num_ids, dim = len(self.identity_names), self.expression_dim
        self.identity_codes = nn.Embedding(num_ids, dim)
        nn.init.normal_(self.identity_codes.weight, std=1.0)
        self.latent_codes = nn.Embedding(max(self.num_train_data, 1), max(self.config.latent_dim, 1))
        nn.init.normal_(self.latent_codes.weight, std=0.01)
        self.interaction = make_interaction(
            self.config.interaction, dim, self.config.interaction_rank, self.config.interaction_degree
        )
        self.interaction.requires_grad_(not self.config.freeze_interaction)
        self.build_fields(self.interaction.out_dim + self.config.latent_dim)
        self.near, self.far = float(meta["near"]), float(meta["far"])
        if self.config.enable_collider:
            self.collider = NearFarCollider(near_plane=self.near, far_plane=self.far)

        # Tables from the dataset (not saved in checkpoints: they are rebuilt from the data).
        train_identity = torch.full((max(self.num_train_data, 1),), 0, dtype=torch.long)
        for vid, table in enumerate(meta["video_train_frame_idx"]):
            train_identity[table[table >= 0]] = vid
        self.register_buffer("train_frame_identity", train_identity, persistent=False)
        self.video_expressions: List[Tensor] = [t.float() for t in meta["video_expressions"]]
        self.video_train_frame_idx: List[Tensor] = list(meta["video_train_frame_idx"])
        self.backgrounds: List[Tensor] = list(meta["backgrounds"])
        self.video_camera_to_worlds: List[Tensor] = list(meta["video_camera_to_worlds"])
        self.video_vertical_fov: List[float] = list(meta["video_vertical_fov"])
        self.metrics = ImageMetrics()

        # Viewer controls: which identity, which video's expression, which frame, and a play toggle.
        names = self.identity_names
        self.viewer_identity = ViewerDropdown("Identity", names[0], names, hint="Whose identity code to render")
        self.viewer_expression_video = ViewerDropdown(
            "Expression from video", names[0], names, hint="Which video's expressions drive the face"
        )
        longest = max(len(e) for e in self.video_expressions)
        self.viewer_frame = ViewerSlider("Expression frame", 0, 0, longest - 1, step=1, hint="Frame of that video")
        self.viewer_play = ViewerCheckbox("Play expressions", False, cb_hook=self._on_play, hint="Step through frames")
        self._play_thread: Optional[threading.Thread] = None
        self._viewer_cam_idx = 0
        self.viewer_camera = FrameCameraControl(self.expression_frame_camera)
        self.viewer_go_to_camera = ViewerButton(
            "View from this frame's camera", cb_hook=lambda _: self.viewer_camera.move_all(),
        )  # fmt: skip

    def build_fields(self, condition_dim: int) -> None:
        """The paper's coarse and fine MLP fields and their samplers (64 uniform + 128 PDF by default)."""
        kwargs = dict(
            condition_dim=condition_dim,
            num_layers=self.config.num_layers,
            hidden_dim=self.config.hidden_dim,
            skip_layer=self.config.skip_layer,
            color_layers=self.config.color_layers,
            color_dim=self.config.color_dim,
            position_frequencies=self.config.position_frequencies,
            direction_frequencies=self.config.direction_frequencies,
        )
        self.field_coarse = MiNerfField(**kwargs)
        self.field_fine = MiNerfField(**kwargs)
        self.sampler_uniform = UniformSampler(num_samples=self.config.num_coarse_samples)
        self.sampler_pdf = PDFSampler(num_samples=self.config.num_importance_samples)

    # ----------------------------------------------------------------------------------------------- conditioning
    def identity_index(self, name: str) -> int:
        """Index of an identity by name (ValueError listing the known names otherwise)."""
        if name not in self.identity_names:
            raise ValueError(f"unknown identity {name!r}; known identities: {', '.join(self.identity_names)}")
        return self.identity_names.index(name)

    def video_mean_latents(self) -> Tensor:
        """Mean latent code of each video's train frames [num_identities, latent_dim]."""
        weight = self.latent_codes.weight
        num_ids = len(self.identity_names)
        sums = torch.zeros(num_ids, weight.shape[1], device=weight.device).index_add(
            0, self.train_frame_identity, weight
        )
        counts = torch.bincount(self.train_frame_identity, minlength=num_ids).clamp(min=1)
        return sums / counts[:, None].to(weight.device)

    def condition(self, expression: Tensor, identity_idx: Tensor, frame_idx: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """[M(e, i), l] per ray, plus ||i|| and ||l|| per ray for the regularisers.

        Args:
            expression: [R, d] expressions.
            identity_idx: [R, 1] video indices.
            frame_idx: [R, 1] train-frame indices, -1 where the frame was not trained on.
        """
        ident = self.identity_codes(identity_idx[..., 0])
        mixed = self.interaction(expression, ident)
        if self.config.latent_dim <= 0:
            zero = torch.zeros_like(mixed[..., :1])
            return mixed, ident.norm(dim=-1, keepdim=True), zero
        frames = frame_idx[..., 0]
        seen = frames >= 0
        latent = self.latent_codes(frames.clamp(min=0))
        if not bool(seen.all()):
            fallback = (
                self.video_mean_latents()[identity_idx[..., 0]]
                if self.config.unseen_latent == "video-mean"
                else torch.zeros_like(latent)
            )
            latent = torch.where(seen[..., None], latent, fallback)
        latent_norm = torch.where(seen, latent.norm(dim=-1), torch.zeros_like(frames, dtype=latent.dtype))
        return torch.cat([mixed, latent], -1), ident.norm(dim=-1, keepdim=True), latent_norm[..., None]

    # ------------------------------------------------------------------------------------------------- rendering
    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        """ "codes": identity and latent codes; "fields": everything else (interaction module, fields)."""
        named = [(n, p) for n, p in self.named_parameters() if n != "device_indicator_param"]
        return {
            "codes": [p for n, p in named if n.split(".")[0] in CODE_MODULES],
            "fields": [p for n, p in named if n.split(".")[0] not in CODE_MODULES],
        }

    def _render(self, field_module: MiNerfField, ray_samples: RaySamples, background: Tensor) -> Dict[str, Tensor]:
        density, embedding = field_module.get_density(ray_samples)
        rgb = field_module.get_outputs(ray_samples, density_embedding=embedding)[FieldHeadNames.RGB]
        # The last sample is the background pixel, opaque: NeRFace/AD-NeRF's rule (paper appendix E).
        density = torch.cat([density[:, :-1], torch.full_like(density[:, -1:], BACKGROUND_DENSITY)], dim=1)
        rgb = torch.cat([rgb[:, :-1], background[:, None, :].to(rgb)], dim=1)
        weights = ray_samples.get_weights(density)
        head_weights = weights[:, :-1]
        accumulation = head_weights.sum(dim=1)
        steps = (ray_samples.frustums.starts + ray_samples.frustums.ends)[:, :-1] / 2
        depth = (head_weights * steps).sum(dim=1) / accumulation.clamp(min=1e-6)
        return {
            "rgb": (weights * rgb).sum(dim=1),
            "accumulation": accumulation,
            "depth": depth,
            "weights": weights,
        }

    def get_outputs(self, ray_bundle: RayBundle) -> Dict[str, Tensor]:
        meta = ray_bundle.metadata
        assert meta is not None and "expression" in meta, "rays carry no expression metadata"
        cond, id_norm, latent_norm = self.condition(meta["expression"], meta["identity_idx"], meta["frame_idx"])
        bundle = RayBundle(
            origins=ray_bundle.origins,
            directions=ray_bundle.directions,
            pixel_area=ray_bundle.pixel_area,
            camera_indices=ray_bundle.camera_indices,
            nears=ray_bundle.nears,
            fars=ray_bundle.fars,
            metadata={CONDITION_KEY: cond},
        )
        background = meta["bg"] if "bg" in meta else torch.ones_like(ray_bundle.origins)
        outputs = self.render_rays(bundle, background)
        outputs["identity_norm"] = id_norm
        outputs["latent_norm"] = latent_norm
        return outputs

    def render_rays(self, bundle: RayBundle, background: Tensor) -> Dict[str, Tensor]:
        """Coarse (uniform) then fine (PDF) samples through their own fields, composited over ``background``."""
        samples_uniform = self.sampler_uniform(bundle)
        coarse = self._render(self.field_coarse, samples_uniform, background)
        pdf_weights = torch.cat([coarse["weights"][:, :-1], torch.zeros_like(coarse["weights"][:, -1:])], dim=1)
        samples_pdf = self.sampler_pdf(bundle, samples_uniform, pdf_weights.detach())
        fine = self._render(self.field_fine, samples_pdf, background)
        return {
            "rgb": fine["rgb"],
            "accumulation": fine["accumulation"],
            "depth": fine["depth"],
            "rgb_coarse": coarse["rgb"],
            "rgb_fine": fine["rgb"],
            "accumulation_coarse": coarse["accumulation"],
            "accumulation_fine": fine["accumulation"],
            "depth_coarse": coarse["depth"],
            "depth_fine": fine["depth"],
        }

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> Dict[str, Tensor]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        return {
            "rgb_loss_coarse": F.mse_loss(outputs["rgb_coarse"], image),
            "rgb_loss_fine": F.mse_loss(outputs["rgb_fine"], image),
            "latent_reg": self.config.latent_reg_mult * outputs["latent_norm"].mean(),
            "identity_reg": self.config.identity_reg_mult * outputs["identity_norm"].mean(),
        }

    def get_metrics_dict(self, outputs, batch) -> Dict[str, Tensor]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        return {"psnr": self.metrics.psnr(outputs["rgb"], image)}

    # ------------------------------------------------------------------------------------ whole images and viewer
    def camera_condition(self, camera: Cameras) -> Dict[str, Tensor]:
        """Expression, identity and frame of a camera that carries none (viewer, ns-render).

        Without a viewer, ``ns-render ... --camera-idx K`` sets ``metadata["cam_idx"] = K``: train frame K's identity,
        expression and latent; with no index, the controls' defaults (first identity, its frame 0).
        In the viewer, every camera carries ``cam_idx`` = the training frustum clicked last (0 before any click), so
        there the controls decide; a click on another frustum first sets the controls to that train frame.
        """
        meta = camera.metadata or {}
        cam_idx = meta.get("cam_idx")
        valid = cam_idx is not None and 0 <= int(cam_idx) < self.num_train_data
        if valid and not self.viewer_active:
            return condition_metadata(*self.train_frame_condition(int(cam_idx)))
        if valid and int(cam_idx) != self._viewer_cam_idx:
            self._viewer_cam_idx = int(cam_idx)
            self.show_train_frame_in_viewer(int(cam_idx))
        identity = self.identity_index(self.viewer_identity.value)
        source = self.identity_index(self.viewer_expression_video.value)
        frame = min(int(self.viewer_frame.value), len(self.video_expressions[source]) - 1)
        train_frame = int(self.video_train_frame_idx[source][frame]) if source == identity else -1
        return condition_metadata(self.video_expressions[source][frame], identity, train_frame)

    @property
    def viewer_active(self) -> bool:
        """True when a viewer has installed this model's controls (ns-viewer, or ns-train with the viewer)."""
        return getattr(self.viewer_identity, "gui_handle", None) is not None

    def train_frame_location(self, k: int) -> Tuple[int, int]:
        """(identity, frame within its video) of train frame ``k``."""
        identity = int(self.train_frame_identity[k])
        return identity, int(torch.nonzero(self.video_train_frame_idx[identity] == k)[0, 0])

    def train_frame_condition(self, k: int) -> Tuple[Tensor, int, int]:
        """(expression, identity, train-frame index) of train frame ``k``."""
        identity, local = self.train_frame_location(k)
        return self.video_expressions[identity][local], identity, k

    def show_train_frame_in_viewer(self, k: int) -> None:
        """Set the viewer controls to train frame ``k`` (identity, expression video, frame)."""
        identity, local = self.train_frame_location(k)
        name = self.identity_names[identity]
        self.viewer_identity.value = name
        self.viewer_expression_video.value = name
        self.viewer_frame.value = local

    def expression_frame_camera(self) -> Tuple[Tensor, float]:
        """Camera-to-world [3, 4] and vertical FOV (radians) of the viewer's expression video at its frame."""
        source = self.identity_index(self.viewer_expression_video.value)
        poses = self.video_camera_to_worlds[source]
        return poses[min(int(self.viewer_frame.value), len(poses) - 1)], self.video_vertical_fov[source]

    def background_for(self, identity: int, height: int, width: int) -> Tensor:
        """The identity's video background resized to ``height x width``, float [H, W, 3]."""
        bg = self.backgrounds[identity].float().permute(2, 0, 1)[None] / 255.0
        if bg.shape[-2:] != (height, width):
            bg = F.interpolate(bg, size=(height, width), mode="bilinear", align_corners=False)
        return bg[0].permute(1, 2, 0).to(self.device)

    @torch.no_grad()
    def get_outputs_for_camera(self, camera: Cameras, obb_box: Optional[OrientedBox] = None) -> Dict[str, Tensor]:
        camera = camera.to(self.device) if camera.device != self.device else camera
        if camera.metadata is None or "expression" not in camera.metadata:
            camera.metadata = {**(camera.metadata or {}), **self.camera_condition(camera)}
            camera.metadata = {k: v.to(self.device) if isinstance(v, Tensor) else v for k, v in camera.metadata.items()}
        rays = camera.generate_rays(camera_indices=0, keep_shape=True, obb_box=obb_box)
        height, width = rays.origins.shape[:2]
        identity = int(camera.metadata["identity_idx"].reshape(-1)[0])
        assert rays.metadata is not None
        rays.metadata["bg"] = self.background_for(identity, height, width)
        return self.get_outputs_for_camera_ray_bundle(rays)

    def get_image_metrics_and_images(
        self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]
    ) -> Tuple[Dict[str, float], Dict[str, Tensor]]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        box = batch.get("head_box")
        metrics = self.metrics.image_metrics(outputs["rgb_fine"], image, None if box is None else box.to(image.device))
        metrics["coarse_psnr"] = float(self.metrics.psnr(outputs["rgb_coarse"], image))
        acc = torch.cat([colormaps.apply_colormap(outputs["accumulation_coarse"]),
                         colormaps.apply_colormap(outputs["accumulation_fine"])], dim=1)  # fmt: skip
        depth = torch.cat(
            [
                colormaps.apply_depth_colormap(outputs[k], near_plane=self.near, far_plane=self.far)
                for k in ("depth_coarse", "depth_fine")
            ],
            dim=1,
        )
        images = {"img": torch.cat([image, outputs["rgb_coarse"], outputs["rgb_fine"]], dim=1),
                  "accumulation": acc, "depth": depth}  # fmt: skip
        return metrics, images

    def _on_play(self, element: ViewerCheckbox) -> None:
        """Start a thread that steps the expression frame while 'Play expressions' is ticked."""
        if element.value and (self._play_thread is None or not self._play_thread.is_alive()):
            self._play_thread = threading.Thread(target=self._play_loop, daemon=True)
            self._play_thread.start()

    def _play_loop(self) -> None:
        while bool(self.viewer_play.value):
            source = self.identity_index(self.viewer_expression_video.value)
            self.viewer_frame.value = (int(self.viewer_frame.value) + 1) % len(self.video_expressions[source])
            self.viewer_frame.cb_hook(self.viewer_frame)
            time.sleep(0.2)
