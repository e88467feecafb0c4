"""Writing what the commands show: uint8 conversion, enlargement, captions, PNG and H.264 mp4 files."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import torch

from minerf_ns.provenance.statement import Provenance, png_info, video_metadata


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


VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi")
"""Containers that take the writer's H.264 video (WebM does not)."""
SOUND_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv")
"""Those that also carry its AAC sound so that players (and ffmpeg) read it back (AVI's comes back empty)."""


def write_png(path: Path, image: np.ndarray, provenance: Optional[Provenance] = None) -> None:
    """Write an RGB uint8 image (into a temporary name first: an interrupted write leaves no broken PNG).

    ``provenance``: a render's; the image gets its watermark and the PNG its statement (``minerf_ns/provenance``).
    """
    from PIL import Image

    if provenance is not None:
        image = provenance.mark(image)
    with _replaced_on_success(path) as partial:
        Image.fromarray(image).save(partial, format="PNG", pnginfo=None if provenance is None else png_info(provenance))


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    audio: Optional[Path] = None,
    provenance: Optional[Provenance] = None,
) -> None:
    """Write an H.264 mp4 with the ffmpeg that imageio-ffmpeg ships (no system ffmpeg needed).

    ``frames`` is an array [T, H, W, 3] or any iterable of uint8 [H, W, 3] frames (streamed: never all in memory).
    ``audio``: a sound file muxed in as AAC from the first frame on (cut or padded to the frames' length).
    ``provenance``: a render's; every frame gets its watermark and the file its statement (``minerf_ns/provenance``).
    The video is written under a temporary name and moved into place once ffmpeg has written it: an interrupted or
    failed write leaves nothing, and ffmpeg's failures (which it does not raise) become an ``OSError``.
    """
    import imageio_ffmpeg

    suffixes = VIDEO_SUFFIXES if audio is None else SOUND_VIDEO_SUFFIXES
    if path.suffix.lower() not in suffixes:
        raise OSError(errno.EINVAL, f"not a video file name (use {', '.join(suffixes)})", str(path))
    with _replaced_on_success(path) as partial:
        writer = None
        for frame in frames:
            height, width = frame.shape[:2]
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
            if provenance is not None:
                frame = provenance.mark(frame)
            if writer is None:
                tags = [] if provenance is None else video_metadata(provenance)
                writer = imageio_ffmpeg.write_frames(
                    str(partial), (frame.shape[1], frame.shape[0]), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                    quality=8, macro_block_size=1, output_params=["-preset", "veryfast", *tags],
                    ffmpeg_log_level="error",
                )  # fmt: skip
                writer.send(None)
            writer.send(np.ascontiguousarray(frame))
        if writer is not None:
            writer.close()
        if not partial.is_file() or partial.stat().st_size == 0:
            raise OSError(errno.EIO, "ffmpeg could not write the video", str(path))
        if audio is not None:
            _mux_audio(partial, audio)


def _mux_audio(video: Path, audio: Path) -> None:
    """Replace ``video`` by itself with ``audio`` as its sound track (video stream copied, sound as AAC)."""
    import subprocess

    import imageio_ffmpeg

    with _replaced_on_success(video) as muxed:
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(video), "-i",
                   str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "128k",
                   "-af", "apad", "-shortest", str(muxed)]  # fmt: skip
        result = subprocess.run(command, capture_output=True)
        if result.returncode != 0 or not muxed.is_file():
            reason = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise OSError(errno.EIO, f"ffmpeg could not add the sound track ({reason[0][:100]})", str(video))


def temporary_sibling(path: Path, tag: str = "partial") -> Path:
    """A hidden name beside ``path`` for what is being written (same suffix), this process's own: two commands writing
    the same output never share one."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{tag}{path.suffix}")


@contextlib.contextmanager
def _replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix); moved onto ``path`` when the block succeeds, removed when it
    fails or is interrupted."""
    partial = temporary_sibling(path)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
