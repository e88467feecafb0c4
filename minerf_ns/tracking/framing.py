"""Where each frame of a video is cut out: a square crop (centred, or around the face) resized to the dataset's size,
the same for every frame of an identity, with the principal point carried through so that intrinsics stay exact.

A face-centred crop is for videos where the face is small or off-centre (GRID: a ~100 px face in a 360x288 frame; a
centre crop at 128 px would leave it ~45 px): the face detector runs on a few frames of every clip, and one square
of ``FACE_CROP_SCALE`` times the median face box, around the median face centre, is cut from every frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Literal, Optional, Sequence

import cv2
import numpy as np

from minerf_ns.tracking.face_detector import FaceDetector, largest

CropMode = Literal["centre", "face"]
FACE_CROP_SCALE = 2.0
"""Side of a face-centred crop in face-detector boxes (eyebrows to chin): the framing of the tight 512x512
talking-head clips (HDTF, AD-NeRF: 1.7-2.1 boxes in ../shared/data/real-clips), the head with its hair and some neck."""
FACE_ABOVE = 0.1
"""The crop's centre sits this fraction of its side above the face box's centre (room for the hair, as in those
clips: 0.11 for the 512x512 clips)."""
SAMPLES_PER_CLIP = 3
"""Frames of each clip the face detector looks at to place the crop."""


@dataclass(frozen=True)
class SquareCrop:
    """A square ``[x0, x0 + side) x [y0, y0 + side)`` of a ``width`` x ``height`` frame, resized to ``size``."""

    x0: int
    y0: int
    side: int
    width: int
    height: int
    size: Optional[int] = None
    """Output side in pixels (None: the crop's own side)."""

    @classmethod
    def centre(cls, width: int, height: int, size: Optional[int]) -> "SquareCrop":
        """The largest centred square (``size`` None and a square frame: the whole frame, unchanged)."""
        side = min(width, height)
        return cls((width - side) // 2, (height - side) // 2, side, width, height, size)

    @classmethod
    def around(cls, centre_xy: Sequence[float], side: float, width: int, height: int, size: Optional[int]):
        """A square of ``side`` centred on ``centre_xy``, shrunk and shifted as needed to lie inside the frame."""
        side = int(round(min(side, width, height)))
        x0 = int(round(min(max(centre_xy[0] - side / 2.0, 0), width - side)))
        y0 = int(round(min(max(centre_xy[1] - side / 2.0, 0), height - side)))
        return cls(x0, y0, side, width, height, size)

    @property
    def out_size(self) -> int:
        return self.size or self.side

    @property
    def scale(self) -> float:
        """Output pixels per source pixel."""
        return self.out_size / self.side

    def cut(self, rgb: np.ndarray) -> np.ndarray:
        """The square of one frame at the source's resolution (where landmarks are found: a small face keeps its
        detail)."""
        crop = rgb[self.y0 : self.y0 + self.side, self.x0 : self.x0 + self.side]
        return np.ascontiguousarray(crop) if crop.shape[:2] != rgb.shape[:2] else rgb

    def resize(self, cut: np.ndarray) -> np.ndarray:
        """A ``cut`` at the output size."""
        if self.out_size == self.side:
            return cut
        interp = cv2.INTER_AREA if self.side > self.out_size else cv2.INTER_LINEAR
        return cv2.resize(cut, (self.out_size, self.out_size), interpolation=interp)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The crop of one frame at the output size."""
        return self.resize(self.cut(rgb))

    def principal_point(self) -> tuple[float, float]:
        """The source camera's principal point (the frame's centre) in output pixels: a face-centred crop moves it
        off the output's centre."""
        return ((self.width / 2.0 - self.x0) * self.scale, (self.height / 2.0 - self.y0) * self.scale)

    def to_dict(self) -> dict:
        return asdict(self)


def sample_frames(frames: Iterable[np.ndarray], total: int, count: int = SAMPLES_PER_CLIP) -> Iterator[np.ndarray]:
    """``count`` frames spread over a clip of ``total`` frames, one at a time (decoding stops after the last one)."""
    wanted = set(np.linspace(0, max(total - 1, 0), count).round().astype(int).tolist())
    for k, rgb in enumerate(frames):
        if k in wanted:
            yield rgb
        if k >= max(wanted):
            return


def face_crop(
    samples: Iterable[np.ndarray], size: Optional[int], detector: Optional[FaceDetector] = None
) -> Optional[SquareCrop]:
    """One square crop around the face seen in ``samples`` (frames of one identity's clips, all the same size; each
    is looked at once and not kept), or None when no sample shows a face."""
    detector = detector or FaceDetector()
    centres, sides, shape = [], [], None
    for rgb in samples:
        shape = rgb.shape[:2]
        detection = largest(detector.detect(rgb))
        if detection is not None:
            x0, y0, x1, y1 = detection.box
            centres.append(((x0 + x1) / 2.0, (y0 + y1) / 2.0))
            sides.append(max(x1 - x0, y1 - y0))
    if not centres:
        return None
    side = FACE_CROP_SCALE * float(np.median(sides))
    centre = np.median(np.asarray(centres), axis=0) - np.array([0.0, FACE_ABOVE * side])
    return SquareCrop.around(centre, side, shape[1], shape[0], size)
