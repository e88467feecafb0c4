"""MI-NeRF fast: the same codes, interaction module, background rule, viewer controls and commands as `mi-nerf`,
with a tri-plane field and a cheap sampler (paper appendix D: the module on a grid-based NeRF).

Sampling: an optional proposal pass evaluates the same field without gradients at uniform samples inside the
near/far planes; its weights place PDF samples, which are merged with the proposal samples (so the last sample is
still the far plane, where the background pixel sits) and rendered with gradients. With no proposal samples the
model renders stratified uniform samples only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple, Type

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter

from minerf_ns.fast_field import MiNerfFastField
from minerf_ns.model import MiNerfModel, MiNerfModelConfig
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.model_components.ray_samplers import PDFSampler, UniformSampler


@dataclass
class MiNerfFastModelConfig(MiNerfModelConfig):
    """MI-NeRF with a tri-plane field (the MLP options of `mi-nerf` do not apply)."""

    _target: Type = field(default_factory=lambda: MiNerfFastModel)
    num_proposal_samples: int = 24
    """Uniform samples per ray evaluated without gradients to place the PDF samples (0: no proposal pass)."""
    num_samples: int = 32
    """Samples per ray rendered with gradients: PDF samples after a proposal pass, else stratified uniform ones."""
    plane_resolutions: Tuple[int, ...] = (32, 64, 128)
    """Side of the tri-planes of each level."""
    plane_channels: int = 8
    """Features per plane and level."""
    decoder_dim: int = 64
    """Width of the density and colour decoders."""
    decoder_layers: int = 2
    """Hidden layers of the density decoder."""
    plane_tv_mult: float = 1e-4
    """Weight of the tri-planes' total variation."""


class MiNerfFastModel(MiNerfModel):
    """MI-NeRF with a tri-plane field and a proposal pass through the same field.

    Args:
        config: fast MI-NeRF configuration.
    """

    config: MiNerfFastModelConfig

    def build_fields(self, condition_dim: int) -> None:
        self.field = MiNerfFastField(
            condition_dim,
            self.scene_box.aabb,
            resolutions=self.config.plane_resolutions,
            channels=self.config.plane_channels,
            hidden_dim=self.config.decoder_dim,
            num_layers=self.config.decoder_layers,
            direction_frequencies=self.config.direction_frequencies,
        )
        proposal = self.config.num_proposal_samples
        self.sampler_uniform = UniformSampler(num_samples=proposal if proposal > 0 else self.config.num_samples)
        self.sampler_pdf = PDFSampler(num_samples=self.config.num_samples, include_original=True)

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        """As `mi-nerf`'s, with the tri-planes in their own group "grids" (a higher learning rate)."""
        groups = super().get_param_groups()
        grids = {id(p) for p in self.field.grid.parameters()}
        return {**groups, "fields": [p for p in groups["fields"] if id(p) not in grids],
                "grids": list(self.field.grid.parameters())}  # fmt: skip

    def render_rays(self, bundle: RayBundle, background: Tensor) -> Dict[str, Tensor]:
        samples = self.sampler_uniform(bundle)
        coarse = None
        if self.config.num_proposal_samples > 0:
            with torch.no_grad():
                coarse = self._render(self.field, samples, background)
            weights = torch.cat([coarse["weights"][:, :-1], torch.zeros_like(coarse["weights"][:, -1:])], dim=1)
            samples = self.sampler_pdf(bundle, samples, weights)
        fine = self._render(self.field, samples, background)
        coarse = coarse or fine
        outputs = {"rgb": fine["rgb"], "accumulation": fine["accumulation"], "depth": fine["depth"]}
        for name in ("rgb", "accumulation", "depth"):
            outputs[f"{name}_coarse"], outputs[f"{name}_fine"] = coarse[name], fine[name]
        if self.training:  # a scalar: only in training outputs (eval outputs are reshaped to images)
            outputs["plane_tv"] = self.field.grid.total_variation()
        return outputs

    def get_loss_dict(self, outputs, batch, metrics_dict=None) -> Dict[str, Tensor]:
        image = batch["image"][..., :3].to(outputs["rgb"].device)
        losses = {
            "rgb_loss": F.mse_loss(outputs["rgb"], image),
            "latent_reg": self.config.latent_reg_mult * outputs["latent_norm"].mean(),
            "identity_reg": self.config.identity_reg_mult * outputs["identity_norm"].mean(),
        }
        if "plane_tv" in outputs:  # training outputs only (ns-train's eval-batch step calls this in eval mode)
            losses["plane_tv"] = self.config.plane_tv_mult * outputs["plane_tv"]
        return losses
