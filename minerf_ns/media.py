"""Writing what the commands show: uint8 conversion, enlargement, captions, PNG and H.264 mp4 files."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8."""
    return (image.clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so small renders are visible."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` written in its top-left corner."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def display_factor(size: int) -> int:
    """Enlargement that brings a frame to at least 192 px."""
    return max(1, int(np.ceil(192 / size)))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image."""
    from PIL import Image

    Image.fromarray(image).save(path)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int) -> None:
    """Write an H.264 mp4 with the ffmpeg that imageio-ffmpeg ships (no system ffmpeg needed).

    ``frames`` is an array [T, H, W, 3] or any iterable of uint8 [H, W, 3] frames (streamed: never all in memory).
    """
    import imageio_ffmpeg

    writer = None
    for frame in frames:
        height, width = frame.shape[:2]
        frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        if writer is None:
            writer = imageio_ffmpeg.write_frames(
                str(path), (frame.shape[1], frame.shape[0]), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                quality=8, macro_block_size=1, output_params=["-preset", "veryfast"],
            )  # fmt: skip
            writer.send(None)
        writer.send(np.ascontiguousarray(frame))
    if writer is not None:
        writer.close()
