"""Track one video into an AD-NeRF-layout folder that ``mi-nerf-data`` reads.

Written under ``OUT/<name>/``::

    ori_imgs/<k>.jpg           every frame k of the input (after the optional square resize)
    parsing/<k>.png            BGR parsing of every tracked frame (head with hair, neck, torso, background)
    head_imgs/<k>.jpg          every tracked frame's head over the static background (AD-NeRF's head_imgs)
    bc.jpg                     the static background (median of uncovered pixels, holes inpainted)
    track_params.pt            exp [N, 53], euler [N, 3], trans [N, 3] (decimetres), focal [1], id [1, K],
                               frame_ids [N]: row r belongs to frame frame_ids[r] (skipped frames have no row)
    transforms_train.json      tracked frames but the last 10% (or those of the first --train-seconds): focal_len,
                               cx, cy, frames[].img_id/transform_matrix
    transforms_val.json        the last 10% of the tracked frames (or all after --train-seconds)
    aud.wav                    the video's sound for the frames used, 16 kHz mono (videos with an audio stream)
    track_report.json          frames tracked and skipped, reprojection error, focal, timings, warnings
    track_overlay.mp4          the fitted model's landmarks and head mask over the frames
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np
import torch

from minerf_ns import layout
from minerf_ns.audio.waveform import AudioInputError, write_wav
from minerf_ns.face.head_model import NECK_CUT_Y_M, load_head_model
from minerf_ns.face.rasterizer import project
from minerf_ns.head_pose import TRACKER_TRANS_SCALE, euler_to_rotation, head_pose_to_camera_to_world
from minerf_ns.media import write_video
from minerf_ns.tracking.background import background_sample_rows, median_background
from minerf_ns.tracking.face_fitting import FaceFit, FitSettings, face_size_px, fit_video
from minerf_ns.tracking.face_landmarker import FaceLandmarker
from minerf_ns.tracking.face_orientation import rigid_free_identity
from minerf_ns.tracking.fitted_head import FittedHead
from minerf_ns.tracking.head_mask import head_masks, refine_head
from minerf_ns.tracking.landmark_map import load_landmark_map
from minerf_ns.tracking.overlay import overlay_frame
from minerf_ns.tracking.photometric_refinement import PhotometricSettings, refine_photometric, working_frame
from minerf_ns.tracking.video_source import TrackInputError, VideoSource

JPEG_QUALITY = 95
MIN_TRACKED_FRAMES = 2

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass
class TrackSettings:
    """What ``track_video`` does besides the fit."""

    size: Optional[int] = None
    """Centre-crop each frame to a square and resize it to ``size`` pixels (None: keep the input size)."""
    overlay: bool = True
    """Write ``track_overlay.mp4``."""
    fit: FitSettings | None = None
    """Landmark-fit weights and schedule (default: ``FitSettings`` with the landmark map's weights)."""
    photometric: PhotometricSettings | None = None
    """Refine the landmark fit with photo-consistency (``photometric_refinement``); None: landmark fit only."""
    train_seconds: Optional[float] = None
    """Train on the frames of the first this many seconds, hold out the rest (None: the last 10% held out)."""


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre crop to a square, then resize to ``size`` x ``size``."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    y0, x0 = (height - side) // 2, (width - side) // 2
    crop = rgb[y0 : y0 + side, x0 : x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise TrackInputError(path, "could not be written", "check that the output folder is writable")


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class _HeadGeometry:
    """The fitted head's full mesh per frame, projected to pixels."""

    def __init__(self, fit: FaceFit, identity_delta: np.ndarray, width: int, height: int) -> None:
        model = load_head_model()
        self.head = FittedHead(model, identity_delta, fit.identity)
        self.is_neck = model.neutral[:, 1] < NECK_CUT_Y_M
        self.fit, self.width, self.height = fit, width, height

    def project(self, row: int) -> np.ndarray:
        """Pixel positions of every vertex in tracked frame ``row``."""
        fit = self.fit
        cam = self.head.camera_vertices(fit.expressions[row], fit.euler[row], fit.translation[row])
        return project(cam, fit.focal, fit.focal, self.width / 2.0, self.height / 2.0)[0]


def _transforms(fit: FaceFit, frame_ids: list[int], rows: range, width: int, height: int, fps: float) -> dict:
    c2w = head_pose_to_camera_to_world(euler_to_rotation(fit.euler), fit.translation)
    return {
        layout.FPS_KEY: fps,
        "focal_len": fit.focal,
        "cx": width / 2.0,
        "cy": height / 2.0,
        "frames": [{"img_id": frame_ids[r], "aud_id": frame_ids[r], "transform_matrix": c2w[r].tolist()} for r in rows],
    }


def track_video(
    source: VideoSource, folder: Path, settings: TrackSettings, progress: Optional[Progress] = None
) -> dict:
    """Track ``source`` into ``folder`` (created; must not exist) and return the report.

    Raises:
        TrackInputError: the input cannot be read, or too few frames show a face.
    """
    progress = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    folder.mkdir(parents=True)
    (folder / layout.ORIGINAL_IMAGES).mkdir()
    (folder / layout.PARSING_FOLDER).mkdir()
    landmarker = FaceLandmarker()
    tracked, skipped, points, small_frames = [], [], [], []
    width = height = None
    total = source.num_frames
    for k, rgb in enumerate(source.frames()):
        if settings.size:
            rgb = square_resize(rgb, settings.size)
        height, width = rgb.shape[:2]
        _write_jpeg(folder / layout.ORIGINAL_IMAGES / layout.frame_image(k), rgb)
        result = landmarker.track(rgb)
        if result is None:
            skipped.append(k)
        else:
            tracked.append(k)
            points.append(result.points)
            if settings.photometric:
                small_frames.append(working_frame(rgb, settings.photometric.max_size))
        progress("landmarks", k + 1, max(total, k + 1))
    num_frames = len(tracked) + len(skipped)
    timings["read_and_landmarks_s"] = time.perf_counter() - start
    if num_frames == 0:
        raise TrackInputError(source.path, "has no frames", "pass a video with at least 2 frames")
    if len(tracked) < MIN_TRACKED_FRAMES:
        raise TrackInputError(
            source.path, f"a face was found in {len(tracked)} of {num_frames} frames",
            "use a video where one face is visible and frontal enough (nothing of it was used)",
        )  # fmt: skip

    t0 = time.perf_counter()
    progress("fitting", 0, 1)
    lmap = load_landmark_map()
    model = load_head_model()
    identity_delta = rigid_free_identity(model)
    landmarks = np.stack(points)
    fit_settings = settings.fit or FitSettings(landmark_weights=lmap.weights())
    basis = lmap.basis(model, identity_delta)
    fit = fit_video(landmarks, width, height, basis, fit_settings)
    progress("fitting", 1, 1)
    timings["fit_s"] = time.perf_counter() - t0
    if settings.photometric:
        t0 = time.perf_counter()
        fit = refine_photometric(
            fit, landmarks, small_frames, width, height, basis, model, identity_delta, fit_settings,
            settings.photometric, progress=lambda step, steps: progress("photometric refinement", step + 1, steps),
        )  # fmt: skip
        del small_frames
        timings["photometric_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    geometry = _HeadGeometry(fit, identity_delta, width, height)
    face_px = face_size_px(landmarks) / math.sqrt(2)
    samples = set(background_sample_rows(len(tracked)).tolist())
    frames, foregrounds = [], []  # only the background's sampled frames stay in memory

    def masks_and_overlays():
        """Keep the background's samples (frames and their foreground masks); yield overlay frames (with --overlay)."""
        for row, k in enumerate(tracked):
            uv = geometry.project(row)
            masks = head_masks(uv, geometry.is_neck, face_px, height, width)  # parsing/ is written once refined
            frame_path = folder / layout.ORIGINAL_IMAGES / layout.frame_image(k)
            rgb = _read_rgb(frame_path) if settings.overlay or row in samples else None
            if row in samples:
                frames.append(rgb)
                foregrounds.append(masks.foreground)
            progress("masks" + (" + overlay video" if settings.overlay else ""), row + 1, len(tracked))
            if settings.overlay:
                fitted = lmap.points(np.concatenate([uv, np.zeros((len(uv), 1))], axis=1))
                text = f"{source.identity or source.name} {k}: {fit.residual_px[row].mean():.1f}px"
                yield overlay_frame(rgb, landmarks[row], fitted, masks.head, text)

    if settings.overlay:
        write_video(folder / layout.TRACK_OVERLAY, masks_and_overlays(), int(round(source.fps)))
    else:
        for _ in masks_and_overlays():
            pass
    timings["masks_and_overlay_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    background, seen = median_background(frames, foregrounds)
    _write_jpeg(folder / layout.BACKGROUND_FILE, background)
    timings["background_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    (folder / layout.HEAD_IMAGES).mkdir()
    for row, k in enumerate(tracked):
        # with the static background known, the hair margin loses the wall it covered; then AD-NeRF's head_imgs/
        # (the head over the static background) for AD-NeRF-family tools
        uv = geometry.project(row)
        frame = _read_rgb(folder / layout.ORIGINAL_IMAGES / layout.frame_image(k))
        masks = refine_head(head_masks(uv, geometry.is_neck, face_px, height, width), uv, geometry.is_neck, frame,
                            background)  # fmt: skip
        if not cv2.imwrite(str(folder / layout.PARSING_FOLDER / layout.parsing_image(k)), masks.parsing_bgr()):
            raise TrackInputError(folder / layout.PARSING_FOLDER, "could not be written", "check the output folder")
        _write_jpeg(folder / layout.HEAD_IMAGES / layout.frame_image(k),
                    np.where(masks.head[..., None], frame, background))  # fmt: skip
        progress("head masks and head images", row + 1, len(tracked))
    timings["head_images_s"] = time.perf_counter() - t0

    frame_ids = torch.tensor(tracked, dtype=torch.long)
    torch.save(
        {
            "exp": torch.from_numpy(fit.expressions),
            "euler": torch.from_numpy(fit.euler),
            "trans": torch.from_numpy(fit.translation * TRACKER_TRANS_SCALE),
            "focal": torch.tensor([fit.focal], dtype=torch.float32),
            "id": torch.from_numpy(fit.identity[None]),
            "frame_ids": frame_ids,
        },
        folder / layout.TRACK_PARAMS,
    )
    num_train = layout.train_rows(tracked, source.fps, settings.train_seconds)
    if not 0 < num_train < len(tracked):
        raise TrackInputError(source.path, f"--train-seconds {settings.train_seconds} leaves {num_train} of its "
                              f"{len(tracked)} tracked frames for training", "pass a cut shorter than the video "
                              "that holds at least one tracked frame")  # fmt: skip
    splits = {"train": range(0, num_train), "val": range(num_train, len(tracked))}
    for name, rows in ((layout.TRANSFORMS_TRAIN, splits["train"]), (layout.TRANSFORMS_VAL, splits["val"])):
        with open(folder / name, "w", encoding="utf-8") as handle:
            json.dump(_transforms(fit, tracked, rows, width, height, source.fps), handle, indent=1)

    t0 = time.perf_counter()
    warnings = []
    try:
        audio = source.audio(num_frames)
    except AudioInputError as err:
        audio = None
        warnings.append(f"the sound track was not kept: {err}")
    if audio is not None:  # frame k is shown at k / fps whether or not it was tracked: skipped frames keep their sound
        write_wav(folder / layout.AUDIO_FILE, audio)
    timings["audio_s"] = time.perf_counter() - t0

    per_frame = fit.residual_px.mean(1)
    if source.variable_frame_rate:
        warnings.append("variable frame rate: frames were used in order, one row each (timestamps are not kept)")
    if skipped:
        warnings.append(f"{len(skipped)} frame(s) without a face were skipped; frame_ids maps rows to frames")
    shortfall = source.shortfall_warning(num_frames)
    if shortfall:
        warnings.append(shortfall)
    timings["total_s"] = time.perf_counter() - start
    report = {
        "input": str(source.path),
        "name": source.identity or source.name,
        "width": width,
        "height": height,
        "fps": source.fps,
        "frames": num_frames,
        "audio": layout.AUDIO_FILE if audio is not None else None,
        "frames_tracked": len(tracked),
        "frames_skipped": skipped,
        "detector_calls": landmarker.detector_calls,
        "reprojection_error_px": {
            "mean": float(per_frame.mean()),
            "median": float(np.median(per_frame)),
            "p95_frame": float(np.percentile(per_frame, 95)),
            "max_frame": float(per_frame.max()),
        },
        "focal_px": fit.focal,
        "photometric_refinement": settings.photometric is not None,
        "background_seen_fraction": seen,
        "train_frames": len(splits["train"]),
        "val_frames": len(splits["val"]),
        "frames_per_second": num_frames / timings["total_s"],
        "timings": timings,
        "warnings": warnings,
    }
    with open(folder / layout.TRACK_REPORT, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    return report
