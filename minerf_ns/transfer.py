"""Expression transfer: identity A rendered with any expression sequence, under A's poses, the driver's poses, a fixed
pose or an orbit (paper sec. 4.3). Works on a loaded MiNerfModel and its video catalogue; reads no files."""

from __future__ import annotations

from typing import Callable, List, Literal, Optional, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from minerf_ns.contract import EXPRESSION, EXPRESSION_WINDOW, NO_SOURCE_FRAME, Condition, sequence_windows
from minerf_ns.orbit import orbit_poses
from minerf_ns.rendering import make_camera, render_rgb

PoseMode = Literal["own", "driver", "fixed", "orbit"]


def transfer_poses(
    model, target: int, num_frames: int, pose: PoseMode, driver: Optional[int] = None
) -> Float[Tensor, "T 3 4"]:
    """Camera-to-world poses for a transfer render of ``num_frames`` frames.

    own: the target video's poses (cycled); driver: the driving video's poses (cycled); fixed: the target's first
    pose; orbit: an orbit around the target's first pose.
    """
    own = model.catalogue.camera_to_worlds[target]
    if pose == "own":
        return own[torch.arange(num_frames) % len(own)]
    if pose == "driver":
        if driver is None:
            raise ValueError("--pose driver needs a driving video (--expressions-from), not an expression file")
        theirs = model.catalogue.camera_to_worlds[driver]
        return theirs[torch.arange(num_frames) % len(theirs)]
    if pose == "fixed":
        return own[:1].expand(num_frames, 3, 4)
    if pose == "orbit":
        return orbit_poses(own[0], num_frames)
    raise ValueError(f"unknown pose mode {pose!r}")


def transfer_source_frames(model, target: int, num_frames: int, pose: PoseMode) -> List[int]:
    """Which recorded frame of the target each render shows the background of: under its own poses its own frames
    (cycled, as the poses are), so A keeps its own torso and studio while its face makes B's expressions; under its
    first pose fixed, its first frame; otherwise none (its static background)."""
    if pose == "own":
        return [k % len(model.catalogue.camera_to_worlds[target]) for k in range(num_frames)]
    return [0 if pose == "fixed" else NO_SOURCE_FRAME] * num_frames


def driven_camera(cameras, target: int, driver: int):
    """Camera ``target`` of a dataset's cameras (its identity, pose, latent policy and background) with the expression
    of camera ``driver`` (and its window of neighbours): one frame of A driven by a recorded frame of B."""
    camera = cameras[target : target + 1]
    theirs = cameras.metadata
    camera.metadata = {**camera.metadata, EXPRESSION: theirs[EXPRESSION][driver : driver + 1],
                       EXPRESSION_WINDOW: theirs[EXPRESSION_WINDOW][driver : driver + 1]}  # fmt: skip
    return camera


def render_transfer(
    model,
    target: int,
    expressions: Float[Tensor, "T d"],
    poses: Float[Tensor, "T 3 4"],
    progress: Optional[Callable[[], None]] = None,
    source_frames: Optional[Sequence[int]] = None,
    sequence: bool = True,
) -> np.ndarray:
    """uint8 [T, H, W, 3]: identity ``target`` making each expression under each pose, over its background (the
    static one, or recorded frame ``source_frames[t]``'s own where its video has per-frame backgrounds).

    The latent code is the unseen-frame policy's (the target video's mean latent by default). ``sequence``: the
    expressions are consecutive frames, each smoothed over its neighbours (once the model's smoothing is on); False:
    unrelated expressions (a grid), each on its own.
    """
    intrinsics = model.catalogue.intrinsics[target]
    sources = [NO_SOURCE_FRAME] * len(expressions) if source_frames is None else list(source_frames)
    windows = sequence_windows(expressions)[0] if sequence else [None] * len(expressions)
    frames = []
    for expression, pose, source, window in zip(expressions, poses, sources, windows):
        condition = Condition(expression, target, source_frame=source, expression_window=window)
        camera = make_camera(pose, intrinsics, condition)
        frames.append((render_rgb(model, camera).numpy() * 255.0 + 0.5).astype(np.uint8))
        if progress is not None:
            progress()
    return np.stack(frames)
