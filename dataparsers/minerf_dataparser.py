"""The registered DataParser `mi-nerf-data`: many talking-face videos, one identity each, with 3DMM expressions.

Import nothing heavier than nerfstudio's dataparser, cameras and scene-box modules here: nerfstudio loads this module
while its datamanager module is still initialising (a circular import otherwise; see nerfstudio's
``configs/dataparser_configs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Type

import numpy as np
import torch
import tyro
from PIL import Image

from dataparsers.dataset_error import DatasetError
from dataparsers.dataset_scan import read_dataset, video_folders
from dataparsers.frame_background import BackgroundMode, FrameBackgrounds, check_frame_backgrounds
from dataparsers.video_record import VideoRecord, check_unchanged, identity_name
from minerf_ns.catalogue import CATALOGUE, VideoCatalogue
from minerf_ns.contract import UNSEEN_FRAME, Condition
from nerfstudio.cameras.cameras import Cameras, CameraType
from nerfstudio.data.dataparsers.base_dataparser import DataParser, DataParserConfig, DataparserOutputs
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.plugins.registry_dataparser import DataParserSpecification

SPLITS = ("train", "val", "test")


@dataclass
class MiNerfDataParserConfig(DataParserConfig):
    """Multi-video 3DMM-tracked talking faces (AD-NeRF layout or native transforms.json), one identity per video."""

    _target: Type = field(default_factory=lambda: MiNerfDataParser)
    data: Path = Path("data/minerf")
    """Dataset root: one sub-folder per video; the folder name is the identity name."""
    near_margin: float = 0.2
    """Near plane = the closest camera's distance to the head centre minus this (scene units, metres)."""
    far_margin: float = 0.25
    """Far plane = the farthest camera's distance to the head centre plus this; the far sample is the background."""
    scene_box_radius: float = 0.3
    """Half-size of the scene box around the head at the origin (scene units)."""
    default_background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Background colour of videos without a background image."""
    background: BackgroundMode = "auto"
    """Each ray's last sample: 'per-frame' = the frame itself outside its head mask (the paper's "original background
    per frame": torso and neck never asked of the NeRF), static background behind the head; 'static' = the video's
    static background (bc.jpg); 'auto' = per-frame for videos of whole frames with head masks (minerf-track's
    ori_imgs/, the native layout), static for head_imgs/ and gt_imgs/ (already the head over the static background).
    Renders of no recorded frame (novel views, orbits, the viewer) use the static background."""
    identities: tuple[str, ...] = ()
    """Use only these videos (identity names); empty: every video of the root. ns-train records the videos it trains
    on here, so videos added to the root later leave a trained run as it was."""
    trained_on: tyro.conf.Suppress[Optional[Dict[str, Dict[str, Any]]]] = None
    """Not an option: what ns-train found in each video (``video_record.training_record``), compared whenever the
    run loads, so a dataset changed since training is named instead of failing as a broken checkpoint."""


@dataclass
class MiNerfDataParser(DataParser):
    """Reads every video of the dataset root into one set of cameras with expression/identity/frame metadata."""

    config: MiNerfDataParserConfig

    def __init__(self, config: MiNerfDataParserConfig) -> None:
        super().__init__(config=config)
        self._videos: List[VideoRecord] | None = None
        self._catalogue: VideoCatalogue | None = None

    @property
    def videos(self) -> List[VideoRecord]:
        """The checked videos in identity-index order (read once)."""
        if self._videos is None:
            wanted = [identity_name(n) for n in self.config.identities]
            videos = read_dataset(self.config.data, names=wanted or None)
            if wanted:
                known = [v.name for v in videos]
                unknown = [n for n in wanted if n not in known]
                if unknown:
                    listing = ", ".join(identity_name(f.name) for f in video_folders(self.config.data))
                    raise DatasetError(self.config.data, f"no video named {', '.join(unknown)} (a run trains on and "
                                       "renders the identities it names)", f"restore that video's folder, or "
                                       f"choose identities among {listing}")  # fmt: skip
                videos = [v for v in videos if v.name in wanted]
            for video in videos:
                if self.config.trained_on and video.name in self.config.trained_on:
                    check_unchanged(video, self.config.trained_on[video.name])
            check_frame_backgrounds(videos, self.config.background)
            self._videos = videos
        return self._videos

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
        videos = self.videos
        catalogue = self.catalogue()
        images, poses, intr, sizes, conditions = [], [], [], [], []
        parsing, masks, rects = [], [], []
        for vid_index, video in enumerate(videos):
            for k in np.nonzero(~video.held_out if split == "train" else video.held_out)[0]:
                images.append(video.image_filenames[k])
                poses.append(video.camera_to_worlds[k, :3, :4])
                camera = video.intrinsics
                intr.append([camera.fx, camera.fy, camera.cx, camera.cy])
                sizes.append([camera.width, camera.height])
                conditions.append(catalogue.frame_condition(vid_index, int(k)))
                parsing.append(video.parsing_filenames[k] if video.parsing_filenames else None)
                masks.append(video.mask_filenames[k] if video.mask_filenames else None)
                rects.append(video.face_rects[k].tolist() if video.face_rects is not None else None)

        intr_t = torch.tensor(np.asarray(intr), dtype=torch.float32)
        size_t = torch.tensor(np.asarray(sizes), dtype=torch.long)
        cameras = Cameras(
            camera_to_worlds=torch.tensor(np.stack(poses), dtype=torch.float32),
            fx=intr_t[:, 0:1],
            fy=intr_t[:, 1:2],
            cx=intr_t[:, 2:3],
            cy=intr_t[:, 3:4],
            width=size_t[:, 0:1],
            height=size_t[:, 1:2],
            camera_type=CameraType.PERSPECTIVE,
            metadata=Condition.batch_metadata(conditions),
        )
        radius = self.config.scene_box_radius
        metadata = {
            CATALOGUE: catalogue,
            # Per image of this split, for the head box (dataparsers/head_dataset.py):
            "parsing_filenames": parsing,
            "head_mask_filenames": masks,
            "face_rects": rects,
        }
        return DataparserOutputs(
            image_filenames=images,
            cameras=cameras,
            scene_box=SceneBox(aabb=torch.tensor([[-radius] * 3, [radius] * 3], dtype=torch.float32)),
            metadata=metadata,
        )

    def catalogue(self) -> VideoCatalogue:
        """Every video's frames (expressions, poses, train-frame indices), intrinsics and background (built once)."""
        if self._catalogue is None:
            videos = self.videos
            tables, next_train = [], 0
            for video in videos:
                table = torch.full((video.num_frames,), UNSEEN_FRAME, dtype=torch.long)
                train = torch.from_numpy(~video.held_out)
                table[train] = next_train + torch.arange(int(train.sum()))
                next_train += int(train.sum())
                tables.append(table)
            distances = np.concatenate([np.linalg.norm(v.camera_to_worlds[:, :3, 3], axis=-1) for v in videos])
            self._catalogue = VideoCatalogue(
                identity_names=[v.name for v in videos],
                expressions=[torch.from_numpy(v.expressions).float() for v in videos],
                train_frame_index=tables,
                camera_to_worlds=[torch.tensor(v.camera_to_worlds[:, :3, :4], dtype=torch.float32) for v in videos],
                intrinsics=[v.intrinsics for v in videos],
                backgrounds=[self._background(v) for v in videos],
                near=float(max(distances.min() - self.config.near_margin, 1e-3)),
                far=float(distances.max() + self.config.far_margin),
                segments=[None if v.segment_starts is None else torch.from_numpy(v.row_segments()) for v in videos],
            )
            catalogue = self._catalogue
            catalogue.frame_backgrounds = FrameBackgrounds(videos, self.config.background, catalogue.background)
        return self._catalogue

    def _background(self, video: VideoRecord) -> torch.Tensor:
        """The video's static background as uint8 [H, W, 3] (the configured colour where it has none)."""
        if video.background is None:
            colour = torch.tensor(self.config.default_background) * 255
            size = (video.intrinsics.height, video.intrinsics.width, 3)
            return colour.round().to(torch.uint8).expand(*size).clone()
        with Image.open(video.background) as img:
            return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy())


mi_nerf_dataparser = DataParserSpecification(
    config=MiNerfDataParserConfig(),
    description="Multi-identity talking-face videos with 3DMM expressions (AD-NeRF layout or native transforms.json)",
)
