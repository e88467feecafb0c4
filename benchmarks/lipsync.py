"""Lip-sync of the audio-to-expression models, measured without SyncNet (not available offline).

    python benchmarks/lipsync.py --data DATA [--held-out-seconds 2] [--folds 4] [--seeds 0 1 2] [--espeak]

DATA is a dataset with aud.wav per video (``minerf-track`` of the real clips). The last ``--held-out-seconds`` of each
video are held out (with ``--folds K``: each of K consecutive windows of that length in turn, a cross-validation); the
learned mapping is fitted on the rest of every video jointly. On the held-out seconds, for the
viseme prior and the learned mapping: the correlation of the predicted jawOpen and lip-closure curves with the tracked
ones, and the offset (frames) that maximises their cross-correlation (positive: prediction late). Also the correlation
of the predicted jawOpen with the lip gap FaceMesh's landmarks measure in the frames (a reference independent of the
3DMM fit). ``--espeak``: on espeak-ng sentences, whether the prior closes the lips at each bilabial espeak reports,
with phones recognised from the sound and aligned to the sentence (``minerf-render speak --transcript``; a sentence
that does not align is counted with recognised phones).
"""

from __future__ import annotations

import argparse
import sys
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
from minerf_ns.audio.phones import TranscriptError, recognize_phones, timed_phones
from minerf_ns.audio.training_data import clips_from_videos, held_out_mask
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


def real(data: Path, held_seconds: float, seeds: list[int], folds: int) -> None:
    videos = [v for v in read_dataset(data) if v.audio is not None]
    names = expression_names(videos[0].expression_dim)
    duration = min((int(v.frame_numbers().max()) + 1) / v.fps for v in videos)
    if folds * held_seconds > duration + 1e-9:
        sys.exit(f"{folds} folds of {held_seconds:g} s do not fit the shortest video ({duration:g} s)")
    # one window: the last seconds of every video; several: consecutive windows from the start, each held out in turn
    windows = [(duration - held_seconds, duration)] if folds == 1 else [
        (f * held_seconds, (f + 1) * held_seconds) for f in range(folds)
    ]  # fmt: skip
    gaps = {v.name: lip_gap(v) for v in videos}
    phones = {  # the prior's phones, once per video (every window reads them)
        v.name: recognize_phones(
            read_audio(v.audio, duration_s=(int(v.frame_numbers().max()) + 1) / v.fps, require_sound=False)
        )  # fmt: skip
        for v in videos
    }
    rows = []
    for window in windows:
        split = clips_from_videos(videos, held_out_seconds=window)
        print(f"held out {window[0]:g}-{window[1]:g} s of each of {len(videos)} videos; fitted on "
              f"{sum(len(c.features) for c in split.train)} frames", flush=True)  # fmt: skip
        for video in videos:
            mask = held_out_mask(video.frame_numbers(), video.fps, window)
            held = next(c for c in split.held_out if c.identity == video.name)
            frame_ids = video.frame_numbers()[mask]
            raw_prior = prior_for_frames(phones[video.name], frame_ids, video.fps, names)
            prior = calibrated_prior(raw_prior, video.expressions[~mask], names)
            gap = gaps[video.name][mask]
            rows.append((video.name, window, "viseme prior", scores(prior, held.expressions, gap, names)))
            for seed in seeds:
                mapping = fit_mapping(split.train, MappingSettings(seed=seed))
                predicted = mapping.predict(held.features, video.name)
                rows.append((video.name, window, "learned", scores(predicted, held.expressions, gap, names)))
    print("\n| video | held out | model | jawOpen r | offset | lip closure r | offset | jawOpen vs landmark lip gap r "
          "| offset |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    for name, window, model, s in rows:
        print(
            f"| {name} | {window[0]:g}-{window[1]:g} s | {model} | {s['jaw_r']:.2f} | {s['jaw_offset']:+d} | "
            f"{s['closure_r']:.2f} | {s['closure_offset']:+d} | {s['gap_r']:.2f} | {s['gap_offset']:+d} |"
        )
    print(f"\nover {len(windows)} held-out window(s) (learned: x {len(seeds)} seeds): mean, [min, max]; offsets "
          "within +-1 frame\n\n| video | model | jawOpen r | jawOpen offset within +-1 | lip closure r | "
          "landmark lip gap r |\n|---|---|---|---|---|---|")  # fmt: skip
    for name in [v.name for v in videos]:
        for model in ("viseme prior", "learned"):
            chosen = [s for n, _, m, s in rows if n == name and m == model]

            def spread(key: str, chosen=chosen) -> str:
                values = [s[key] for s in chosen]
                return f"{np.mean(values):.2f} [{min(values):.2f}, {max(values):.2f}]"

            near = sum(abs(s["jaw_offset"]) <= 1 for s in chosen)
            print(
                f"| {name} | {model} | {spread('jaw_r')} | {near} of {len(chosen)} | {spread('closure_r')} | "
                f"{spread('gap_r')} |"
            )


def espeak_closures(voices: list[str], fps: float = 25.0) -> None:
    names = expression_names(53)
    ways = ("recognised from the sound", "aligned to the sentence")
    print("\n| espeak-ng voice | phones | bilabials closed within 2 frames |\n|---|---|---|")
    for voice in voices:
        hits, count, aligned = dict.fromkeys(ways, 0), 0, 0
        for text in ESPEAK_SENTENCES:
            samples, rate, phonemes = espeak.speak(text, voice=voice)
            path = Path(tempfile.mkdtemp()) / "s.wav"
            with wave.open(str(path), "wb") as handle:
                handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(rate)
                handle.writeframes(samples.tobytes())
            audio = read_audio(path)
            frames = int(len(audio) / SAMPLE_RATE * fps) + 1
            recognised = timed_phones(audio)
            try:
                by_way = {ways[0]: recognised, ways[1]: timed_phones(audio, text)}
                aligned += 1
            except TranscriptError:  # counted with the recognised phones
                by_way = {ways[0]: recognised, ways[1]: recognised}
            bilabials = [p for p in phonemes if p.name in espeak.BILABIAL_PHONEMES]
            count += len(bilabials)
            for way, phones in by_way.items():
                closure = lip_curves(prior_for_frames(phones, np.arange(frames), fps, names), names)["lip_closure"]
                for phoneme in bilabials:
                    lo = max(0, int(np.floor(phoneme.start_s * fps)) - 2)
                    hi = min(frames, int(np.ceil(phoneme.end_s * fps)) + 3)
                    hits[way] += bool(closure[lo:hi].max() >= 0.5)
        for way in ways:
            note = f" ({aligned} of {len(ESPEAK_SENTENCES)} sentences aligned)" if way == ways[1] else ""
            print(f"| {voice} | {way}{note} | {hits[way]} of {count} ({100 * hits[way] / count:.0f}%) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--held-out-seconds", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=1, help="hold out each of this many consecutive windows in turn "
                        "(1: the last --held-out-seconds only)")  # fmt: skip
    parser.add_argument("--espeak", action="store_true")
    parser.add_argument("--voices", nargs="+", default=["en-us", "en-us+klatt2"], help="espeak-ng voices")
    args = parser.parse_args()
    if args.data:
        real(args.data, args.held_out_seconds, args.seeds, args.folds)
    if args.espeak:
        espeak_closures(args.voices)


if __name__ == "__main__":
    main()
