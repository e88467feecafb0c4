"""Frames of one input video: a video file (anything OpenCV's FFmpeg backend reads) or a folder of images.

Errors are ``TrackInputError`` with the path and what to fix. A folder's images are taken in natural order of their
names (``2.jpg`` before ``10.jpg``). A video file's frame rate comes from its container; if its frame timestamps are
uneven (a variable frame rate, e.g. phone video) the frames are still used in order, one row each, and the report
says so: the AD-NeRF layout has frames, not timestamps. A video's sound is read for the frames used (``audio``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np

from minerf_ns.audio.waveform import has_audio_stream, read_audio
from minerf_ns.layout import DEFAULT_FPS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
FOLDER_FPS = DEFAULT_FPS
"""Frame rate assumed for a folder of images (the layout's default)."""
VFR_TOLERANCE = 0.25
"""Frame intervals further than this fraction from the median mark the video as variable frame rate."""


class TrackInputError(Exception):
    """A problem with the user's input, with the file and the fix."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}. Fix: {fix}")


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


@dataclass
class VideoSource:
    """One input: where it is, its size, frame count and rate."""

    path: Path
    width: int
    height: int
    num_frames: int
    fps: float
    images: list[Path] = field(default_factory=list)
    """The image files, when the input is a folder."""
    timestamps_ms: list[float] = field(default_factory=list)
    """Frame timestamps read while iterating a video file."""
    max_frames: Optional[int] = None
    """Stop after this many frames (None: all)."""
    identity: str = ""
    """The identity name the dataset folder gets (set by the command; default ``name``)."""

    @property
    def name(self) -> str:
        """Identity name: the file's stem or the folder's name."""
        return self.path.stem if self.path.is_file() else self.path.name

    @property
    def variable_frame_rate(self) -> bool:
        """True when the timestamps seen so far are uneven."""
        if len(self.timestamps_ms) < 3:
            return False
        steps = np.diff(np.asarray(self.timestamps_ms))
        median = float(np.median(steps))
        return median > 0 and bool(np.any(np.abs(steps - median) > VFR_TOLERANCE * median))

    def shortfall_warning(self, decoded: int) -> Optional[str]:
        """A warning when a video file decoded to fewer frames than it declares (a truncated or damaged file)."""
        if self.images or decoded >= self.num_frames:
            return None
        return (f"decoded {decoded} of the {self.num_frames} frames the file declares: it may be truncated or "
                "damaged (the frames decoded were tracked)")  # fmt: skip

    def audio(self, num_frames: int) -> Optional[np.ndarray]:
        """The sound of the first ``num_frames`` frames (16 kHz mono, sample 0 at frame 0, exactly num_frames / fps
        long), or None for a folder of images or a video without an audio stream.

        Raises:
            AudioInputError: the video has an audio stream that cannot be decoded.
        """
        if self.images or not has_audio_stream(self.path):
            return None
        return read_audio(self.path, duration_s=num_frames / self.fps, require_sound=False)

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame as uint8 RGB [H, W, 3], in order."""
        if self.images:
            for image_path in self.images:
                bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise TrackInputError(image_path, "cannot be read as an image", "replace or delete the file")
                if bgr.shape[:2] != (self.height, self.width):
                    raise TrackInputError(
                        image_path, f"is {bgr.shape[1]}x{bgr.shape[0]}, the folder's first image {self.width}x"
                        f"{self.height}", "give every frame of one video the same size")  # fmt: skip
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            return
        capture = cv2.VideoCapture(str(self.path))
        self.timestamps_ms = []
        try:
            while self.max_frames is None or len(self.timestamps_ms) < self.max_frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                self.timestamps_ms.append(float(capture.get(cv2.CAP_PROP_POS_MSEC)))
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def check_clips(clips: Sequence[VideoSource]) -> None:
    """One identity's clips must share a frame rate and a frame size.

    Raises:
        TrackInputError: naming the first clip that differs and the fix.
    """
    first = clips[0]
    for clip in clips[1:]:
        if abs(clip.fps - first.fps) > 1e-3:
            raise TrackInputError(
                clip.path, f"is {clip.fps:g} frames/s, {first.path.name} of the same identity {first.fps:g}",
                "give one person's clips one frame rate (e.g. ffmpeg -i IN -r 25 OUT)",
            )  # fmt: skip
        if (clip.width, clip.height) != (first.width, first.height):
            raise TrackInputError(
                clip.path, f"is {clip.width}x{clip.height}, {first.path.name} of the same identity "
                f"{first.width}x{first.height}", "give one person's clips one frame size",
            )  # fmt: skip


def open_source(path: Path, max_frames: Optional[int] = None) -> VideoSource:
    """Check one input and read its size, frame count and rate (frames are decoded later)."""
    if not path.exists():
        raise TrackInputError(path, "does not exist", "pass a video file or a folder of frames")
    if path.is_dir():
        images = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not images:
            raise TrackInputError(path, "holds no images", f"put the frames in it as {'/'.join(IMAGE_SUFFIXES)} files")
        first = cv2.imread(str(images[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise TrackInputError(images[0], "cannot be read as an image", "replace or delete the file")
        images = images[:max_frames] if max_frames else images
        return VideoSource(path, first.shape[1], first.shape[0], len(images), FOLDER_FPS, images=images)
    if path.stat().st_size == 0:
        raise TrackInputError(path, "is empty (0 bytes)", "copy the video again")
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    fps = float(capture.get(cv2.CAP_PROP_FPS)) if ok else 0.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
    capture.release()
    if not ok or first is None:
        raise TrackInputError(path, "cannot be decoded as a video", "convert it to mp4 (H.264), e.g. with ffmpeg")
    count = count if count > 0 else 1
    count = min(count, max_frames) if max_frames else count
    source = VideoSource(path, first.shape[1], first.shape[0], count, fps if fps > 0 else FOLDER_FPS)
    source.max_frames = max_frames
    return source
