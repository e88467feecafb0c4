"""A pixel sampler that puts a fixed fraction of the rays inside the head box (NeRFace/AD-NeRF: 95%), and optionally a
share of those inside the mouth box (the lip rectangle ER-NeRF and SyncTalk sample), from all the cached frames at once
or, as the paper does, from one randomly chosen frame per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Type

import torch
import tyro
from jaxtyping import Bool, Float
from torch import Tensor

from minerf_ns.contract import HEAD_BOX, MOUTH_BOX
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
    mouth_fraction: float = 0.0
    """Fraction of the rays drawn uniformly from mouth-box pixels (taken from the head box's share; frames without a
    mouth box give theirs to the head box). The mouth is about 3% of a face's head box: this many rays learn how it
    moves with the expression. Measured in docs/benchmarks.md ("The mouth")."""
    one_frame_per_batch: bool = False
    """Draw each step's rays from a single randomly chosen frame (the paper, appendix E: "2048 rays ... from a single
    randomly-chosen video frame"); off: from every cached frame at once (nerfstudio's way). Measured in
    BENCHMARKS.md ("One-frame batches")."""


class HeadBoxPixelSampler(PixelSampler):
    """Samples ``in_box_fraction`` of the rays inside ``batch["head_box"]`` and the rest anywhere."""

    config: HeadBoxPixelSamplerConfig

    def __init__(self, config: HeadBoxPixelSamplerConfig, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self._box_pixels: Dict[str, tuple[tuple, torch.Tensor]] = {}

    def _pixels(self, name: str, box: torch.Tensor) -> torch.Tensor:
        """(image, y, x) of every pixel of a box image (head or mouth), cached while the same image batch is in use."""
        key = (box.data_ptr(), tuple(box.shape))
        if name not in self._box_pixels or self._box_pixels[name][0] != key:
            self._box_pixels[name] = (key, torch.nonzero(box[..., 0]))
        return self._box_pixels[name][1]

    @staticmethod
    def _of_frame(box_pixels: torch.Tensor, frame: int) -> torch.Tensor:
        """The pixels of one frame (``box_pixels`` is sorted by frame)."""
        bounds = torch.searchsorted(box_pixels[:, 0].contiguous(), torch.tensor([frame, frame + 1]).to(box_pixels))
        return box_pixels[int(bounds[0]) : int(bounds[1])]

    @staticmethod
    def _draw(pixels: torch.Tensor, count: int) -> torch.Tensor:
        """``count`` of ``pixels`` drawn uniformly with replacement."""
        if count == 0:  # randint cannot draw from an empty range, even nothing
            return pixels[:0]
        return pixels[torch.randint(len(pixels), (count,), device=pixels.device)]

    def collate_image_dataset_batch(self, batch: Dict, num_rays_per_batch: int, keep_full_image: bool = False):
        if HEAD_BOX not in batch or "mask" in batch:
            return super().collate_image_dataset_batch(batch, num_rays_per_batch, keep_full_image)
        device = batch["image"].device
        num_images, height, width, _ = batch["image"].shape
        box_pixels = self._pixels(HEAD_BOX, batch[HEAD_BOX])
        use_mouth = self.config.mouth_fraction > 0 and batch.get(MOUTH_BOX) is not None
        mouth_pixels = self._pixels(MOUTH_BOX, batch[MOUTH_BOX]) if use_mouth else box_pixels[:0]
        if self.config.one_frame_per_batch:
            frame = int(torch.randint(num_images, (1,)))
            box_pixels, mouth_pixels = self._of_frame(box_pixels, frame), self._of_frame(mouth_pixels, frame)
        num_in_box = int(round(self.config.in_box_fraction * num_rays_per_batch)) if len(box_pixels) else 0
        num_mouth = int(round(self.config.mouth_fraction * num_rays_per_batch)) if len(mouth_pixels) else 0
        num_mouth = min(num_mouth, num_in_box)
        chosen = torch.cat([self._draw(mouth_pixels, num_mouth), self._draw(box_pixels, num_in_box - num_mouth)])
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


def pixel_weights(
    head_box: Bool[Tensor, "H W 1"],
    in_box_fraction: float,
    mouth_box: Optional[Bool[Tensor, "H W 1"]] = None,
    mouth_fraction: float = 0.0,
) -> Float[Tensor, "H W 1"]:
    """How often the sampler above draws each pixel of one frame, as weights summing to 1: ``in_box_fraction`` spread
    over the head box (``mouth_fraction`` of it over the mouth box, where there is one) and the rest over the whole
    image. A whole-image loss weighted by them is the ray loss's expectation (the Gaussian geometry trains on whole
    images)."""
    box = head_box.float()
    inside = float(box.sum())
    anywhere = torch.full_like(box, (1.0 - in_box_fraction) / box.numel())
    if inside == 0:
        return torch.full_like(box, 1.0 / box.numel())
    mouth = mouth_box.float() if mouth_box is not None else torch.zeros_like(box)
    mouth_share = min(mouth_fraction, in_box_fraction) if float(mouth.sum()) > 0 else 0.0
    weights = anywhere + box * ((in_box_fraction - mouth_share) / inside)
    return weights + mouth * (mouth_share / max(float(mouth.sum()), 1.0))
