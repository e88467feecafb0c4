"""The static background of a video: the per-pixel median of the frames where nothing of the person covers it."""

from __future__ import annotations

import warnings

import cv2
import numpy as np

MAX_FRAMES = 32
"""At most this many frames (evenly spaced) enter the median."""
INPAINT_RADIUS = 5


def background_sample_rows(num_frames: int) -> np.ndarray:
    """The (at most ``MAX_FRAMES``, evenly spaced) frame rows that enter the median."""
    return np.unique(np.linspace(0, num_frames - 1, min(num_frames, MAX_FRAMES)).round().astype(int))


def median_background(frames: list[np.ndarray], foregrounds: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The background (uint8 RGB) and the fraction of its pixels that were seen uncovered at least once.

    ``frames`` are the sampled frames (``background_sample_rows``). Pixels covered in every one of them (behind the
    head for the whole video) are filled by inpainting from their surroundings.
    """
    stack = np.stack(frames).astype(np.float32)
    covered = np.stack(foregrounds)
    stack[covered] = np.nan
    seen = ~covered.all(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: never seen, inpainted below
        median = np.nanmedian(stack, axis=0)
    median = np.where(seen[..., None], median, 0.0)
    image = np.clip(np.round(median), 0, 255).astype(np.uint8)
    if not seen.all():
        image = cv2.inpaint(image, (~seen).astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return image, float(seen.mean())
