"""Lip-sync of the audio-to-expression models, measured without SyncNet (not available offline).

    python benchmarks/lipsync.py --data DATA [--held-out-seconds 2] [--folds 4] [--seeds 0 1 2] [--espeak]
    python benchmarks/lipsync.py --sentences DATA --align ALIGN_DIR --out OUT [--cross DATA2 ...] [--seeds 0]
    python benchmarks/lipsync.py --sentences DATA --align ALIGN_DIR --out OUT --speakers DATA2 [DATA3 ...]

``--sentences``: DATA is one speaker's many clips tracked into one identity (``minerf-track a.mp4 b.mp4 ... --names
s1 s1 ...``: whole clips held out), ALIGN_DIR holds each clip's word timings (``<clip>.align``, GRID's format). The
mapping is fitted on the training clips (as ``minerf-audio fit --data DATA`` does) and saved as OUT/mapping.pt; on the
held-out clips, for the prior and the mapping, with phones recognised from the sound and from the word timings: the
correlation of jawOpen, lip closure and the lips' opening (mm) with the tracked curves, the offset, and how many
bilabials (p, b, m of the words) the lips close at (opening <= ``CLOSED_MM`` within 2 frames of the phone), beside how
many open vowels they wrongly stay closed at. ``--cross``: the mapping (the mean speaking style) on every video with
sound of other datasets: jawOpen r per speaker against their tracked curves.

DATA is a dataset with aud.wav per video (``minerf-track`` of the real clips). The last ``--held-out-seconds`` of each
video are held out (with ``--folds K``: each of K consecutive windows of that length in turn, a cross-validation); the
learned mapping is fitted on the rest of every video jointly. On the held-out seconds, for the
viseme prior and the learned mapping: the correlation of the predicted jawOpen and lip-closure curves with the tracked
ones, and the offset (frames) that maximises their cross-correlation (positive: prediction late). Also the correlation
of the predicted jawOpen with the lip gap FaceMesh's landmarks measure in the frames (a reference independent of the
3DMM fit). ``--espeak``: on espeak-ng sentences, whether the prior closes the lips at each bilabial espeak reports,
with phones recognised from the sound and aligned to the sentence (``minerf-render speak --transcript``; a sentence
that does not align is counted with recognised phones). ``--speakers``: instead of the held-out sentences, the other
speakers' datasets scored with speaker folds left out, for each log-mel normalisation of ``--variants``, fitted on
DATA alone and with the other folds' speakers (``speakers()``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch

from dataparsers.dataset_scan import read_dataset
from minerf_ns.audio import espeak
from minerf_ns.audio.basis import expression_names
from minerf_ns.audio.driving import calibrated_prior, close_lips
from minerf_ns.audio.features import NUM_MELS, frame_features, prior_for_frames
from minerf_ns.audio.lipsync import best_offset, correlation, lip_curves, lip_opening_mm
from minerf_ns.audio.mapping import AudioToExpression, Clip, MappingSettings, fit_mapping, load_mapping_file
from minerf_ns.audio.phones import TranscriptError, phones_from_timed_words, recognize_phones, timed_phones
from minerf_ns.audio.training_data import clips_from_videos, held_out_mask, segment_sound
from minerf_ns.audio.transcripts import read_timed_words
from minerf_ns.audio.waveform import SAMPLE_RATE, read_audio
from minerf_ns.tracking.face_landmarker import FaceLandmarker, lip_gap

ESPEAK_SENTENCES = [
    "Bob made a map of the big bay, please bring my papers.",
    "My mom bought a purple umbrella by the pump.",
    "Maybe Pam will bake apple pie in May.",
    "The boy put the bottle of milk back by the pumpkin.",
    "Members of the public may bid on both boats.",
]


def video_lip_gaps(video) -> np.ndarray:
    landmarker, gaps = FaceLandmarker(), []
    for path in video.image_filenames:
        result = landmarker.track(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
        gaps.append(np.nan if result is None else lip_gap(result.points))
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
    gaps = {v.name: video_lip_gaps(v) for v in videos}
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


CLOSED_MM = 2.5
"""Lips count as closed when the mean head's lips are open by at most this (below a pixel at 128 px; the tracked
curves of GRID s1 reach it at about 9 in 10 bilabials, the lips' median opening at open vowels is 8 mm)."""
BILABIALS = ("P", "B", "M")
OPEN_VOWELS = ("AA", "AE", "AH", "AW", "AY")


