"""The video catalogue: what the dataset's videos hold, built once by the dataparser and queried by the model, the
viewer controls, transfer, evaluation and the demo (pure torch + OpenCV; it reads no files).

Per video (= identity, in identity-index order): its name, every frame's expression, camera pose and train-frame
index (``UNSEEN_FRAME`` for held-out frames), its intrinsics, and its static background. Backgrounds are resized to a
render's size by one rule (``resize_background``), in training, evaluation and novel views alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import torch
from jaxtyping import Float, Int, UInt8
from torch import Tensor

from minerf_ns.contract import CENTRE, NO_SOURCE_FRAME, UNSEEN_FRAME, Condition, VideoIntrinsics, window_rows

CATALOGUE = "catalogue"
"""Key of the catalogue in the dataparser's metadata (and so in the model's ``kwargs["metadata"]``)."""
MAX_RESIZED_BACKGROUNDS = 32


def resize_background(image: UInt8[Tensor, "H W 3"], height: int, width: int) -> UInt8[Tensor, "h w 3"]:
    """The background rule's resize: OpenCV's area interpolation (an average over the covered pixels)."""
    if tuple(image.shape[:2]) == (height, width):
        return image
    return torch.from_numpy(cv2.resize(image.numpy(), (width, height), interpolation=cv2.INTER_AREA))


@dataclass
class VideoCatalogue:
    """Every video of a dataset, in identity-index order."""

    identity_names: List[str]
    expressions: List[Float[Tensor, "N d"]]
    """Every frame's expression, per video (train and held-out frames, in time order)."""
    train_frame_index: List[Int[Tensor, " N"]]
    """Every frame's train-frame index (its latent code's row), ``UNSEEN_FRAME`` for held-out frames, per video."""
    camera_to_worlds: List[Float[Tensor, "N 3 4"]]
    """Every frame's camera (nerfstudio/OpenGL convention, head at the origin), per video."""
    intrinsics: List[VideoIntrinsics]
    backgrounds: List[UInt8[Tensor, "H W 3"]]
    """Each video's static background at its image size."""
    near: float
    """Near plane of every ray (scene units)."""
    far: float
    """Far plane of every ray: where the background sample sits."""
    frame_backgrounds: Optional[Callable[[int, int, int, int], Optional[Tensor]]] = None
    """``(video, row, height, width) -> uint8 [H, W, 3]`` or None: a recorded frame's own background (the frame outside
    its head mask, the static background behind the head), for videos that use per-frame backgrounds; given by the
    data side (the dataparser), which reads the files."""
    segments: Optional[List[Optional[Int[Tensor, " N"]]]] = None
    """Every frame's segment index (clips joined into one identity, shots between cuts), per video; None for a video
    of one segment. The smoothing window stays within a segment."""
    _resized: Dict[Tuple[int, int, int], Tensor] = field(default_factory=dict, repr=False)

    @property
    def num_videos(self) -> int:
        return len(self.identity_names)

    @property
    def expression_dim(self) -> int:
        return int(self.expressions[0].shape[1])

    @property
    def num_train_frames(self) -> int:
        return int(sum(int((t >= 0).sum()) for t in self.train_frame_index))

    def identity_index(self, name: str) -> int:
        """Index of an identity by name (ValueError listing the known names otherwise)."""
        if name not in self.identity_names:
            raise ValueError(f"unknown identity {name!r}; known identities: {', '.join(self.identity_names)}")
        return self.identity_names.index(name)

    def train_frame_identity(self) -> Int[Tensor, " F"]:
        """The video index of every train frame."""
        out = torch.zeros(self.num_train_frames, dtype=torch.long)
        for video, table in enumerate(self.train_frame_index):
            out[table[table >= 0]] = video
        return out

    def train_frame_location(self, k: int) -> Tuple[int, int]:
        """(video, frame within the video) of train frame ``k``."""
        for video, table in enumerate(self.train_frame_index):
            hits = torch.nonzero(table == k)
            if len(hits):
                return video, int(hits[0, 0])
        raise IndexError(f"no train frame {k} (the dataset has {self.num_train_frames})")

    def frame_condition(
        self, video: int, frame: int, identity: int | None = None, frame_background: bool = True
    ) -> Condition:
        """Identity ``identity`` (default: the video's own) making ``video``'s expression ``frame``. The latent is
        that frame's own when it is the identity's own train frame; otherwise the unseen-frame policy's. The identity's
        own frame also brings its own background (``frame_background``; the viewer, whose camera moves, keeps the
        static one). The window of neighbours (temporal smoothing) is the frame's in ``video``'s sequence."""
        identity = video if identity is None else identity
        frame = min(max(frame, 0), len(self.expressions[video]) - 1)
        own = identity == video
        source = frame if own and frame_background else NO_SOURCE_FRAME
        segments = self.segments[video] if self.segments else None
        rows = window_rows(torch.tensor([frame]), len(self.expressions[video]), segments)[0]
        frames = self.train_frame_index[video][rows] if own else torch.full_like(rows, UNSEEN_FRAME)
        return Condition(
            self.expressions[video][frame],
            identity,
            int(frames[CENTRE]),
            source,
            expression_window=self.expressions[video][rows],
            frame_window=frames,
        )

    def train_frame_condition(self, k: int) -> Condition:
        """The condition of train frame ``k``: its video's identity, expression and latent code."""
        return self.frame_condition(*self.train_frame_location(k))

    def frame_background(self, video: int, row: int, height: int, width: int) -> UInt8[Tensor, "H W 3"]:
        """The background of recorded frame ``row`` of ``video``: its own where the video uses per-frame backgrounds,
        else (and for ``row < 0``: no recorded frame) the static one."""
        if row >= 0 and self.frame_backgrounds is not None:
            own = self.frame_backgrounds(video, row, height, width)
            if own is not None:
                return own
        return self.background(video, height, width)

    def background(self, video: int, height: int, width: int) -> UInt8[Tensor, "H W 3"]:
        """The video's background at ``height`` x ``width`` (``resize_background``; resized copies are kept)."""
        key = (video, height, width)
        if key not in self._resized:
            if len(self._resized) >= MAX_RESIZED_BACKGROUNDS:  # the viewer asks for ever new sizes
                self._resized.clear()
            self._resized[key] = resize_background(self.backgrounds[video], height, width)
        return self._resized[key]
