"""A pixel sampler that puts a fixed fraction of the rays inside the head box (NeRFace/AD-NeRF: 95%)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Type

import torch

from nerfstudio.data.pixel_samplers import PixelSampler, PixelSamplerConfig


@dataclass
class HeadBoxPixelSamplerConfig(PixelSamplerConfig):
    """Pixel sampler with most rays inside the per-pixel ``head_box`` of each image."""

    _target: Type = field(default_factory=lambda: HeadBoxPixelSampler)
    in_box_fraction: float = 0.95
    """Fraction of the rays drawn uniformly from head-box pixels; the rest are drawn from the whole image."""


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

    def collate_image_dataset_batch(self, batch: Dict, num_rays_per_batch: int, keep_full_image: bool = False):
        if "head_box" not in batch or "mask" in batch:
            return super().collate_image_dataset_batch(batch, num_rays_per_batch, keep_full_image)
        device = batch["image"].device
        num_images, height, width, _ = batch["image"].shape
        box_pixels = self._head_box_pixels(batch["head_box"])
        num_in_box = int(round(self.config.in_box_fraction * num_rays_per_batch)) if len(box_pixels) else 0
        chosen = box_pixels[torch.randint(len(box_pixels), (num_in_box,), device=box_pixels.device)]
        anywhere = self.sample_method(num_rays_per_batch - num_in_box, num_images, height, width, device=device)
        indices = torch.cat([chosen.to(device).long(), anywhere.long()], dim=0)
        c, y, x = (i.flatten().cpu() for i in torch.split(indices, 1, dim=-1))
        collated = {key: value[c, y, x] for key, value in batch.items() if key != "image_idx" and value is not None}
        indices[:, 0] = batch["image_idx"][c]
        collated["indices"] = indices
        if keep_full_image:
            collated["full_image"] = batch["image"]
        return collated
