"""minerf-track on footage as it comes: several clips of one person joined into one identity (boundaries kept from
the fit, the smoothing window, the audio mapping's context and the held-out split), a face-centred crop whose
intrinsics stay exact, and cuts inside a clip (a cutaway without the person) found and reported with their times."""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from nerfstudio_cli import fail_line, run
from test_tracking import render_video

from dataparsers.adnerf import read_adnerf_video
from minerf_ns.audio.training_data import clips_from_videos
from minerf_ns.audio.waveform import SAMPLE_RATE, read_audio
from minerf_ns.catalogue import VideoCatalogue
from minerf_ns.contract import WINDOW, VideoIntrinsics, window_rows
from minerf_ns.media import write_video
from minerf_ns.tracking.framing import SquareCrop
from minerf_ns.tracking.shot_cuts import CutDetector

SIZE = 160
CANVAS = (240, 360)
"""Frames are the synthetic head pasted off-centre into a larger canvas (as GRID's face sits in its frame)."""
OFFSET = (60, 180)
"""Where the head's square lies in the canvas (row, column)."""
CLIP_FRAMES = 12
CUT_AT, BACK_AT = 6, 10
"""The third clip shows a flat "cutaway" graphic from frame 6 to 9 (no person), then the person again."""


def _canvas(frame: np.ndarray) -> np.ndarray:
    out = np.full((*CANVAS, 3), 40, np.uint8)
    out[OFFSET[0] : OFFSET[0] + SIZE, OFFSET[1] : OFFSET[1] + SIZE] = frame
    return out