def _segments(data: Path, align: Optional[Path], cache: Path) -> list[dict]:
    """Each clip (segment) of every video with sound: its features from recognised phones and from the word
    timings, its tracked expressions, whether it is held out, its phones. Cached in ``cache``."""
    return _cached(cache, lambda: [s for video in _with_sound(data) for s in _video_segments(video, align)])


def _cached(cache: Path, build):
    """``build()``'s value, pickled in ``cache`` the first time."""
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    value = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(value))
    return value


def _with_sound(data: Path) -> list:
    return [video for video in read_dataset(data) if video.audio is not None]


def _video_segments(video, align: Optional[Path]) -> list[dict]:
    """One video's segments for ``_segments`` (word timings from ``align``/<clip>.align where there)."""
    segments = []
    report = json.loads((video.folder / "track_report.json").read_text())
    clip_names = {c["first_frame"]: Path(c["input"]).stem for c in report.get("clips", [])}
    frame_ids = video.frame_numbers()
    samples = read_audio(video.audio, duration_s=(int(frame_ids.max()) + 1) / video.fps, require_sound=False)
    for rows, first in video.segments():
        ids = frame_ids[rows]
        name = clip_names.get(first, f"{video.name}@{first}")
        part = segment_sound(samples, ids, first, video.fps)
        recognised = recognize_phones(part)
        words = align / f"{name}.align" if align else None
        worded = phones_from_timed_words(read_timed_words(words), len(part) / SAMPLE_RATE) if words and \
            words.is_file() else None  # fmt: skip
        segments.append({
            "video": video.name, "name": name, "fps": video.fps, "frame_ids": ids - first,
            "held": bool(video.held_out[rows].all()), "expressions": video.expressions[rows],
            "recognised": recognised, "worded": worded,
            "features": frame_features(part, ids - first, video.fps, recognised),
            "worded_features": None if worded is None else frame_features(part, ids - first, video.fps, worded),
        })  # fmt: skip
    return segments


def _closures(opening: np.ndarray, phones, frame_ids: np.ndarray, fps: float) -> tuple[int, int, int, int]:
    """(bilabials closed, bilabials, open vowels wrongly closed, open vowels): the lips' opening within 2 frames of
    each phone's span."""
    closed = total = wrong = vowels = 0
    for phone in phones:
        near = (frame_ids >= np.floor(phone.start_s * fps) - 2) & (frame_ids <= np.ceil(phone.end_s * fps) + 2)
        if not near.any():
            continue
        if phone.label in BILABIALS:
            total += 1
            closed += bool(opening[near].min() <= CLOSED_MM)
        elif phone.label in OPEN_VOWELS:
            vowels += 1
            wrong += bool(opening[near].max() <= CLOSED_MM)
    return closed, total, wrong, vowels


