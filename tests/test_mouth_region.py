"""The mouth region (issue 27): ICT-FaceKit's lip landmarks under each frame's expression, projected with its camera,
hold the lips of the synthetic heads (whose lip colour is known); minerf-eval scores it."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from dataparsers.dataset_scan import read_video
from minerf_ns.face.mouth import mouth_rect


def _chroma(rgb: np.ndarray) -> np.ndarray:
    return rgb / (rgb.sum(-1, keepdims=True) + 1e-6)


def test_the_mouth_box_holds_the_lips_of_every_synthetic_head(synth_dataset):
    root, _ = synth_dataset
    truth = {
        entry["name"]: entry for entry in json.loads((root / "_ground_truth" / "meta.json").read_text())["identities"]
    }
    inside, areas = [], []
    for name, entry in truth.items():
        video = read_video(root / name)
        camera = video.intrinsics
        lips, skin = np.asarray(entry["lips"]), np.asarray(entry["skin"])
        for k in range(0, video.num_frames, 4):
            image = np.asarray(Image.open(video.image_filenames[k]).convert("RGB"), dtype=np.float64) / 255.0
            x, y, w, h = mouth_rect(video.camera_to_worlds[k], camera.fx, camera.fy, camera.cx, camera.cy,
                                    video.expressions[k])  # fmt: skip
            # lip pixels: a colour nearer the lips' than the skin's (shading changes brightness, not chroma)
            near_lips = np.linalg.norm(_chroma(image) - _chroma(lips), axis=-1)
            near_skin = np.linalg.norm(_chroma(image) - _chroma(skin), axis=-1)
            ys, xs = np.nonzero((near_lips < 0.5 * near_skin) & (image.sum(-1) > 0.2))
            assert len(xs) > 10
            inside.append(np.mean((xs >= x) & (xs < x + w) & (ys >= y) & (ys < y + h)))
            areas.append(w * h / image.shape[0] / image.shape[1])
    # measured at 64 px, 15 frames: 95% of the lip pixels inside on average, 78% at worst; boxes 1.8-3.0% of the frame
    assert np.mean(inside) > 0.92 and min(inside) > 0.7, inside
    assert 0.015 < min(areas) and max(areas) < 0.035, areas


def test_no_mouth_without_ict_expressions_or_behind_the_camera():
    pose = np.eye(4)[:3]
    pose[2, 3] = 0.6  # 0.6 m in front of the face, looking at it
    assert mouth_rect(pose, 100.0, 100.0, 32.0, 32.0, np.zeros(79)) is None  # AD-NeRF's 79-value basis
    x, y, w, h = mouth_rect(pose, 100.0, 100.0, 32.0, 32.0, np.zeros(53))
    assert 20 < x < 32 < x + w < 44 and y > 32  # centred, below the head's centre (the mouth is under the eyes)
    behind = pose.copy()
    behind[2, 3] = -0.6
    assert mouth_rect(behind, 100.0, 100.0, 32.0, 32.0, np.zeros(53)) is None
