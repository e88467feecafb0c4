"""Lip-sync of the audio-to-expression models, measured without SyncNet (not available offline).

    python benchmarks/lipsync.py --data DATA [--held-out-seconds 2] [--seeds 0 1 2] [--espeak]

DATA is a dataset with aud.wav per video (``minerf-track`` of the real clips). The last ``--held-out-seconds`` of each
video are held out; the learned mapping is fitted on the rest of every video jointly. On the held-out seconds, for the
viseme prior and the learned mapping: the correlation of the predicted jawOpen and lip-closure curves with the tracked
ones, and the offset (frames) that maximises their cross-correlation (positive: prediction late). Also the correlation
of the predicted jawOpen with the lip gap FaceMesh's landmarks measure in the frames (a reference independent of the
3DMM fit). ``--espeak``: on espeak-ng sentences, whether the prior closes the lips at each bilabial espeak reports.
"""

from __future__ import annotations

import argparse
import tempfile
import wave
from pathlib import Path

import cv2
import numpy as np

from dataparsers.dataset_scan import read_dataset
from minerf_ns.audio import espeak
from minerf_ns.audio.basis import expression_names
from minerf_ns.audio.driving import calibrated_prior
from minerf_ns.audio.features import prior_for_frames
from minerf_ns.audio.lipsync import best_offset, correlation, lip_curves
from minerf_ns.audio.mapping import MappingSettings, fit_mapping
from minerf_ns.audio.phones import recognize_phones
from minerf_ns.audio.training_data import clips_from_videos
from minerf_ns.audio.waveform import SAMPLE_RATE, read_audio
from minerf_ns.tracking.face_landmarker import FaceLandmarker

UPPER_LIP, LOWER_LIP, EYE_R, EYE_L = 13, 14, 33, 263
"""FaceMesh landmarks: inner lip midpoints and outer eye corners (the gap is measured in eye distances)."""
ESPEAK_SENTENCES = [
    "Bob made a map of the big bay, please bring my papers.",
    "My mom bought a purple umbrella by the pump.",
    "Maybe Pam will bake apple pie in May.",
    "The boy put the bottle of milk back by the pumpkin.",
    "Members of the public may bid on both boats.",
]


def lip_gap(video) -> np.ndarray:
    landmarker, gaps = FaceLandmarker(), []
    for path in video.image_filenames:
        result = landmarker.track(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        p = result.points if result is not None else None
        gaps.append(
            np.nan if p is None else np.linalg.norm(p[UPPER_LIP] - p[LOWER_LIP]) / np.linalg.norm(p[EYE_R] - p[EYE_L])
        )
    return np.asarray(gaps)


def scores(predicted: np.ndarray, tracked: np.ndarray, gap: np.ndarray, names) -> dict:
    mine, theirs = lip_curves(predicted, names), lip_curves(tracked, names)
    return {
        "jaw_r": correlation(mine["jaw_open"], theirs["jaw_open"]),
        "jaw_offset": best_offset(mine["jaw_open"], theirs["jaw_open"]),
        "closure_r": correlation(mine["lip_closure"], theirs["lip_closure"]),
        "closure_offset": best_offset(mine["lip_closure"], theirs["lip_closure"]),
        "gap_r": correlation(mine["jaw_open"], gap),
        "gap_offset": best_offset(mine["jaw_open"], gap),
    }


def real(data: Path, held_seconds: float, seeds: list[int]) -> None:
    videos = [v for v in read_dataset(data) if v.audio is not None]
    names = expression_names(videos[0].expression_dim)
    fraction = {v.name: held_seconds * v.fps / v.num_frames for v in videos}
    split = clips_from_videos(videos, held_out_fraction=max(fraction.values()))
    print(f"{len(videos)} videos with sound; held out the last {held_seconds:g} s of each; fitted on "
          f"{sum(len(c.features) for c in split.train)} frames")  # fmt: skip
    rows = []
    for video in videos:
        held = next(c for c in split.held_out if c.identity == video.name)
        count = len(held.features)
        frame_ids = video.frame_numbers()[-count:]
        samples = read_audio(video.audio, duration_s=(int(video.frame_numbers().max()) + 1) / video.fps,
                             require_sound=False)  # fmt: skip
        phones = recognize_phones(samples)
        own = video.expressions[:-count]
        prior = calibrated_prior(prior_for_frames(phones, frame_ids, video.fps, names), own, names)
        gap = lip_gap(video)[-count:]
        rows.append((video.name, "viseme prior", scores(prior, held.expressions, gap, names)))
        for seed in seeds:
            mapping = fit_mapping(split.train, MappingSettings(seed=seed))
            rows.append((video.name, f"learned, seed {seed}", scores(mapping.predict(held.features, video.name),
                                                                      held.expressions, gap, names)))  # fmt: skip
    print("| video | model | jawOpen r | offset | lip closure r | offset | jawOpen vs landmark lip gap r | offset |")
    print("|---|---|---|---|---|---|---|---|")
    for name, model, s in rows:
        print(f"| {name} | {model} | {s['jaw_r']:.2f} | {s['jaw_offset']:+d} | {s['closure_r']:.2f} | "
              f"{s['closure_offset']:+d} | {s['gap_r']:.2f} | {s['gap_offset']:+d} |")  # fmt: skip


def espeak_closures(fps: float = 25.0) -> None:
    names = expression_names(53)
    hits, count = 0, 0
    for text in ESPEAK_SENTENCES:
        samples, rate, phonemes = espeak.speak(text)
        path = Path(tempfile.mkdtemp()) / "s.wav"
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(rate)
            handle.writeframes(samples.tobytes())
        audio = read_audio(path)
        frames = int(len(audio) / SAMPLE_RATE * fps) + 1
        closure = lip_curves(prior_for_frames(recognize_phones(audio), np.arange(frames), fps, names), names)
        closure = closure["lip_closure"]
        for phoneme in phonemes:
            if phoneme.name not in espeak.BILABIAL_PHONEMES:
                continue
            count += 1
            lo = max(0, int(np.floor(phoneme.start_s * fps)) - 2)
            hi = min(frames, int(np.ceil(phoneme.end_s * fps)) + 3)
            peak = lo + int(np.argmax(closure[lo:hi]))
            hits += bool(closure[peak] >= 0.5)
    print(
        f"espeak-ng, {len(ESPEAK_SENTENCES)} sentences, {count} bilabial phonemes: the prior's lip closure reaches "
        f"half of a full closure within 2 frames of the phoneme's span for {hits} ({100 * hits / count:.0f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--held-out-seconds", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--espeak", action="store_true")
    args = parser.parse_args()
    if args.data:
        real(args.data, args.held_out_seconds, args.seeds)
    if args.espeak:
        espeak_closures()


if __name__ == "__main__":
    main()