def _sentence_scores(predicted: list[np.ndarray], held: list[dict], names) -> dict:
    """Pooled over the held-out clips: correlations, offset, closures (at the phones of the word timings where a
    clip has them)."""
    mine = lip_curves(np.concatenate(predicted), names)
    theirs = lip_curves(np.concatenate([s["expressions"] for s in held]), names)
    opening = [lip_opening_mm(p) for p in predicted]
    tracked_opening = np.concatenate([lip_opening_mm(s["expressions"]) for s in held])
    counts = np.zeros(4, dtype=int)
    for s, o in zip(held, opening):
        counts += np.asarray(_closures(o, s["worded"] or s["recognised"], s["frame_ids"], s["fps"]))
    per_clip = [correlation(lip_curves(p, names)["jaw_open"], lip_curves(s["expressions"], names)["jaw_open"])
                for p, s in zip(predicted, held)]  # fmt: skip
    return {
        "jaw_r": correlation(mine["jaw_open"], theirs["jaw_open"]),
        "jaw_r_clip_median": float(np.median(per_clip)),
        "closure_r": correlation(mine["lip_closure"], theirs["lip_closure"]),
        "opening_r": correlation(np.concatenate(opening), tracked_opening),
        "jaw_offset": best_offset(mine["jaw_open"], theirs["jaw_open"]),
        "closure_offset": best_offset(mine["lip_closure"], theirs["lip_closure"]),
        "bilabials_closed": int(counts[0]), "bilabials": int(counts[1]),
        "vowels_closed": int(counts[2]), "vowels": int(counts[3]),
    }  # fmt: skip