def _tone(path: Path, seconds: float, hz: float) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(SAMPLE_RATE)
        handle.writeframes((0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Three clips of one synthetic person with sound (a different tone each), the third with a cutaway."""
    frames, _ = render_video(3 * CLIP_FRAMES, SIZE, seed=5)
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for k in range(3):
        part = [_canvas(f) for f in frames[k * CLIP_FRAMES : (k + 1) * CLIP_FRAMES]]
        if k == 2:
            for j in range(CUT_AT, BACK_AT):
                part[j] = np.full_like(part[j], 230)  # a bright graphic: a cut in, and a cut back
        sound = _tone(folder / f"{k}.wav", CLIP_FRAMES / 25, 300.0 * (k + 1))
        paths.append(folder / f"clip{k}.mp4")
        write_video(paths[-1], part, fps=25, audio=sound)
    return paths


@pytest.fixture(scope="module")
def joined(clips, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("joined") / "data"
    run("minerf-track", *map(str, clips), "--names", "ada", "ada", "ada", "--crop", "face", "--size", "96",
        "--output", str(root), "--no-overlay", cwd=root.parent)  # fmt: skip
    return root / "ada"


def test_clips_of_one_person_become_one_identity(joined):
    report = json.loads((joined / "track_report.json").read_text())
    assert report["frames"] == 3 * CLIP_FRAMES
    assert [c["first_frame"] for c in report["clips"]] == [0, CLIP_FRAMES, 2 * CLIP_FRAMES]
    cut_in, cut_back = 2 * CLIP_FRAMES + CUT_AT, 2 * CLIP_FRAMES + BACK_AT
    assert [c["frame"] for c in report["cuts"]] == [cut_in, cut_back]
    assert report["cuts"][0]["time_s"] == pytest.approx(cut_in / 25)
    assert report["segment_starts"] == [0, CLIP_FRAMES, 2 * CLIP_FRAMES, cut_in, cut_back]
    # the cutaway has no face: skipped and reported as one range with its times
    assert report["frames_skipped"] == list(range(cut_in, cut_back))
    span = {"first_frame": cut_in, "last_frame": cut_back - 1, "start_s": cut_in / 25, "end_s": cut_back / 25}
    assert report["skipped_ranges"] == [span]
    assert any("cut(s) at 1.20 s, 1.36 s" in w for w in report["warnings"])
    # whole clips are held out: the last 10% of 3 clips is the last clip
    video = read_adnerf_video(joined)
    assert (video.frame_numbers()[video.held_out] >= 2 * CLIP_FRAMES).all()
    assert (video.frame_numbers()[~video.held_out] < 2 * CLIP_FRAMES).all()
    assert video.segment_starts.tolist() == report["segment_starts"]
    # the sound of the three clips, one after the other, exactly as long as the frames
    audio = read_audio(joined / "aud.wav")
    assert len(audio) == round(3 * CLIP_FRAMES / 25 * SAMPLE_RATE)
    for k, hz in enumerate((300.0, 600.0, 900.0)):
        middle = slice(*(int((k + f) * CLIP_FRAMES / 25 * SAMPLE_RATE) for f in (0.25, 0.75)))
        part = audio[middle]
        spectrum = np.abs(np.fft.rfft(part))
        assert np.fft.rfftfreq(len(part), 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(hz, abs=15)


def test_face_crop_keeps_the_intrinsics_exact(joined):
    report = json.loads((joined / "track_report.json").read_text())
    crop = SquareCrop(**report["crop"])
    # the square lies around the pasted head (not the canvas's centre), and the principal point follows it
    assert crop.x0 + crop.side / 2 == pytest.approx(OFFSET[1] + SIZE / 2, abs=25)
    assert crop.x0 > (CANVAS[1] - CANVAS[0]) // 2 + 20  # far right of where a centre crop would start
    cx, cy = (CANVAS[1] / 2 - crop.x0) * 96 / crop.side, (CANVAS[0] / 2 - crop.y0) * 96 / crop.side
    meta = json.loads((joined / "transforms_train.json").read_text())
    assert (meta["cx"], meta["cy"]) == pytest.approx((cx, cy))
    assert report["principal_point"] == pytest.approx([cx, cy])
    assert report["reprojection_error_px"]["mean"] < 1.0  # the fit with the moved principal point (measured 0.4)
    assert report["width"] == report["height"] == 96


def test_nothing_reaches_across_a_boundary(joined):
    video = read_adnerf_video(joined)
    segments = torch.from_numpy(video.row_segments())
    rows = window_rows(torch.arange(video.num_frames), video.num_frames, segments)
    assert rows.shape == (video.num_frames, WINDOW)
    assert (segments[rows] == segments[:, None]).all()  # every window stays in its own segment
    last_of_first_clip = CLIP_FRAMES - 1
    assert rows[last_of_first_clip].max() == last_of_first_clip  # clamped at the clip's end, not the video's
    catalogue = VideoCatalogue(["ada"], [torch.from_numpy(video.expressions)], [torch.arange(video.num_frames)],
                               [torch.eye(4)[:3].expand(video.num_frames, 3, 4)], [VideoIntrinsics(1, 1, 1, 1, 2, 2)],
                               [torch.zeros(2, 2, 3, dtype=torch.uint8)], 0.1, 1.0, segments=[segments])  # fmt: skip
    window = catalogue.frame_condition(0, CLIP_FRAMES).frame_window
    assert window.min() == CLIP_FRAMES  # the first frame of clip 2 sees only clip 2
    # the audio mapping's clips: one per segment and split, none spanning two segments
    split = clips_from_videos([video])
    lengths = sorted(len(c.features) for c in split.train + split.held_out)
    assert sum(lengths) == video.num_frames and lengths == sorted([CLIP_FRAMES, CLIP_FRAMES, CUT_AT, 2])


def test_cut_detector_and_crop_units():
    detector = CutDetector()
    flat = np.full((48, 64, 3), 100, np.uint8)
    assert not detector.is_cut(flat) and not detector.is_cut(flat + 3)  # a talking head's frame-to-frame change
    assert detector.is_cut(np.full_like(flat, 220))
    crop = SquareCrop.around((300.0, 100.0), 200.0, 360, 288, 100)  # pushed back inside the frame
    assert (crop.x0, crop.y0, crop.side) == (160, 0, 200)
    assert crop.principal_point() == pytest.approx(((180 - 160) * 0.5, 144 * 0.5))
    assert SquareCrop.centre(360, 288, 128).principal_point() == pytest.approx((64.0, 64.0))
    assert math.isclose(crop.scale, 0.5)


def test_clips_of_one_identity_must_match(clips, tmp_path):
    still = tmp_path / "other.mp4"
    write_video(still, [np.zeros((120, 160, 3), np.uint8)] * 3, fps=25)
    line = fail_line("minerf-track", str(clips[0]), str(still), "--names", "ada", "ada", "--output",
                     str(tmp_path / "out"), cwd=tmp_path)  # fmt: skip
    assert "other.mp4" in line and "is 160x120" in line and "one frame size" in line
    line = fail_line("minerf-track", str(clips[0]), str(clips[0]), "--names", "a", "b", "--output",
                     str(tmp_path / "out"), cwd=tmp_path)  # fmt: skip
    assert "given twice" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
