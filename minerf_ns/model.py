"""The MI-NeRF model: one dynamic face NeRF for many identities (Chatziagapi, Chrysos, Samaras).

Per ray: conditioning turns the ray's expression e, identity and train frame into [M(e, i), l] (``conditioning.py``);
the geometry samples the ray and evaluates its conditioned field (``geometry/``: the paper's MLPs or tri-planes);
compositing puts the head over the ray's background (``compositing.py``); the loss is the colour error of each
supervised pass plus lambda_l ||l|| + lambda_i ||i|| and the geometry's own regularisers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Tuple, Type, Union

import torch
import torch.nn.functional as F
import tyro
from torch import Tensor, nn
from torch.nn import Parameter

from minerf_ns import legacy
from minerf_ns.catalogue import CATALOGUE, VideoCatalogue
from minerf_ns.compositing import Composite
from minerf_ns.conditioning import CodeBook, Conditioning
from minerf_ns.contract import (
    BACKGROUND,
    CAMERA_CONDITION_KEYS,
    CONDITION,
    EXPRESSION,
    HEAD_BOX,
    IDENTITY,
    NO_SOURCE_FRAME,
    PIXEL_WEIGHT,
    SOURCE_FRAME,
    Condition,
)
from minerf_ns.geometry import GeometryConfig, MlpGeometryConfig, TriplaneGeometryConfig
from minerf_ns.interaction import InteractionName
from minerf_ns.metrics import ImageMetrics
from minerf_ns.viewer_controls import ViewerControls
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.configs.config_utils import to_immutable_dict
from nerfstudio.data.scene_box import OrientedBox
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.model_components.scene_colliders import NearFarCollider
from nerfstudio.models.base_model import Model, ModelConfig
from nerfstudio.utils import colormaps, misc

OUTPUTS = ("rgb", "accumulation", "depth")
"""What every pass renders; the last pass's are the model's ``rgb``/``accumulation``/``depth``, the others' carry the
pass name (``rgb_coarse``)."""


@dataclass
class MiNerfModelConfig(ModelConfig):
    """MI-NeRF: one dynamic face NeRF for many identities, conditioned on M(e, i) and per-frame latent codes."""

    _target: Type = field(default_factory=lambda: MiNerfModel)
    geometry: GeometryConfig = field(default_factory=MlpGeometryConfig)
    """How rays are sampled and the conditioned field evaluated (its options follow --pipeline.model.geometry.)."""
    interaction: InteractionName = "multiplicative"
    """How e and i are mixed: multiplicative (Eq. 1), high-degree (Eq. 2), concat (Baseline NeRF), or a1..a7."""
    interaction_rank: int = 8
    """Rank k of the multiplicative module."""
    interaction_degree: int = 2
    """Degree N of the high-degree module."""
    expression_gain: float = 1.0
    """The expression e enters M(e, i) as this times e. Blendshape weights of real speech move by about 0.04 (the
    mean of their standard deviations on six of the nine real people; jawOpen's 95th percentile 0.15-0.34) against
    identity codes of standard deviation 1: a gain lets the expression's terms start at the identity's scale.
    Measured in BENCHMARKS.md ("The mouth")."""
    latent_dim: int = 32
    """Size of the per-frame latent code l (0 disables latent codes)."""
    latent_reg_mult: float = 0.01
    """lambda_l: weight of ||l||."""
    identity_reg_mult: float = 1e-4
    """lambda_i: weight of ||i||."""
    smoothing_after: float = 0.5
    """Fraction of --max-num-iterations after which the temporal smoothing (a learned attention over a window of 8
    neighbouring frames, applied to M(e, i) and l) is switched on. The paper switches it on after 200k iterations of its
    400k: 0.5 gives exactly that for mi-nerf's 400k and scales it for shorter runs. 1 or more: never."""
    unseen_latent: Literal["video-mean", "zero"] = "video-mean"
    """Latent code of frames not trained on (val/test, viewer, novel renders): the video's mean latent, or zero."""
    enable_collider: tyro.conf.Suppress[bool] = True
    """Not an option: rays are always clipped to the dataset's near/far planes (the samplers need them)."""
    collider_params: tyro.conf.Suppress[Optional[Dict[str, float]]] = None
    """Not an option: the near/far planes come from the dataset (mi-nerf-data's ``--near-margin``, ``--far-margin``)."""
    loss_coefficients: Dict[str, float] = to_immutable_dict({"rgb_loss_coarse": 1.0, "rgb_loss_fine": 1.0})
    """Weight of each pass's colour loss: the MLP geometry's coarse and fine passes; the tri-plane geometry's one pass
    is "fine" (as nerfstudio's vanilla-nerf scales its losses). The code regularizers have their own weights."""
    prompt: tyro.conf.Suppress[Optional[str]] = None
    """Not an option: no text prompt."""
    freeze_interaction: bool = False
    """Keep the interaction module's weights fixed (personalization, paper sec. 3.4)."""
    allow_tf32: bool = True
    """On CUDA, let float32 matrix products use TensorFloat-32 tensor cores (training and rendering; PyTorch's
    default is off). No effect on a CPU."""

    def __setstate__(self, state: Dict[str, Any]) -> None:
        # config.yml files of runs trained before the geometry was its own config (see legacy.py).
        self.__dict__.update(upgrade_model_config(state))


@dataclass
class MiImageModelConfig(MiNerfModelConfig):
    """MI-NeRF with a geometry that renders whole images (``mi-gaussians``)."""

    eval_num_rays_per_chunk: tyro.conf.Suppress[int] = 4096
    """Not an option: whole images are rendered at once, not in chunks of rays."""


class LegacyFastModelConfig(MiNerfModelConfig):
    """Loads an old ``mi-nerf-fast`` model config (``minerf_ns.fast_model.MiNerfFastModelConfig``) as the current
    config with a tri-plane geometry."""

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(upgrade_model_config(state, geometry="triplane"))
        self.__class__ = MiNerfModelConfig  # saved again, it is an ordinary current config


def upgrade_model_config(state: Dict[str, Any], geometry: str = "mlp") -> Dict[str, Any]:
    """The fields of a model config loaded from ``config.yml``: an old config's flat geometry options become a
    geometry config ("mlp" or "triplane": which one an old config meant)."""
    if "geometry" in state:
        return state
    fields, options = legacy.split_old_model_config(state, geometry)
    fields["geometry"] = (MlpGeometryConfig if geometry == "mlp" else TriplaneGeometryConfig)(**options)
    return fields


def upgrade_state_dict(module: Optional[nn.Module], state_dict: Dict[str, Any], prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook: rename an old checkpoint's keys (below ``prefix``) in place, and give weights
    and buffers added since then the values ``module`` (the model being loaded) starts with."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        new = prefix + legacy.renamed_key(key[len(prefix) :])
        if new != key:
            state_dict[new] = state_dict.pop(key)
    if module is not None:
        current = module.state_dict()
        for key in current:
            if key.startswith(legacy.ADDED_KEYS) and prefix + key not in state_dict:
                state_dict[prefix + key] = current[key]


class MiNerfModel(Model):
    """MI-NeRF model.

    Args:
        config: MI-NeRF configuration.
    """

    config: MiNerfModelConfig

    def populate_modules(self) -> None:
        # Not super().populate_modules(): it builds a collider from collider_params, which the dataset's planes replace.
        self.catalogue: VideoCatalogue = self.kwargs["metadata"][CATALOGUE]
        catalogue = self.catalogue
        assert catalogue.num_train_frames == self.num_train_data, "the catalogue and the train split disagree"
        codes = CodeBook(
            catalogue.train_frame_identity(),
            num_identities=catalogue.num_videos,
            identity_dim=catalogue.expression_dim,
            latent_dim=self.config.latent_dim,
            unseen_latent=self.config.unseen_latent,
        )
        self.conditioning = Conditioning(
            codes,
            self.config.interaction,
            self.config.interaction_rank,
            self.config.interaction_degree,
            frozen_interaction=self.config.freeze_interaction,
            expression_gain=self.config.expression_gain,
        )
        self.geometry = self.config.geometry.setup(
            condition_dim=self.conditioning.out_dim, aabb=self.scene_box.aabb, expression_dim=catalogue.expression_dim
        )
        self.collider = NearFarCollider(near_plane=catalogue.near, far_plane=catalogue.far)
        self.metrics = ImageMetrics()
        self.viewer_controls = ViewerControls(catalogue)
        if self.config.allow_tf32:  # a process-wide switch; only CUDA matmuls read it
            torch.backends.cuda.matmul.allow_tf32 = True
        self.step = 0
        """The training step of the weights (set by training callbacks and when a checkpoint is loaded)."""
        self.register_load_state_dict_pre_hook(upgrade_state_dict)

    def update_to_step(self, step: int) -> None:
        self.step = step  # nerfstudio calls this when it loads a checkpoint

    def get_training_callbacks(self, attributes: TrainingCallbackAttributes) -> List[TrainingCallback]:
        """Update the geometry's occupancy grid every ``occupancy_every`` iterations and after the last one (so the
        final checkpoint holds a grid of the final weights)."""
        iterations = attributes.trainer.config.max_num_iterations if attributes.trainer is not None else 0
        smoothing_from = self.config.smoothing_after * iterations

        def switch_smoothing(step: int) -> None:
            # Also when a run resumes past the switch from a checkpoint saved before it.
            if step >= smoothing_from and not self.conditioning.smoothing.is_active:
                self.conditioning.smoothing.switch_on()

        callbacks = []
        if self.config.smoothing_after < 1:
            callbacks.append(TrainingCallback([TrainingCallbackLocation.BEFORE_TRAIN_ITERATION], switch_smoothing))
        every = self.geometry.occupancy_every
        if every <= 0:
            return callbacks

        def refresh(step: int) -> None:
            if step % every == 0 or step == iterations - 1:
                self.refresh_occupancy(step)

        return callbacks + [TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], refresh)]

    @torch.no_grad()
    def refresh_occupancy(self, step: int) -> None:
        """Recompute the geometry's occupancy grid over the conditions of train frames spread evenly over every
        video (identity, expression and latent code as trained)."""
        catalogue = self.catalogue
        count = min(self.geometry.occupancy_conditions, catalogue.num_train_frames)
        if count <= 0:  # a geometry without an occupancy grid
            return
        frames = torch.linspace(0, catalogue.num_train_frames - 1, count).round().long().unique().tolist()
        metadata = Condition.batch_metadata([catalogue.train_frame_condition(k) for k in frames])
        vectors = self.conditioning({k: v.to(self.device) for k, v in metadata.items()}).vector
        self.geometry.update_occupancy(vectors, step)

    @property
    def identity_names(self) -> List[str]:
        """The identities the model renders, in index order."""
        return self.catalogue.identity_names

    def network_modules(self) -> Dict[str, nn.Module]:
        """The shared network (everything but the codes): what personalization copies from a trained model."""
        return {
            "interaction": self.conditioning.interaction,
            "smoothing": self.conditioning.smoothing,
            "geometry": self.geometry,
        }

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        """Optimizer groups: "codes" (identity and latent codes), "fields" (the interaction module and the geometry's
        networks) and the geometry's own (tri-planes: "grids")."""
        groups = self.conditioning.parameter_groups()
        for name, params in self.geometry.parameter_groups().items():
            groups.setdefault(name, []).extend(params)
        return groups

    # ------------------------------------------------------------------------------------------------- rendering
    def forward(self, ray_bundle: Union[RayBundle, Cameras]) -> Dict[str, Any]:
        if isinstance(ray_bundle, Cameras):  # a whole frame (geometries that render images): no rays to clip
            return self.get_outputs(ray_bundle)
        return super().forward(ray_bundle)

    def get_outputs(self, ray_bundle: Union[RayBundle, Cameras]) -> Dict[str, Any]:
        if isinstance(ray_bundle, Cameras):
            return self.get_image_outputs(ray_bundle)
        meta = ray_bundle.metadata
        assert meta is not None and EXPRESSION in meta, "rays carry no expression metadata"
        if CONDITION in meta:  # a whole image's rays, its condition computed once (get_outputs_for_camera)
            vector = meta[CONDITION]
            identity_norm = latent_norm = torch.zeros_like(vector[:, :1])
        else:
            condition = self.conditioning(meta)
            vector, identity_norm, latent_norm = condition.vector, condition.identity_norm, condition.latent_norm
        # The geometry sees only the condition, and the frame's own expression (a warped field moves samples by it).
        rays = dataclasses.replace(ray_bundle, metadata={CONDITION: vector, EXPRESSION: meta[EXPRESSION]})
        background = meta[BACKGROUND] if BACKGROUND in meta else torch.ones_like(ray_bundle.origins)
        passes = self.geometry(rays, background)
        outputs: Dict[str, Any] = pass_outputs(passes)
        outputs["identity_norm"] = identity_norm
        outputs["latent_norm"] = latent_norm
        if self.training:  # scalars: only in training outputs (eval outputs are reshaped to images)
            outputs["regularizers"] = self.geometry.regularizers()
        return outputs

    def image_condition(self, metadata: Dict[str, Tensor]) -> Tuple[Any, Tensor]:
        """The condition of one camera's whole image, computed once, not per pixel (the window of neighbours is W
        expressions per camera), and the frame's own expression (what a mesh-bound geometry reads)."""
        own = {k: v.reshape(-1, v.shape[-1])[:1] for k, v in metadata.items() if k in CAMERA_CONDITION_KEYS}
        return self.conditioning(own), own[EXPRESSION][0]

    def get_image_outputs(self, camera: Cameras) -> Dict[str, Any]:
        """A whole frame from a camera carrying its condition inputs and background (``MiImageDataManager``)."""
        assert camera.metadata is not None and BACKGROUND in camera.metadata, "the camera carries no frame metadata"
        meta = {k: v.to(self.device) for k, v in camera.metadata.items()}
        condition, expression = self.image_condition(meta)
        background = meta[BACKGROUND].reshape(meta[BACKGROUND].shape[-3:])
        outputs: Dict[str, Any] = self.geometry.render_camera(camera, condition.vector[0], expression, background)
        outputs["identity_norm"] = condition.identity_norm
        outputs["latent_norm"] = condition.latent_norm
        if self.training:
            outputs["regularizers"] = self.geometry.regularizers()
        return outputs

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> Dict[str, Tensor]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        final = self.geometry.pass_names[-1]
        weights = batch.get(PIXEL_WEIGHT)  # a whole frame: each pixel at the head-box sampler's odds

        def error(rendered: Tensor) -> Tensor:
            if weights is None:
                return F.mse_loss(rendered, image)
            return ((rendered - image) ** 2).mean(-1, keepdim=True).mul(weights.to(image)).sum()

        colour = {
            f"rgb_loss_{name}": error(outputs["rgb" if name == final else f"rgb_{name}"])
            for name in self.geometry.supervised_passes
        }
        losses = misc.scale_dict(colour, self.config.loss_coefficients)
        losses["latent_reg"] = self.config.latent_reg_mult * outputs["latent_norm"].mean()
        losses["identity_reg"] = self.config.identity_reg_mult * outputs["identity_norm"].mean()
        # Training outputs only (ns-train's periodic eval-batch step calls this in eval mode).
        losses.update(outputs.get("regularizers", {}))
        return losses

    def get_metrics_dict(self, outputs, batch) -> Dict[str, Tensor]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        return {"psnr": self.metrics.psnr(outputs["rgb"], image)}

    # ------------------------------------------------------------------------------------------------ whole images
    def camera_condition(self, camera: Cameras) -> Condition:
        """The condition of a camera that carries none (viewer, ns-render).

        Without a viewer, ``ns-render ... --camera-idx K`` sets ``metadata["cam_idx"] = K``: train frame K's identity,
        expression and latent; with no index, the first identity's first frame. In the viewer the controls decide.
        """
        cam_idx = (camera.metadata or {}).get("cam_idx")
        train_frame = int(cam_idx) if cam_idx is not None and 0 <= int(cam_idx) < self.num_train_data else None
        if self.viewer_controls.active:
            return self.viewer_controls.condition(train_frame)
        if train_frame is not None:
            return self.catalogue.train_frame_condition(train_frame)
        return self.catalogue.frame_condition(0, 0)

    @torch.no_grad()
    def get_outputs_for_camera(self, camera: Cameras, obb_box: Optional[OrientedBox] = None) -> Dict[str, Tensor]:
        if self.geometry.needs_occupancy:  # a run trained before the grid existed, or a fresh model
            self.refresh_occupancy(self.step)
        camera = camera.to(self.device)  # a copy: the caller's camera keeps its metadata
        if camera.metadata is None or EXPRESSION not in camera.metadata:
            condition = self.camera_condition(camera).camera_metadata()
            camera.metadata = {**(camera.metadata or {}), **{k: v.to(self.device) for k, v in condition.items()}}
        identity = int(camera.metadata[IDENTITY].reshape(-1)[0])
        source = camera.metadata.get(SOURCE_FRAME)
        row = int(source.reshape(-1)[0]) if source is not None else NO_SOURCE_FRAME
        vector, expression = self.image_condition(camera.metadata)
        camera.metadata = {k: v for k, v in camera.metadata.items() if k not in CAMERA_CONDITION_KEYS}
        height, width = int(camera.height.reshape(-1)[0]), int(camera.width.reshape(-1)[0])
        background = self.catalogue.frame_background(identity, row, height, width).to(self.device).float() / 255.0
        if self.geometry.renders_images:
            outputs = self.geometry.render_camera(camera, vector.vector[0], expression, background, obb_box)
        else:
            rays = camera.generate_rays(camera_indices=0, keep_shape=True, obb_box=obb_box)
            assert rays.metadata is not None
            rays.metadata[CONDITION] = vector.vector.view(1, 1, -1).expand(height, width, -1)
            rays.metadata[EXPRESSION] = expression.view(1, 1, -1).expand(height, width, -1)
            rays.metadata[BACKGROUND] = background
            outputs = self.get_outputs_for_camera_ray_bundle(rays)
        if self.viewer_controls.active:
            self.viewer_controls.rendered()
        return outputs

    def rays_per_chunk(self, num_rays: int) -> int:
        """Rays rendered at once: the config's ``eval_num_rays_per_chunk`` on a CPU (larger chunks measured slower
        there); on a GPU as many as half the free memory holds (measured need per ray: the geometry's estimate), so a
        512x512 frame is one chunk and the GPU waits for the host once per frame, not once per 4,096 rays."""
        chunk = self.config.eval_num_rays_per_chunk
        if self.device.type != "cuda":
            return chunk
        free, _ = torch.cuda.mem_get_info(self.device)
        return max(chunk, min(num_rays, int(0.5 * free) // self.geometry.bytes_per_ray))

    @torch.no_grad()
    def get_outputs_for_camera_ray_bundle(self, camera_ray_bundle: RayBundle) -> Dict[str, Tensor]:
        """nerfstudio's chunked rendering of an image's rays, with ``rays_per_chunk`` rays at a time and the outputs
        kept on the model's device until the image is whole."""
        height, width = camera_ray_bundle.origins.shape[:2]
        num_rays = len(camera_ray_bundle)
        chunk = self.rays_per_chunk(num_rays)
        pieces: Dict[str, List[Tensor]] = {}
        for start in range(0, num_rays, chunk):
            rays = camera_ray_bundle.get_row_major_sliced_ray_bundle(start, start + chunk).to(self.device)
            for name, value in self.forward(ray_bundle=rays).items():
                if isinstance(value, Tensor):
                    pieces.setdefault(name, []).append(value)
        device = camera_ray_bundle.directions.device
        return {name: torch.cat(values).view(height, width, -1).to(device) for name, values in pieces.items()}

    def get_image_metrics_and_images(
        self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]
    ) -> Tuple[Dict[str, float], Dict[str, Tensor]]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        box = batch.get(HEAD_BOX)
        metrics = self.metrics.image_metrics(outputs["rgb"], image, None if box is None else box.to(image.device))
        earlier = self.geometry.pass_names[:-1]
        for name in earlier:
            metrics[f"{name}_psnr"] = float(self.metrics.psnr(outputs[f"rgb_{name}"], image))
        keys = [f"{{}}_{name}" for name in earlier] + ["{}"]
        depth_range = dict(near_plane=self.catalogue.near, far_plane=self.catalogue.far)
        images = {
            "img": torch.cat([image] + [outputs[k.format("rgb")] for k in keys], dim=1),
            "accumulation": torch.cat([colormaps.apply_colormap(outputs[k.format("accumulation")]) for k in keys], 1),
            "depth": torch.cat(
                [colormaps.apply_depth_colormap(outputs[k.format("depth")], **depth_range) for k in keys], dim=1
            ),  # fmt: skip
        }
        return metrics, images


def pass_outputs(passes: Dict[str, Composite]) -> Dict[str, Tensor]:
    """Model outputs of rendering passes: the last pass's ``rgb``, ``accumulation``, ``depth``; the others' with
    their name (``rgb_coarse``)."""
    final = list(passes)[-1]
    outputs = {}
    for name, result in passes.items():
        suffix = "" if name == final else f"_{name}"
        for key in OUTPUTS:
            value = getattr(result, key)
            if value is not None:
                outputs[key + suffix] = value
    return outputs