def sentences(data: Path, align: Optional[Path], out: Path, seeds: list[int], steps: int,
              mapping_file: Optional[Path]) -> AudioToExpression:  # fmt: skip
    """Fit on the training clips, score on the held-out clips (whole sentences)."""
    t0 = time.perf_counter()
    segments = _segments(data, align, out / "segments.pkl")
    train, held = [s for s in segments if not s["held"]], [s for s in segments if s["held"]]
    frames = [sum(len(s["frame_ids"]) for s in part) for part in (train, held)]
    print(f"{len(train)} training clips ({frames[0]} frames), {len(held)} held-out clips ({frames[1]} frames); "
          f"phones and features {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    names = expression_names(held[0]["expressions"].shape[1])
    own = np.concatenate([s["expressions"] for s in train])
    rows = []
    tracked = _sentence_scores([s["expressions"] for s in held], held, names)
    rows.append(("tracked curves themselves (reference)", "-", tracked))
    for key, label in (("recognised", "recognised from the sound"), ("worded", "from the word timings")):
        prior = [calibrated_prior(prior_for_frames(s[key] or s["recognised"], s["frame_ids"], s["fps"], names), own,
                                  names) for s in held]  # fmt: skip
        rows.append(("viseme prior", label, _sentence_scores(prior, held, names)))
    mapping = None
    for seed in seeds:
        if mapping_file is not None:
            mapping, fit_s = load_mapping_file(mapping_file), 0.0
        else:
            t0 = time.perf_counter()
            mapping = fit_mapping([Clip(s["video"], s["features"], s["expressions"]) for s in train],
                                  MappingSettings(seed=seed, steps=steps))  # fmt: skip
            fit_s = time.perf_counter() - t0
            torch.save(mapping.to_file_dict(), out / f"mapping_seed{seed}.pt")
        model = f"learned, seed {seed} (fit {fit_s:.0f} s)"
        for key, label in (("features", "recognised from the sound"), ("worded_features", "from the word timings")):
            predicted = [mapping.predict(s[key] if s[key] is not None else s["features"], s["video"]) for s in held]
            rows.append((model, label, _sentence_scores(predicted, held, names)))
        closed = [
            close_lips(
                mapping.predict(s["worded_features"], s["video"]), s["worded"], s["frame_ids"], s["fps"], own, names
            )
            if s["worded"]
            else mapping.predict(s["features"], s["video"])
            for s in held
        ]
        rows.append((model + " + lips closed at the words' p, b, m", "from the word timings",
                     _sentence_scores(closed, held, names)))  # fmt: skip
        if mapping_file is not None:
            break
    print("\n| model | phones | jawOpen r (clip median) | lip closure r | lips' opening r | offset jaw / closure "
          f"| bilabials closed (<= {CLOSED_MM} mm) | open vowels closed |\n" + "|---" * 8 + "|")  # fmt: skip
    for model, label, r in rows:
        print(f"| {model} | {label} | {r['jaw_r']:.3f} ({r['jaw_r_clip_median']:.2f}) | {r['closure_r']:.3f} | "
              f"{r['opening_r']:.3f} | {r['jaw_offset']:+d} / {r['closure_offset']:+d} | {r['bilabials_closed']} of "
              f"{r['bilabials']} ({100 * r['bilabials_closed'] / max(r['bilabials'], 1):.0f}%) | {r['vowels_closed']}"
              f" of {r['vowels']} |")  # fmt: skip
    return mapping


def _standard(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def cross_speaker(mapping: AudioToExpression, datasets: list[Path], out: Path, grid: Optional[Path] = None) -> None:
    """The mapping's mean speaking style on other speakers' videos: jawOpen r against their tracked curves; also of
    an equal blend of the mapping's and the viseme prior's standardised jawOpen curves (does the prior know what the
    mapping does not?), and, with ``grid`` (the ``--sentences`` data), that blend on its held-out sentences."""
    print("\n| speaker | dataset | seconds | learned jawOpen r | offset | prior jawOpen r | learned + prior, blended | "
          "lips' opening r (learned) |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    blends = {}
    for data in datasets:
        segments = _segments(data, None, out / f"cross-{data.name}.pkl")
        for video in sorted({s["video"] for s in segments}):
            parts = [s for s in segments if s["video"] == video]
            names = expression_names(parts[0]["expressions"].shape[1])
            predicted = np.concatenate([mapping.predict(s["features"], None) for s in parts])
            tracked = np.concatenate([s["expressions"] for s in parts])
            raw = [prior_for_frames(s["recognised"], s["frame_ids"], s["fps"], names) for s in parts]
            prior = np.concatenate([calibrated_prior(r, tracked, names) for r in raw])
            mine, theirs = lip_curves(predicted, names), lip_curves(tracked, names)
            prior_jaw = lip_curves(prior, names)["jaw_open"]
            seconds = sum(len(s["frame_ids"]) / s["fps"] for s in parts)
            jaw_r = correlation(mine["jaw_open"], theirs["jaw_open"])
            blends[f"{data.name}/{video}"] = correlation(_standard(mine["jaw_open"]) + _standard(prior_jaw),
                                                         theirs["jaw_open"])  # fmt: skip
            print(f"| {video} | {data.name} | {seconds:.1f} | {jaw_r:.2f} | "
                  f"{best_offset(mine['jaw_open'], theirs['jaw_open']):+d} | "
                  f"{correlation(prior_jaw, theirs['jaw_open']):.2f} | {blends[f'{data.name}/{video}']:.2f} | "
                  f"{correlation(lip_opening_mm(predicted), lip_opening_mm(tracked)):.2f} |", flush=True)  # fmt: skip
    for data in datasets:
        chosen = [r for k, r in blends.items() if k.startswith(f"{data.name}/")]
        print(f"{data.name}: blended jawOpen r, median over {len(chosen)} speakers: {np.median(chosen):.2f}")
    if grid is not None:
        segments = _segments(grid, None, out / "segments.pkl")  # the --sentences run's cache
        held = [s for s in segments if s["held"]]
        names = expression_names(held[0]["expressions"].shape[1])
        own = np.concatenate([s["expressions"] for s in segments if not s["held"]])
        learned = lip_curves(np.concatenate([mapping.predict(s["features"], s["video"]) for s in held]), names)
        prior = lip_curves(
            np.concatenate(
                [
                    calibrated_prior(prior_for_frames(s["recognised"], s["frame_ids"], s["fps"], names), own, names)
                    for s in held
                ]
            ),
            names,
        )
        tracked = lip_curves(np.concatenate([s["expressions"] for s in held]), names)["jaw_open"]
        learned_r = correlation(learned["jaw_open"], tracked)
        blended_r = correlation(_standard(learned["jaw_open"]) + _standard(prior["jaw_open"]), tracked)
        print(f"--sentences' held-out clips (phones recognised): learned {learned_r:.3f}, blended {blended_r:.3f}")


def _segment_gaps(data: Path, cache: Path) -> list[np.ndarray]:
    """FaceMesh's lip gap in every frame of each segment of ``_segments(data)`` (same order): a reference for the
    mouth that does not go through the 3DMM fit. Cached in ``cache``."""

    def build() -> list[np.ndarray]:
        every = {video.name: video_lip_gaps(video) for video in _with_sound(data)}
        return [every[video.name][rows] for video in _with_sound(data) for rows, _ in video.segments()]

    return _cached(cache, build)


def _running_mean(x: np.ndarray, frames: int) -> np.ndarray:
    """Mean over a centred window of ``frames`` rows (edges repeated)."""
    half = frames // 2
    padded = np.concatenate([np.repeat(x[:1], half, 0), x, np.repeat(x[-1:], frames - 1 - half, 0)])
    sums = np.cumsum(np.concatenate([np.zeros_like(x[:1]), padded]), axis=0)
    return (sums[frames:] - sums[:-frames]) / frames


def _variant_features(segments: list[dict], variant: str, key: str = "features") -> list[np.ndarray]:
    """Each segment's features under a log-mel normalisation ``variant`` (``clip``: as computed, centred on the
    clip's mean; ``running``: centred on a running 3 s mean instead; ``speaker``: then divided by the speaker's
    (video's) spread per mel band; ``running+speaker``: both)."""
    out = []
    for s in segments:
        f = (s[key] if s[key] is not None else s["features"]).copy()
        if "running" in variant:
            f[:, :NUM_MELS] -= _running_mean(f[:, :NUM_MELS], int(round(3.0 * s["fps"])))
        out.append(f)
    if "speaker" in variant:
        for video in {s["video"] for s in segments}:
            rows = [k for k, s in enumerate(segments) if s["video"] == video]
            spread = np.concatenate([out[k][:, :NUM_MELS] for k in rows]).std(0).clip(1e-3)
            for k in rows:
                out[k][:, :NUM_MELS] /= spread
    return out


def speakers(grid: Path, align: Optional[Path], others: list[Path], out: Path, variants: list[str], folds: int,
             steps: int) -> None:  # fmt: skip
    """Cross-speaker lip-sync with speakers left out: for each log-mel ``variant``, a mapping fitted on GRID's
    training clips alone, and mappings fitted on them plus the other speakers of all but one of ``folds`` speaker
    folds, scored on the left-out fold's speakers (the mean speaking style): jawOpen r against the tracked curve and
    against FaceMesh's lip gap, pooled over each speaker's clips."""
    grid_segments = [s for s in _segments(grid, align, out / "segments.pkl") if not s["held"]]
    cross, gaps = [], {}
    for data in others:
        part = _segments(data, None, out / f"cross-{data.name}.pkl")
        for s, gap in zip(part, _segment_gaps(data, out / f"gaps-{data.name}.pkl")):
            s["video"] = f"{data.name}/{s['video']}"
            gaps[id(s)] = gap
        cross += part
    names = expression_names(cross[0]["expressions"].shape[1])
    people = sorted({s["video"] for s in cross})
    fold_of = {p: k % folds for k, p in enumerate(people)}
    scores: dict[tuple[str, str, str], float] = {}

    def score(variant: str, training: str, mapping: AudioToExpression, chosen: list[str]) -> None:
        for person in chosen:
            parts = [s for s in cross if s["video"] == person]
            features = _variant_features(parts, variant)
            predicted = np.concatenate([mapping.predict(f, None) for f in features])
            jaw = lip_curves(predicted, names)["jaw_open"]
            tracked = lip_curves(np.concatenate([s["expressions"] for s in parts]), names)["jaw_open"]
            gap = np.concatenate([gaps[id(s)] for s in parts])
            seen = np.isfinite(gap)
            scores[(person, variant, training)] = correlation(jaw, tracked)
            scores[(person, variant, training + " vs lip gap")] = correlation(jaw[seen], gap[seen])
            scores[(person, "reference", "tracked vs lip gap")] = correlation(tracked[seen], gap[seen])

    for variant in variants:
        t0 = time.perf_counter()
        grid_features = _variant_features(grid_segments, variant)
        clips = [Clip(s["video"], f, s["expressions"]) for s, f in zip(grid_segments, grid_features)]
        score(variant, "GRID s1", fit_mapping(clips, MappingSettings(steps=steps)), people)
        for fold in range(folds):
            rest = [s for s in cross if fold_of[s["video"]] != fold]
            extra = [Clip(s["video"], f, s["expressions"]) for s, f in zip(rest, _variant_features(rest, variant))]
            mapping = fit_mapping(clips + extra, MappingSettings(steps=steps))
            score(variant, "GRID s1 + other speakers", mapping, [p for p in people if fold_of[p] == fold])
        print(f"{variant}: {time.perf_counter() - t0:.0f} s", flush=True)
    columns = sorted({(v, t) for _, v, t in scores if v != "reference"})
    print("\n| speaker | seconds | tracked vs lip gap | " + " | ".join(f"{v}, {t}" for v, t in columns) + " |")
    print("|---" * (3 + len(columns)) + "|")
    for person in people:
        seconds = sum(len(s["frame_ids"]) / s["fps"] for s in cross if s["video"] == person)
        row = [f"{scores[(person, v, t)]:.2f}" for v, t in columns]
        print(f"| {person} | {seconds:.1f} | {scores[(person, 'reference', 'tracked vs lip gap')]:.2f} | "
              + " | ".join(row) + " |")  # fmt: skip
    print("| median | | | " + " | ".join(f"{np.median([scores[(p, v, t)] for p in people]):.2f}"
                                       for v, t in columns) + " |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--held-out-seconds", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=1, help="hold out each of this many consecutive windows in turn "
                        "(1: the last --held-out-seconds only)")  # fmt: skip
    parser.add_argument("--espeak", action="store_true")
    parser.add_argument("--sentences", type=Path, help="one speaker's clips tracked into one identity")
    parser.add_argument("--align", type=Path, help="word timings of --sentences' clips (<clip>.align)")
    parser.add_argument("--out", type=Path, default=Path("lipsync-out"), help="caches and fitted mappings")
    parser.add_argument("--steps", type=int, default=MappingSettings().steps, help="mapping fit steps")
    parser.add_argument("--mapping", type=Path, help="score this mapping instead of fitting one")
    parser.add_argument("--cross", type=Path, nargs="*", default=[], help="datasets of other speakers")
    parser.add_argument("--speakers", type=Path, nargs="*", default=[], help="with --sentences: other speakers' "
                        "datasets, scored with speaker folds left out (speakers())")  # fmt: skip
    parser.add_argument("--variants", nargs="+", default=["clip", "running", "speaker", "running+speaker"])
    parser.add_argument("--speaker-folds", type=int, default=3)
    parser.add_argument("--voices", nargs="+", default=["en-us", "en-us+klatt2"], help="espeak-ng voices")
    args = parser.parse_args()
    if args.data:
        real(args.data, args.held_out_seconds, args.seeds, args.folds)
    if args.sentences:
        args.out.mkdir(parents=True, exist_ok=True)
        if args.speakers:
            speakers(args.sentences, args.align, args.speakers, args.out, args.variants, args.speaker_folds,
                     args.steps)  # fmt: skip
            return
        mapping = sentences(args.sentences, args.align, args.out, args.seeds, args.steps, args.mapping)
        if args.cross:
            cross_speaker(mapping, args.cross, args.out, args.sentences)
    if args.espeak:
        espeak_closures(args.voices)


if __name__ == "__main__":
    main()
