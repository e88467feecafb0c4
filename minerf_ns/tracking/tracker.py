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
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
import torch

from minerf_ns import layout
from minerf_ns.audio.waveform import SAMPLE_RATE, AudioInputError, write_wav
from minerf_ns.face.head_model import NECK_CUT_Y_M, load_head_model
from minerf_ns.face.rasterizer import project
from minerf_ns.head_pose import TRACKER_TRANS_SCALE, euler_to_rotation, head_pose_to_camera_to_world
from minerf_ns.media import write_video
from minerf_ns.tracking.background import background_sample_rows, median_background
from minerf_ns.tracking.face_fitting import FaceFit, FitSettings, face_size_px, fit_video
from minerf_ns.tracking.face_landmarker import FaceLandmarker
from minerf_ns.tracking.face_orientation import rigid_free_identity
from minerf_ns.tracking.fitted_head import FittedHead
from minerf_ns.tracking.framing import CropMode, SquareCrop, face_crop, sample_frames
from minerf_ns.tracking.head_mask import head_masks, refine_head
from minerf_ns.tracking.landmark_map import load_landmark_map
from minerf_ns.tracking.overlay import overlay_frame
from minerf_ns.tracking.photometric_refinement import PhotometricSettings, refine_photometric, working_frame
from minerf_ns.tracking.shot_cuts import CutDetector
from minerf_ns.tracking.video_source import TrackInputError, VideoSource, check_clips

JPEG_QUALITY = 95
MIN_TRACKED_FRAMES = 2

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass
class TrackSettings:
    """What ``track_video`` does besides the fit."""

    size: Optional[int] = None
    """Crop each frame to a square and resize it to ``size`` pixels (None: keep the input size)."""
    crop: CropMode = "centre"
    """``centre``: the largest centred square (only with ``size``, or for square frames); ``face``: one square around
    the face (``framing.face_crop``), the same for every frame of the identity's clips."""
    overlay: bool = True
    """Write ``track_overlay.mp4``."""
    fit: FitSettings | None = None
    """Landmark-fit weights and schedule (default: ``FitSettings`` with the landmark map's weights)."""
    photometric: PhotometricSettings | None = None
    """Refine the landmark fit with photo-consistency (``photometric_refinement``); None: landmark fit only."""
    train_seconds: Optional[float] = None
    """Train on the frames of the first this many seconds, hold out the rest (None: the last 10% held out, or the
    last 10% of the clips when the identity has several)."""
    detect_cuts: bool = True
    """Find cuts inside a clip (``shot_cuts``): tracking restarts there and nothing smooths across them."""


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise TrackInputError(path, "could not be written", "check that the output folder is writable")


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class _HeadGeometry:
    """The fitted head's full mesh per frame, projected to pixels."""

    def __init__(self, fit: FaceFit, identity_delta: np.ndarray, principal_point: tuple[float, float]) -> None:
        model = load_head_model()
        self.head = FittedHead(model, identity_delta, fit.identity)
        self.is_neck = model.neutral[:, 1] < NECK_CUT_Y_M
        self.fit, self.principal_point = fit, principal_point

    def project(self, row: int) -> np.ndarray:
        """Pixel positions of every vertex in tracked frame ``row``."""
        fit = self.fit
        cam = self.head.camera_vertices(fit.expressions[row], fit.euler[row], fit.translation[row])
        return project(cam, fit.focal, fit.focal, *self.principal_point)[0]


def _transforms(
    fit: FaceFit, frame_ids: list[int], rows: range, principal_point: tuple[float, float], fps: float,
    segment_starts: list[int],
) -> dict:  # fmt: skip
    c2w = head_pose_to_camera_to_world(euler_to_rotation(fit.euler), fit.translation)
    meta = {
        layout.FPS_KEY: fps,
        "focal_len": fit.focal,
        "cx": principal_point[0],
        "cy": principal_point[1],
        "frames": [{"img_id": frame_ids[r], "aud_id": frame_ids[r], "transform_matrix": c2w[r].tolist()} for r in rows],
    }
    if len(segment_starts) > 1:
        meta[layout.SEGMENT_STARTS_KEY] = segment_starts
    return meta


def _frame_ranges(frames: list[int], fps: float) -> list[dict]:
    """Consecutive runs of frame numbers, with their times (what the report says of skipped frames)."""
    runs: list[dict] = []
    for k in frames:
        if runs and runs[-1]["last_frame"] == k - 1:
            runs[-1]["last_frame"] = k
            runs[-1]["end_s"] = round((k + 1) / fps, 3)
        else:
            runs.append({"first_frame": k, "last_frame": k, "start_s": round(k / fps, 3),
                         "end_s": round((k + 1) / fps, 3)})  # fmt: skip
    return runs


