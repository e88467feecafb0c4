"""The on-disk dataset layout in one place (pure Python): AD-NeRF's file and folder names, the held-out fraction and
the parsing colours.

Read by the dataparser (``dataparsers/adnerf.py``, ``dataparsers/head_dataset.py``), written by ``minerf-synth``
(``synthetic/dataset_writer.py``) and ``minerf-track`` (``tracking/tracker.py``). A video folder holds::

    transforms_train.json, transforms_val.json   intrinsics and frames[].img_id / transform_matrix (/ face_rect)
    track_params.pt                              exp [N, d] (+ euler, trans, focal, id, frame_ids)
    head_imgs/ | gt_imgs/ | ori_imgs/<id>.jpg    frames (the reader takes ori_imgs/ where parsing/ exists too, for
                                                 each frame's own background; else the first folder that exists)
    parsing/<id>.png                             BGR parsing: head, neck, torso, background colours below
    bc.jpg                                       the static background
    aud.wav                                      the video's sound, 16 kHz mono, sample 0 at frame 0 (optional)
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

TRANSFORMS_TRAIN = "transforms_train.json"
TRANSFORMS_VAL = "transforms_val.json"
TRACK_PARAMS = "track_params.pt"
HEAD_IMAGES = "head_imgs"
"""Frames with the head over the static background (AD-NeRF); minerf-synth writes these."""
ORIGINAL_IMAGES = "ori_imgs"
"""Every frame as decoded (AD-NeRF); minerf-track writes these."""
IMAGE_FOLDERS = (HEAD_IMAGES, "gt_imgs", ORIGINAL_IMAGES)
"""Where the reader looks for frames, in order of preference."""
PARSING_FOLDER = "parsing"
BACKGROUND_FILE = "bc.jpg"
AUDIO_FILE = "aud.wav"
"""The video's sound track (AD-NeRF's name): 16 kHz mono, starting with frame 0, as long as the frames."""
FPS_KEY = "fps"
"""Frame rate in the transforms files (written by minerf-track and minerf-synth; AD-NeRF's videos are 25 fps)."""
SEGMENT_STARTS_KEY = "segment_starts"
"""Frame numbers where a new clip or shot begins, in the transforms files, when a video folder joins several clips of
one person or a clip has cuts (written by minerf-track). Nothing that looks at neighbouring frames (the smoothing
window, the audio mapping's context) reaches across one."""
DEFAULT_FPS = 25.0
"""Frame rate of a video whose transforms do not say (AD-NeRF's preprocessing resamples every video to 25 fps)."""
AUDIO_MAPPING_FILE = "audio_to_expression.pt"
"""The learned audio-to-expression mapping in a run folder (``minerf-audio fit`` writes it, ``minerf-render speak``
uses it)."""
TRACK_REPORT = "track_report.json"
TRACK_OVERLAY = "track_overlay.mp4"
GROUND_TRUTH_DIR = "_ground_truth"
"""minerf-synth's exact ground truth; folders starting with ``_`` or ``.`` are not videos."""

PARSING_HEAD_BGR = (255, 0, 0)
PARSING_NECK_BGR = (0, 255, 0)
PARSING_TORSO_BGR = (0, 0, 255)
PARSING_BACKGROUND_BGR = (255, 255, 255)

HELD_OUT_FRACTION = 0.1
"""The last 10% of each video's frames are held out (the paper's protocol)."""


def frame_image(img_id: int) -> str:
    """File name of frame ``img_id`` in an image folder."""
    return f"{img_id}.jpg"


def parsing_image(img_id: int) -> str:
    """File name of frame ``img_id``'s parsing image."""
    return f"{img_id}.png"


def num_held_out(num_frames: int) -> int:
    """Frames held out of a video of ``num_frames``: the last 10%, at least one."""
    return max(1, math.ceil(HELD_OUT_FRACTION * num_frames))


def train_rows(frame_ids: Sequence[int], fps: float, train_seconds: Optional[float] = None) -> int:
    """How many of a video's tracked frames (``frame_ids``, increasing) are train frames; the rest are held out.

    Default: all but the last 10%. With ``train_seconds``: the frames shown in the first ``train_seconds`` (a short
    cut to train on, the rest of the video to score it; a new person "from a few seconds")."""
    if train_seconds is None:
        return len(frame_ids) - num_held_out(len(frame_ids))
    return sum(1 for frame in frame_ids if frame < train_seconds * fps)


def is_video_folder_name(name: str) -> bool:
    """True unless the name starts with ``_`` or ``.`` (ground truth, hidden folders)."""
    return not name.startswith(("_", "."))
