"""Each frame's own background (paper appendix E: "the original background per frame"): the frame itself outside its
head mask, the video's static background behind the head. So the torso, the neck and whatever moves outside the head
is given to the last sample of each ray and never asked of the NeRF.

Which videos use it (the dataparser's ``background`` option): ``static`` none; ``per-frame`` every video with head
masks (``parsing/`` or ``mask_path``); ``auto`` (default) videos of full frames with head masks (minerf-track's
``ori_imgs/``, the native layout), while ``head_imgs/`` and ``gt_imgs/`` are already the head over the static
background, so they keep it.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import cv2
import numpy as np
import torch
from jaxtyping import Bool, UInt8
from PIL import Image
from torch import Tensor

from dataparsers.dataset_error import DatasetError
from minerf_ns.layout import PARSING_HEAD_BGR

BackgroundMode = Literal["auto", "static", "per-frame"]
CACHED_FRAME_BACKGROUNDS = 64
"""Frame backgrounds kept for renders of sequences (training caches its own with the images)."""


def head_mask(parsing: Optional[Path], mask_path: Optional[Path], height: int, width: int) -> Optional[np.ndarray]:
    """Bool [H, W]: the head pixels of a parsing image (head colour) or a head mask (non-zero) at this size; None when
    the frame has neither or it cannot be read."""
    if parsing is not None:
        seg = cv2.imread(str(parsing), cv2.IMREAD_COLOR)
        mask = None if seg is None else np.all(seg == np.array(PARSING_HEAD_BGR, dtype=np.uint8), axis=-1)
    elif mask_path is not None:
        seg = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        mask = None if seg is None else seg > 0
    else:
        return None
    if mask is not None and mask.shape != (height, width):
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return mask


def compose_frame_background(
    frame: UInt8[Tensor, "H W 3"], head: Bool[np.ndarray, "H W"], static: UInt8[Tensor, "H W 3"]
) -> UInt8[Tensor, "H W 3"]:
    """The frame outside the head, the static background inside it."""
    return torch.where(torch.from_numpy(head)[..., None], static, frame)


def uses_frame_backgrounds(video, mode: BackgroundMode) -> bool:
    """Whether a ``VideoRecord`` gets per-frame backgrounds under ``mode``."""
    has_masks = video.parsing_filenames is not None or video.mask_filenames is not None
    if mode == "static" or not has_masks:
        return False
    return mode == "per-frame" or video.full_frames


def check_frame_backgrounds(videos: Sequence, mode: BackgroundMode) -> None:
    """Stop when ``mode`` asks for per-frame backgrounds and a video has no head masks to make them from (it would
    silently get its static background).

    Raises:
        DatasetError: naming the first such video.
    """
    for video in videos:
        if mode == "per-frame" and video.parsing_filenames is None and video.mask_filenames is None:
            raise DatasetError(video.folder, "--background per-frame needs head masks (parsing/, or the native "
                               "layout's mask_path) and this video has none", "track the video with minerf-track (it "
                               "writes them), or pass --background auto or static")  # fmt: skip


class FrameBackgrounds:
    """``(video, row, height, width) -> uint8 [H, W, 3]`` or None, for the catalogue: reads the frame and its mask.

    Args:
        videos: the dataparser's records, in identity-index order.
        mode: which videos use per-frame backgrounds.
        static: the static background rule ``(video, height, width) -> uint8 [H, W, 3]``.
    """

    def __init__(self, videos: Sequence, mode: BackgroundMode, static: Callable[[int, int, int], Tensor]) -> None:
        self.videos = list(videos)
        self.enabled = [uses_frame_backgrounds(v, mode) for v in self.videos]
        self.static = static
        self._cache: OrderedDict = OrderedDict()

    def __call__(self, video: int, row: int, height: int, width: int) -> Optional[Tensor]:
        if not self.enabled[video]:
            return None
        record = self.videos[video]
        row = row % record.num_frames  # sequences longer than the video cycle its frames, as their poses do
        key = (video, row, height, width)
        if key not in self._cache:
            mask = head_mask(record.parsing_filenames[row] if record.parsing_filenames else None,
                             record.mask_filenames[row] if record.mask_filenames else None, height, width)  # fmt: skip
            if mask is None:
                return None
            with Image.open(record.image_filenames[row]) as image:
                rgb = image.convert("RGB")
                if rgb.size != (width, height):
                    rgb = rgb.resize((width, height), resample=Image.Resampling.BILINEAR)
                frame = torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy())
            self._cache[key] = compose_frame_background(frame, mask, self.static(video, height, width))
            if len(self._cache) > CACHED_FRAME_BACKGROUNDS:
                self._cache.popitem(last=False)
        return self._cache[key]
