"""The MI-NeRF datamanager: head-box ray sampling, the background colour of every ray, a bounded image cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Type

import torch
import tyro
from torch import Tensor

from dataparsers.head_dataset import HeadDataset
from dataparsers.minerf_dataparser import MiNerfDataParserConfig
from minerf_ns.contract import BACKGROUND, HEAD_BOX, IDENTITY, MOUTH_BOX, PIXEL_WEIGHT
from minerf_ns.head_box_pixel_sampler import HeadBoxPixelSamplerConfig, pixel_weights
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.datamanagers.base_datamanager import VanillaDataManager, VanillaDataManagerConfig
from nerfstudio.data.pixel_samplers import PixelSamplerConfig
from nerfstudio.utils.rich_utils import CONSOLE

BYTES_PER_CACHED_PIXEL = 3 * 4 + 3 + 1 + 1
"""A cached pixel: float32 RGB image, uint8 RGB background, bool head box, bool mouth box."""


MiNerfDataParserChoice = tyro.conf.OmitSubcommandPrefixes[
    tyro.extras.subcommand_type_from_defaults({"mi-nerf-data": MiNerfDataParserConfig()}, prefix_names=False)
]
"""The one dataparser our datamanager reads (nerfstudio's others have no expressions or identities): still the
sub-command ``mi-nerf-data`` on the command line, so ``ns-train mi-nerf --data D mi-nerf-data --identities a b``
reads as it always has."""


@dataclass
class MiNerfDataManagerConfig(VanillaDataManagerConfig):
    """Datamanager for multi-identity talking faces."""

    _target: Type = field(default_factory=lambda: MiNerfDataManager)
    dataparser: MiNerfDataParserChoice = field(default_factory=MiNerfDataParserConfig)
    """The dataparser: mi-nerf-data."""
    pixel_sampler: PixelSamplerConfig = field(default_factory=HeadBoxPixelSamplerConfig)
    """The head-box pixel sampler."""
    # nerfstudio's options that do nothing here, kept off the command line (tyro.conf.Suppress):
    eval_image_indices: tyro.conf.Suppress[Optional[Tuple[int, ...]]] = (0,)
    """Not an option: nerfstudio's VanillaDataManager never reads it."""
    patch_size: tyro.conf.Suppress[int] = 1
    """Not an option: patches need nerfstudio's patch sampler; ours samples single rays in the head box."""
    masks_on_gpu: tyro.conf.Suppress[bool] = False
    """Not an option: our datasets have no masks (head masks become the head box and the background)."""
    cache_budget_gb: float = 6.0
    """Most memory the cached train images may take; beyond it a random subset is cached and resampled."""
    subset_repeat_iterations: int = 200
    """When only a subset of the train images fits in the cache, draw a new subset after this many iterations."""


class MiNerfDataManager(VanillaDataManager[HeadDataset]):
    """VanillaDataManager that adds each ray's background colour to its metadata (``BACKGROUND``)."""

    config: MiNerfDataManagerConfig

    def setup_train(self) -> None:
        assert self.train_dataset is not None
        if self.config.train_num_images_to_sample_from < 0:
            cameras = self.train_dataset.cameras
            per_image = float((cameras.width * cameras.height).float().mean()) * BYTES_PER_CACHED_PIXEL
            fits = int(self.config.cache_budget_gb * 1e9 // per_image)
            if fits < len(self.train_dataset):
                CONSOLE.print(f"[yellow]{len(self.train_dataset)} train images exceed the {self.config.cache_budget_gb}"
                              f" GB cache: caching {fits} at a time, resampled every "
                              f"{self.config.subset_repeat_iterations} iterations.")  # fmt: skip
                self.config.train_num_images_to_sample_from = fits
                self.config.train_num_times_to_repeat_images = self.config.subset_repeat_iterations
        super().setup_train()

    @staticmethod
    def _attach_background(ray_bundle: RayBundle, batch: Dict) -> None:
        assert ray_bundle.metadata is not None
        ray_bundle.metadata[BACKGROUND] = batch[BACKGROUND].to(ray_bundle.origins.device).float() / 255.0

    def next_train(self, step: int) -> Tuple[RayBundle, Dict]:
        ray_bundle, batch = super().next_train(step)
        self._attach_background(ray_bundle, batch)
        return ray_bundle, batch

    def next_eval(self, step: int) -> Tuple[RayBundle, Dict]:
        ray_bundle, batch = super().next_eval(step)
        self._attach_background(ray_bundle, batch)
        return ray_bundle, batch


@dataclass
class MiImageDataManagerConfig(MiNerfDataManagerConfig):
    """Whole frames, one a step, for geometries that render images (``mi-gaussians``): the same dataparser, image
    cache and budget; the head box weights the loss as the ray sampler's odds would."""

    _target: Type = field(default_factory=lambda: MiImageDataManager)
    in_box_fraction: float = HeadBoxPixelSamplerConfig.in_box_fraction
    """Share of the loss on the head box's pixels; the rest is spread over the whole frame (the ray sampler's odds)."""
    mouth_fraction: float = HeadBoxPixelSamplerConfig.mouth_fraction
    """Share of the loss on the mouth box's pixels, out of the head box's (the ray sampler's ``mouth_fraction``)."""
    balance_identities: bool = True
    """Draw each step's identity uniformly, then one of its frames (off: every frame alike, so a person with 10x the
    frames gets 10x the steps; a ray batch touches every cached frame at once and needs no such rule)."""
    pixel_sampler: tyro.conf.Suppress[PixelSamplerConfig] = field(default_factory=HeadBoxPixelSamplerConfig)
    """Not an option: whole frames, no rays are sampled."""
    train_num_rays_per_batch: tyro.conf.Suppress[int] = 1024
    """Not an option: one whole frame a step."""
    eval_num_rays_per_batch: tyro.conf.Suppress[int] = 1024
    """Not an option: one whole frame a step."""


class MiImageDataManager(MiNerfDataManager):
    """Yields one cached frame a step: its camera (the frame's condition inputs and background in its metadata) and
    the frame's image, head box and per-pixel loss weights."""

    config: MiImageDataManagerConfig

    def _draw(self, image_indices: Tensor, dataset: HeadDataset) -> int:
        """The position in the cached batch of this step's frame."""
        if not self.config.balance_identities:
            return int(torch.randint(len(image_indices), (1,)))
        identities = dataset.cameras.metadata[IDENTITY][image_indices.long(), 0]  # type: ignore[index]
        present = torch.unique(identities)
        chosen = present[int(torch.randint(len(present), (1,)))]
        positions = torch.nonzero(identities == chosen)[:, 0]
        return int(positions[int(torch.randint(len(positions), (1,)))])

    def _one_frame(self, image_batch: Dict, dataset: HeadDataset) -> Tuple[Cameras, Dict]:
        k = self._draw(image_batch["image_idx"], dataset)
        batch = {key: value[k] for key, value in image_batch.items() if isinstance(value, Tensor)}
        index = int(batch["image_idx"])
        camera = dataset.cameras[index : index + 1].to(self.device)
        assert camera.metadata is not None
        camera.metadata[BACKGROUND] = batch[BACKGROUND].to(self.device).float()[None] / 255.0
        batch[PIXEL_WEIGHT] = pixel_weights(
            batch[HEAD_BOX], self.config.in_box_fraction, batch.get(MOUTH_BOX), self.config.mouth_fraction
        )
        return camera, batch

    def next_train(self, step: int) -> Tuple[Cameras, Dict]:  # type: ignore[override]
        self.train_count += 1
        assert self.train_dataset is not None
        return self._one_frame(next(self.iter_train_image_dataloader), self.train_dataset)

    def next_eval(self, step: int) -> Tuple[Cameras, Dict]:  # type: ignore[override]
        self.eval_count += 1
        assert self.eval_dataset is not None
        return self._one_frame(next(self.iter_eval_image_dataloader), self.eval_dataset)
