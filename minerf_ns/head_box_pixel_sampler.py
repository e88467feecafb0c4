"""A pixel sampler that puts a fixed fraction of the rays inside the head box (NeRFace/AD-NeRF: 95%), from all the
cached frames at once or, as the paper does, from one randomly chosen frame per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Type

import torch
import tyro
from jaxtyping import Bool, Float
from torch import Tensor

from minerf_ns.contract import HEAD_BOX
from nerfstudio.data.pixel_samplers import PixelSampler, PixelSamplerConfig


@dataclass
class HeadBoxPixelSamplerConfig(PixelSamplerConfig):
    """Pixel sampler with most rays inside the per-pixel ``head_box`` of each image."""

    _target: Type = field(default_factory=lambda: HeadBoxPixelSampler)
    # nerfstudio's options that do nothing here, kept off the command line (tyro.conf.Suppress):
    num_rays_per_batch: tyro.conf.Suppress[int] = 4096
    """Not an option: the datamanager sets it from --pipeline.datamanager.train-num-rays-per-batch."""
    keep_full_image: tyro.conf.Suppress[bool] = False
    """Not an option: nothing of ours reads the full image from a ray batch."""
    is_equirectangular: tyro.conf.Suppress[bool] = False
    """Not an option: the cameras are perspective."""
    fisheye_crop_radius: tyro.conf.Suppress[Optional[float]] = None
    """Not an option: the cameras are perspective."""
    ignore_mask: tyro.conf.Suppress[bool] = False
    """Not an option: our datasets have no masks (head masks become the head box)."""
    rejection_sample_mask: tyro.conf.Suppress[bool] = True
    """Not an option: our datasets have no masks."""
    max_num_iterations: tyro.conf.Suppress[int] = 100
    """Not an option: our datasets have no masks."""
    in_box_fraction: float = 0.95
    """Fraction of the rays drawn uniformly from head-box pixels; the rest are drawn from the whole image."""
    one_frame_per_batch: bool = False
    """Draw each step's rays from a single randomly chosen frame (the paper, appendix E: "2048 rays ... from a single
    randomly-chosen video frame"); off: from every cached frame at once (nerfstudio's way). Measured in
    BENCHMARKS.md ("One-frame batches")."""


class HeadBoxPixelSampler(PixelSampler):
    """Samples ``in_box_fraction`` of the rays inside ``batch["head_box"]`` and the rest anywhere."""

    config: HeadBoxPixelSamplerConfig

    def __init__(self, config: HeadBoxPixelSamplerConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self._box_key: tuple | None = None
        self._box_pixels: torch.Tensor | None = None

    def _head_box_pixels(self, head_box: torch.Tensor) -> torch.Tensor:
        """(image, y, x) of every head-box pixel, cached while the same image batch is in use."""
        key = (head_box.data_ptr(), tuple(head_box.shape))
        if key != self._box_key:
            self._box_pixels = torch.nonzero(head_box[..., 0])
            self._box_key = key
        assert self._box_pixels is not None
        return self._box_pixels

    def _one_frame(self, box_pixels: torch.Tensor, num_images: int) -> tuple[torch.Tensor, int]:
        """The head-box pixels of one frame drawn uniformly, and that frame (``box_pixels`` is sorted by frame)."""
        frame = int(torch.randint(num_images, (1,)))
        bounds = torch.searchsorted(box_pixels[:, 0].contiguous(), torch.tensor([frame, frame + 1]).to(box_pixels))
        return box_pixels[int(bounds[0]) : int(bounds[1])], frame

    def collate_image_dataset_batch(self, batch: Dict, num_rays_per_batch: int, keep_full_image: bool = False):
        if HEAD_BOX not in batch or "mask" in batch:
            return super().collate_image_dataset_batch(batch, num_rays_per_batch, keep_full_image)
        device = batch["image"].device
        num_images, height, width, _ = batch["image"].shape
        box_pixels = self._head_box_pixels(batch[HEAD_BOX])
        if self.config.one_frame_per_batch:
            box_pixels, frame = self._one_frame(box_pixels, num_images)
        num_in_box = int(round(self.config.in_box_fraction * num_rays_per_batch)) if len(box_pixels) else 0
        chosen = box_pixels[torch.randint(len(box_pixels), (num_in_box,), device=box_pixels.device)]
        anywhere = self.sample_method(num_rays_per_batch - num_in_box, num_images, height, width, device=device)
        if self.config.one_frame_per_batch:
            anywhere[:, 0] = frame
        indices = torch.cat([chosen.to(device).long(), anywhere.long()], dim=0)
        c, y, x = (i.flatten().cpu() for i in torch.split(indices, 1, dim=-1))
        collated = {key: value[c, y, x] for key, value in batch.items() if key != "image_idx" and value is not None}
        indices[:, 0] = batch["image_idx"][c]
        collated["indices"] = indices
        if keep_full_image:
            collated["full_image"] = batch["image"]
        return collated


def pixel_weights(head_box: Bool[Tensor, "H W 1"], in_box_fraction: float) -> Float[Tensor, "H W 1"]:
    """How often the sampler above draws each pixel of one frame, as weights summing to 1: ``in_box_fraction`` spread
    over the head box and the rest over the whole image. A whole-image loss weighted by them is the ray loss's
    expectation (the Gaussian geometry trains on whole images)."""
    box = head_box.float()
    inside = float(box.sum())
    anywhere = torch.full_like(box, (1.0 - in_box_fraction) / box.numel())
    if inside == 0:
        return torch.full_like(box, 1.0 / box.numel())
    return anywhere + box * (in_box_fraction / inside)
