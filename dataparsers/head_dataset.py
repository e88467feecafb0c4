"""The dataset of MI-NeRF frames: each image comes with its video's background and a head box, per pixel."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
from jaxtyping import Bool
from PIL import Image
from torch import Tensor

from dataparsers.frame_background import compose_frame_background, head_mask
from minerf_ns.catalogue import CATALOGUE
from minerf_ns.contract import BACKGROUND, EXPRESSION, HEAD_BOX, IDENTITY, MOUTH_BOX
from minerf_ns.face.mouth import mouth_rect
from nerfstudio.data.datasets.base_dataset import InputDataset

HEAD_BOX_MARGIN = 0.08
"""Grow a box computed from a mask by this fraction of its size on every side."""


def box_from_mask(mask: np.ndarray) -> Optional[tuple[int, int, int, int]]:
    """``[x, y, w, h]`` of the non-zero pixels of a mask, grown by the margin; None if the mask is empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = HEAD_BOX_MARGIN * (x1 - x0), HEAD_BOX_MARGIN * (y1 - y0)
    return int(x0 - mx), int(y0 - my), int(np.ceil(x1 - x0 + 2 * mx)), int(np.ceil(y1 - y0 + 2 * my))


def box_image(rect: Optional[tuple], height: int, width: int) -> Bool[Tensor, "H W 1"]:
    """Boolean image of a ``[x, y, w, h]`` box, clipped to the image; the whole image when there is no box."""
    out = torch.zeros(height, width, 1, dtype=torch.bool)
    if rect is None:
        out[:] = True
        return out
    x, y, w, h = (int(round(v)) for v in rect)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        out[:] = True
    else:
        out[y0:y1, x0:x1] = True
    return out


def mouth_box(cameras, idx: int) -> Optional[Bool[Tensor, "H W 1"]]:
    """The mouth region of camera ``idx`` of a dataset's cameras (``face/mouth.py``), or None where it has none (an
    expression basis without lips, a lip behind the camera)."""
    camera = cameras[idx]
    rect = mouth_rect(camera.camera_to_worlds.numpy(), float(camera.fx), float(camera.fy), float(camera.cx),
                      float(camera.cy), cameras.metadata[EXPRESSION][idx].numpy())  # fmt: skip
    return None if rect is None else box_image(rect, int(camera.height), int(camera.width))


class HeadDataset(InputDataset):
    """InputDataset whose items also carry the background (``BACKGROUND``, uint8 [H, W, 3]), ``head_box`` and
    ``mouth_box`` (bool [H, W, 1]).

    The background is the frame's own where its video uses per-frame backgrounds (``frame_background.py``), else its
    video's static one (the catalogue's rule, at the loaded size). The head box comes from the
    frame's ``face_rect`` when the layout gives one, else from its parsing image (head pixels) or head mask, else it
    is the whole image. The mouth box is ``mouth_box``'s, empty where the frame has none.
    """

    def get_numpy_image(self, image_idx: int) -> np.ndarray:
        """The frame as uint8 RGB [H, W, 3], whatever the file's mode: grey and palette images are converted, and
        transparent pixels of images with alpha show the frame's video background (the background rule)."""
        with Image.open(self._dataparser_outputs.image_filenames[image_idx]) as pil_image:
            if self.scale_factor != 1.0:
                width, height = pil_image.size
                size = (int(width * self.scale_factor), int(height * self.scale_factor))
                pil_image = pil_image.resize(size, resample=Image.Resampling.BILINEAR)
            has_alpha = pil_image.mode in ("RGBA", "LA", "PA") or "transparency" in pil_image.info
            image = np.asarray(pil_image.convert("RGBA" if has_alpha else "RGB"), dtype=np.uint8)
        if not has_alpha:
            return image
        height, width = image.shape[:2]
        identity = int(self.cameras.metadata[IDENTITY][image_idx, 0])
        background = self.metadata[CATALOGUE].background(identity, height, width).numpy().astype(np.float32)
        alpha = image[..., 3:].astype(np.float32) / 255.0
        return np.round(image[..., :3] * alpha + background * (1.0 - alpha)).astype(np.uint8)

    def get_metadata(self, data: Dict) -> Dict:
        idx = int(data["image_idx"])
        height, width = data["image"].shape[:2]
        identity = int(self.cameras.metadata[IDENTITY][idx, 0])
        background = self.metadata[CATALOGUE].background(identity, height, width)
        frame_backgrounds = self.metadata[CATALOGUE].frame_backgrounds
        own_background = frame_backgrounds is not None and frame_backgrounds.enabled[identity]
        rect = self.metadata["face_rects"][idx]
        # the head mask is read only where it is used: a layout's face_rect gives the box without it
        mask = self.head_mask(idx, height, width) if own_background or rect is None else None
        if own_background and mask is not None:
            frame = (data["image"][..., :3] * 255.0).round().clamp(0, 255).to(torch.uint8)
            background = compose_frame_background(frame, mask, background)
        if rect is not None:
            rect = tuple(v * self.scale_factor for v in rect)
        elif mask is not None:
            rect = box_from_mask(mask)
        mouth = mouth_box(self.cameras, idx)
        if mouth is None or mouth.shape[:2] != (height, width):  # no lips to place (another expression basis)
            mouth = torch.zeros(height, width, 1, dtype=torch.bool)
        return {BACKGROUND: background, HEAD_BOX: box_image(rect, height, width), MOUTH_BOX: mouth}

    def head_mask(self, idx: int, height: int, width: int) -> Optional[np.ndarray]:
        """Bool [H, W]: the head pixels of image ``idx`` at the loaded resolution (None without a parsing image or
        head mask)."""
        return head_mask(self.metadata["parsing_filenames"][idx], self.metadata["head_mask_filenames"][idx], height,
                         width)  # fmt: skip