def choose_crop(clips: Sequence[VideoSource], settings: TrackSettings) -> Optional[SquareCrop]:
    """The square every frame of the identity's clips is cut to (``settings.crop``, ``settings.size``); None: the
    frames as they are (a centre crop without ``size``)."""
    first = clips[0]
    if settings.crop == "face":
        samples = (rgb for clip in clips for rgb in sample_frames(clip.frames(), clip.num_frames))
        crop = face_crop(samples, settings.size)  # frames detected one at a time, none kept
        if crop is None:
            raise TrackInputError(first.path, f"no face was found in the frames sampled from its {len(clips)} "
                                  "clip(s) to place the face crop", "use --crop centre, or a video where the face is "
                                  "visible")  # fmt: skip
        return crop
    if settings.size is None:
        return None
    return SquareCrop.centre(first.width, first.height, settings.size)


def track_video(
    clips: VideoSource | Sequence[VideoSource], folder: Path, settings: TrackSettings,
    progress: Optional[Progress] = None,
) -> dict:  # fmt: skip
    """Track one identity's clips (one video, or several in order: frames and sound concatenated, boundaries
    recorded) into ``folder`` (created; must not exist) and return the report.

    Raises:
        TrackInputError: the input cannot be read, or too few frames show a face.
    """
    clips = [clips] if isinstance(clips, VideoSource) else list(clips)
    check_clips(clips)
    source = clips[0]
    fps = source.fps
    progress = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    crop = choose_crop(clips, settings)
    timings["crop_s"] = time.perf_counter() - start
    folder.mkdir(parents=True)
    (folder / layout.ORIGINAL_IMAGES).mkdir()
    (folder / layout.PARSING_FOLDER).mkdir()
    landmarker = FaceLandmarker()
    cuts = CutDetector() if settings.detect_cuts else None
    tracked, skipped, points, small_frames = [], [], [], []
    clip_starts, cut_frames, clip_frames = [], [], []
    width = height = None
    total = sum(clip.num_frames for clip in clips)
    k = 0
    for clip in clips:
        clip_starts.append(k)
        landmarker.reset()
        if cuts is not None:
            cuts.reset()
        for rgb in clip.frames():
            if cuts is not None and cuts.is_cut(rgb):
                cut_frames.append(k)
                landmarker.reset()  # the face may be elsewhere in the new shot
            # landmarks on the square at the source's resolution, scaled to the output's pixels
            native = crop.cut(rgb) if crop else rgb
            rgb = crop.resize(native) if crop else rgb
            height, width = rgb.shape[:2]
            _write_jpeg(folder / layout.ORIGINAL_IMAGES / layout.frame_image(k), rgb)
            result = landmarker.track(native)
            if result is None:
                skipped.append(k)
            else:
                tracked.append(k)
                points.append(result.points * (crop.scale if crop else 1.0))
                if settings.photometric:
                    small_frames.append(working_frame(rgb, settings.photometric.max_size))
            k += 1
            progress("landmarks", k, max(total, k))
        clip_frames.append(k - clip_starts[-1])
        if clip_frames[-1] == 0:
            raise TrackInputError(clip.path, "has no frames", "pass a video with at least 2 frames")
    num_frames = k
    principal_point = crop.principal_point() if crop else (width / 2.0, height / 2.0)
    timings["read_and_landmarks_s"] = time.perf_counter() - start
    if len(tracked) < MIN_TRACKED_FRAMES:
        raise TrackInputError(
            source.path, f"a face was found in {len(tracked)} of {num_frames} frames",
            "use a video where one face is visible and frontal enough (nothing of it was used)",
        )  # fmt: skip
    segment_starts = sorted(set(clip_starts) | set(cut_frames))
    segment_of_frame = np.searchsorted(np.asarray(segment_starts), np.arange(num_frames), side="right") - 1
    tracked_segments = segment_of_frame[np.asarray(tracked)]
    segment_rows = [0] + [r for r in range(1, len(tracked)) if tracked_segments[r] != tracked_segments[r - 1]]

    t0 = time.perf_counter()
    progress("fitting", 0, 1)
    lmap = load_landmark_map()
    model = load_head_model()
    identity_delta = rigid_free_identity(model)
    landmarks = np.stack(points)
    fit_settings = settings.fit or FitSettings(landmark_weights=lmap.weights())
    basis = lmap.basis(model, identity_delta)
    fit = fit_video(landmarks, width, height, basis, fit_settings, segment_starts=segment_rows,
                    principal_point=principal_point)  # fmt: skip
    progress("fitting", 1, 1)
    timings["fit_s"] = time.perf_counter() - t0
    if not (np.isfinite(fit.focal) and np.isfinite(fit.expressions).all() and np.isfinite(fit.euler).all()):
        raise TrackInputError(source.path, "the face model's fit did not converge (it is not a number)",
                              "track it again with --crop centre, or report the video")  # fmt: skip
    if settings.photometric:
        t0 = time.perf_counter()
        fit = refine_photometric(
            fit, landmarks, small_frames, width, height, basis, model, identity_delta, fit_settings,
            settings.photometric, progress=lambda step, steps: progress("photometric refinement", step + 1, steps),
            segment_starts=segment_rows, principal_point=principal_point,
        )  # fmt: skip
        del small_frames
        timings["photometric_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    geometry = _HeadGeometry(fit, identity_delta, principal_point)
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
        write_video(folder / layout.TRACK_OVERLAY, masks_and_overlays(), int(round(fps)))
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
    num_train = _train_rows(tracked, clip_starts, fps, settings.train_seconds)
    if not 0 < num_train < len(tracked):
        raise TrackInputError(source.path, f"--train-seconds {settings.train_seconds} leaves {num_train} of its "
                              f"{len(tracked)} tracked frames for training", "pass a cut shorter than the video "
                              "that holds at least one tracked frame")  # fmt: skip
    splits = {"train": range(0, num_train), "val": range(num_train, len(tracked))}
    for name, rows in ((layout.TRANSFORMS_TRAIN, splits["train"]), (layout.TRANSFORMS_VAL, splits["val"])):
        with open(folder / name, "w", encoding="utf-8") as handle:
            json.dump(_transforms(fit, tracked, rows, principal_point, fps, segment_starts), handle, indent=1)

    t0 = time.perf_counter()
    warnings = []
    audio = _clip_audio(clips, clip_frames, warnings)
    if audio is not None:  # frame k is shown at k / fps whether or not it was tracked: skipped frames keep their sound
        write_wav(folder / layout.AUDIO_FILE, audio)
    timings["audio_s"] = time.perf_counter() - t0

    per_frame = fit.residual_px.mean(1)
    if any(clip.variable_frame_rate for clip in clips):
        warnings.append("variable frame rate: frames were used in order, one row each (timestamps are not kept)")
    skipped_ranges = _frame_ranges(skipped, fps)
    if skipped:
        spans = ", ".join(f"{r['start_s']:.2f}-{r['end_s']:.2f} s" for r in skipped_ranges[:8])
        more = f" and {len(skipped_ranges) - 8} more" if len(skipped_ranges) > 8 else ""
        warnings.append(f"{len(skipped)} frame(s) without a face were skipped ({spans}{more}); frame_ids maps rows "
                        "to frames")  # fmt: skip
    if cut_frames:
        warnings.append(f"{len(cut_frames)} cut(s) at {', '.join(f'{k / fps:.2f} s' for k in cut_frames[:8])}: "
                        "tracking restarted there, nothing smooths across them")  # fmt: skip
    for clip, count in zip(clips, clip_frames):
        shortfall = clip.shortfall_warning(count)
        if shortfall:
            warnings.append(f"{clip.path.name}: {shortfall}" if len(clips) > 1 else shortfall)
    timings["total_s"] = time.perf_counter() - start
    report = {
        "input": str(source.path),
        "name": source.identity or source.name,
        "width": width,
        "height": height,
        "fps": fps,
        "frames": num_frames,
        "clips": [
            {"input": str(clip.path), "first_frame": first, "frames": count, "start_s": round(first / fps, 3)}
            for clip, first, count in zip(clips, clip_starts, clip_frames)
        ],
        "crop": crop.to_dict() if crop else None,
        "principal_point": list(principal_point),
        "cuts": [{"frame": k, "time_s": round(k / fps, 3)} for k in cut_frames],
        "segment_starts": segment_starts,
        "audio": layout.AUDIO_FILE if audio is not None else None,
        "frames_tracked": len(tracked),
        "frames_skipped": skipped,
        "skipped_ranges": skipped_ranges,
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


def _train_rows(tracked: list[int], clip_starts: list[int], fps: float, train_seconds: Optional[float]) -> int:
    """How many tracked rows train: ``layout.train_rows`` for one clip; for several (and no ``train_seconds``), every
    row before the last 10% of the clips (whole clips held out: no held-out frame has a neighbour in training)."""
    if len(clip_starts) < 2 or train_seconds is not None:
        return layout.train_rows(tracked, fps, train_seconds)
    first_held = clip_starts[len(clip_starts) - layout.num_held_out(len(clip_starts))]
    return sum(1 for frame in tracked if frame < first_held)


def _clip_audio(clips: Sequence[VideoSource], clip_frames: list[int], warnings: list[str]) -> Optional[np.ndarray]:
    """The clips' sound concatenated as their frames are (each exactly its frames long); a clip without sound is
    silence there (with a warning); None when no clip has sound."""
    parts, missing = [], []
    for clip, count in zip(clips, clip_frames):
        try:
            audio = clip.audio(count)
        except AudioInputError as err:
            audio = None
            warnings.append(f"the sound track was not kept: {err}")
        if audio is None:
            missing.append(clip.path.name)
        parts.append(audio if audio is not None else np.zeros(round(count / clip.fps * SAMPLE_RATE), np.float32))
    if len(missing) == len(clips):
        return None
    if missing:
        warnings.append(f"{len(missing)} clip(s) without sound are silence in aud.wav: {', '.join(missing[:5])}")
    return np.concatenate(parts)
