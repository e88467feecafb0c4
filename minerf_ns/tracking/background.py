"""The static background of a video: the per-pixel median of the frames where nothing of the person covers it."""

from __future__ import annotations

import cv2
import numpy as np

MAX_FRAMES = 32
"""At most this many frames (evenly spaced) enter the median."""
INPAINT_RADIUS = 5
COVERED = 256
"""Stand-in value of a covered sample (above every 8-bit value)."""


def background_sample_rows(num_frames: int) -> np.ndarray:
    """The (at most ``MAX_FRAMES``, evenly spaced) frame rows that enter the median."""
    return np.unique(np.linspace(0, num_frames - 1, min(num_frames, MAX_FRAMES)).round().astype(int))


def median_background(frames: list[np.ndarray], foregrounds: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The background (uint8 RGB) and the fraction of its pixels that were seen uncovered at least once.

    ``frames`` are the sampled frames (``background_sample_rows``). Pixels covered in every one of them (behind the
    head for the whole video) are filled by inpainting from their surroundings.
    """
    covered = np.stack(foregrounds)  # [S, H, W]
    # Covered samples get a value above any pixel, so after sorting each pixel's uncovered values come first.
    values = np.moveaxis(np.stack(frames), 0, -1).astype(np.uint16)  # [H, W, 3, S]
    values[np.broadcast_to(np.moveaxis(covered, 0, -1)[:, :, None, :], values.shape)] = COVERED
    values.sort(axis=-1)
    count = (~covered).sum(0)[:, :, None, None]  # [H, W, 1, 1] uncovered samples per pixel
    seen = count[:, :, 0, 0] > 0
    middle = [np.take_along_axis(values, index, axis=-1)[..., 0] for index in ((count - 1).clip(0) // 2, count // 2)]
    median = np.where(seen[..., None], (middle[0].astype(np.float32) + middle[1]) / 2.0, 0.0)
    image = np.clip(np.round(median), 0, 255).astype(np.uint8)
    if not seen.all():
        image = cv2.inpaint(image, (~seen).astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return image, float(seen.mean())
