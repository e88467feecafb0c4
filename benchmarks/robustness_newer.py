"""The adversarial pass of issue 30: the newer commands (audio, transcripts, personalization options, datasets changed
after training, concurrent outputs, long inputs), run by ``benchmarks/robustness.py --set newer``.

Each case expects either a run that succeeds (``ok``) or a line saying ``expect``: a line that says something else is
``MISLEADING``, an exit 0 where a line was expected is ``FALSE SUCCESS``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Callable, List

import numpy as np

from minerf_ns.audio.waveform import SAMPLE_RATE, read_audio, write_wav


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make_sounds(fixture: Path) -> None:
    """Sound files the cases share, under ``fixture/sound``: espeak-ng's "Maybe Pam will bake apple pie in May." (or
    a noise burst where espeak-ng is missing) and its conversions; and an ``aud.wav`` of toy speech per video."""
    from minerf_ns.audio import espeak

    sound = fixture / "sound"
    sound.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    if espeak.available():
        samples, rate, _ = espeak.speak("Maybe Pam will bake apple pie in May.", voice="en-us")
        with wave.open(str(sound / "pam.wav"), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes(samples.tobytes())
    else:
        write_wav(sound / "pam.wav", (0.2 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32))
    for video in (p for p in (fixture / "data").iterdir() if p.is_dir() and not p.name.startswith("_")):
        frames = len(list((video / "head_imgs").glob("*.jpg")))
        envelope = np.repeat(rng.uniform(0.0, 1.0, frames), SAMPLE_RATE // 25)
        write_wav(video / "aud.wav", (rng.standard_normal(len(envelope)) * (0.02 + 0.3 * envelope)).astype(np.float32))


def cases(case_type, config: Callable[[Path], str], cpu: List[str]) -> list:
    """The issue-30 cases, built with ``robustness.Case``: each expects a line, or success (``succeeds``)."""
    listed = _cases(case_type, config, cpu)
    for case in listed:
        case.succeeds = not case.expect and case.interrupt_after is None
    return listed


def _cases(case_type, config: Callable[[Path], str], cpu: List[str]) -> list:
    Case = case_type
    pam = lambda c: c / "sound" / "pam.wav"  # noqa: E731

    def speak(c: Path, audio: Path, *extra: str) -> List[str]:
        return ["minerf-render", "speak", "--load-config", config(c), "--identity", "ada", "--audio", str(audio),
                "--max-seconds", "0.2", "--fps", "10", "--output-path", str(c / "s.mp4"), *extra]  # fmt: skip

    def speak_long(c: Path) -> List[str]:
        return ["minerf-render", "speak", "--load-config", config(c), "--identity", "ada", "--audio",
                str(c / "long.wav"), "--fps", "10", "--output-path", str(c / "s.mp4")]  # fmt: skip

    def said(c: Path, *extra: str) -> List[str]:
        return speak(c, pam(c), *extra)

    def transfer(c: Path, *extra: str) -> List[str]:
        return ["minerf-render", "transfer", "--load-config", config(c), "--identity", "ada", "--expressions-from",
                "ben", "--max-frames", "2", "--output-path", str(c / "t.mp4"), *extra]  # fmt: skip

    def personalize(c: Path, *extra: str) -> List[str]:
        return ["minerf-personalize", "--load-config", config(c), "--iterations", "2", "--output-dir", str(c / "p"),
                *extra]  # fmt: skip

    def fit(c: Path, *extra: str) -> List[str]:
        return ["minerf-audio", "fit", "--data", str(c / "data"), "--output", str(c / "m.pt"), "--steps", "5", *extra]

    def evaluate(c: Path) -> List[str]:
        return ["ns-eval", "--load-config", config(c), "--output-path", str(c / "e.json")]

    def wav(name: str, samples: np.ndarray) -> Callable[[Path], None]:
        return lambda c: write_wav(c / name, samples.astype(np.float32))

    def text(name: str, content: bytes) -> Callable[[Path], None]:
        return lambda c: (c / name).write_bytes(content)

    def convert(name: str, *options: str) -> Callable[[Path], None]:
        return lambda c: _ffmpeg("-i", str(pam(c)), *options, str(c / name))

    def drop_train_frames(c: Path, count: int = 2) -> None:
        path = c / "data" / "ada" / "transforms_train.json"
        meta = json.loads(path.read_text())
        meta["frames"] = meta["frames"][:-count]
        path.write_text(json.dumps(meta))

    def train_frame_to_val(c: Path) -> None:
        video = c / "data" / "ada"
        train, val = (json.loads((video / f"transforms_{s}.json").read_text()) for s in ("train", "val"))
        val["frames"].append(train["frames"].pop())
        for split, meta in (("train", train), ("val", val)):
            (video / f"transforms_{split}.json").write_text(json.dumps(meta))

    def resize_frames(c: Path) -> None:
        from PIL import Image

        for image in [*(c / "data" / "ada").glob("*_imgs/*.jpg"), c / "data" / "ada" / "bc.jpg"]:
            Image.open(image).resize((48, 48)).save(image)

    def no_parsing(c: Path) -> None:
        for folder in (c / "data").glob("*/parsing"):
            shutil.rmtree(folder)

    def aud(samples: int) -> Callable[[Path], None]:
        return lambda c: write_wav(c / "data" / "ada" / "aud.wav", np.full(samples, 0.3, np.float32))

    def long_audio(c: Path) -> None:
        speech = read_audio(pam(c))
        write_wav(c / "long.wav", np.tile(speech, int(600 * SAMPLE_RATE / len(speech)) + 1))

    ns_train = lambda c, *extra: ["ns-train", "mi-nerf-fast", "--data", str(c / "data"), "--output-dir",  # noqa: E731
                                  str(c / "out"), "--max-num-iterations", "2", *cpu, *extra]  # fmt: skip
    silence = np.zeros(2 * SAMPLE_RATE)
    return [
        # audio files for speak (class 1, 4 and others)
        Case(
            "speak: a 1-sample wav",
            lambda c: speak(c, c / "one.wav"),
            wav("one.wav", np.full(1, 0.3)),
            expect="too short to hold speech",
        ),
        Case(
            "speak: a 10 ms wav",
            lambda c: speak(c, c / "ten.wav"),
            wav("ten.wav", 0.3 * np.sin(np.arange(160))),
            expect="too short to hold speech",
        ),
        Case(
            "speak: a 0 s wav", lambda c: speak(c, c / "zero.wav"), wav("zero.wav", np.zeros(0)), expect="is 0 s long"
        ),
        Case(
            "speak: a video without sound",
            lambda c: speak(c, c / "mute.mp4"),
            lambda c: _ffmpeg("-f", "lavfi", "-i", "color=black:s=32x32:d=1", str(c / "mute.mp4")),
            expect="has no audio stream",
        ),
        Case(
            "speak: text named .wav",
            lambda c: speak(c, c / "x.wav"),
            text("x.wav", b"not audio"),
            expect="cannot be decoded",
        ),
        Case("speak: --audio a folder", lambda c: speak(c, c / "data"), expect="is not a file"),
        Case(
            "speak: a FLAC file", lambda c: speak(c, c / "a.flac"), convert("a.flac"), outputs=lambda c: [c / "s.mp4"]
        ),
        Case("speak: an MP3 file", lambda c: speak(c, c / "a.mp3"), convert("a.mp3"), outputs=lambda c: [c / "s.mp4"]),
        Case(
            "speak: 8 kHz 8-bit stereo",
            lambda c: speak(c, c / "a.wav"),
            convert("a.wav", "-ar", "8000", "-ac", "2", "-c:a", "pcm_u8"),
            outputs=lambda c: [c / "s.mp4"],
        ),
        Case(
            "speak: 96 kHz float",
            lambda c: speak(c, c / "a.wav"),
            convert("a.wav", "-ar", "96000", "-c:a", "pcm_f32le"),
            outputs=lambda c: [c / "s.mp4"],
        ),
        Case(
            "speak: 2 s of silence first",
            lambda c: speak(c, c / "late.wav"),
            lambda c: write_wav(
                c / "late.wav",
                np.concatenate([silence, read_audio(pam(c))]).astype(np.float32),
            ),
            outputs=lambda c: [c / "s.mp4"],
        ),  # fmt: skip
        Case(
            "speak: a video with sound",
            lambda c: speak(c, c / "talk.mp4"),
            lambda c: _ffmpeg(
                "-f", "lavfi", "-i", "color=black:s=32x32:d=2", "-i", str(pam(c)), "-shortest", str(c / "talk.mp4")
            ),
            outputs=lambda c: [c / "s.mp4"],
        ),  # fmt: skip
        # transcripts (classes 2 and 3)
        *[
            Case(f"transcript: {name}", lambda c, w=words: said(c, "--transcript", w), expect=says)
            for name, words, says in (
                ("'hello' for a whole sentence", "hello", "falls outside the words"),
                ("its first half only", "Maybe Pam will", "falls outside the words"),
                ("another sentence", "The quick brown fox jumps over the lazy dog", "the words"),
            )
        ],
        Case(
            "transcript: an existing file without .txt",
            lambda c: said(c, "--transcript", str(c / "aud")),
            lambda c: shutil.copy(pam(c), c / "aud"),
            expect="aud: is not a text file",
        ),
        Case(
            "transcript: words.TXT",
            lambda c: said(c, "--transcript", str(c / "words.TXT")),
            text("words.TXT", b"Maybe Pam will bake apple pie in May."),
            outputs=lambda c: [c / "s.mp4"],
        ),
        Case(
            "transcript: an accented word",
            lambda c: said(c, "--transcript", "Maybé Pam will bake apple pie in May."),
            outputs=lambda c: [c / "s.mp4"],
        ),
        Case(
            "transcript: a binary .txt",
            lambda c: said(c, "--transcript", str(c / "b.txt")),
            text("b.txt", bytes(range(256)) * 12),
            expect="b.txt: is not a text file",
        ),
        Case(
            "transcript: Latin-1 .txt",
            lambda c: said(c, "--transcript", str(c / "l.txt")),
            text("l.txt", "Maybé Pam will bake apple pie in May.".encode("latin-1")),
            expect="l.txt: is not UTF-8",
        ),
        Case(
            "transcript: UTF-8 with a byte-order mark",
            lambda c: said(c, "--transcript", str(c / "u.txt")),
            text("u.txt", "\ufeffMaybe Pam will bake apple pie in May.".encode()),
            outputs=lambda c: [c / "s.mp4"],
        ),
        Case(
            "transcript: an empty .txt",
            lambda c: said(c, "--transcript", str(c / "e.txt")),
            text("e.txt", b""),
            expect="e.txt: has no words",
        ),
        Case("transcript: digits only", lambda c: said(c, "--transcript", "1 2 3"), expect="has no words"),
        Case(
            "transcript: a missing .align",
            lambda c: said(c, "--transcript", "nope.align"),
            expect="nope.align: no such transcript file",
        ),
        Case(
            "transcript: a malformed .align",
            lambda c: said(c, "--transcript", str(c / "w.align")),
            text("w.align", b"maybe pam\n"),
            expect="line 1 is not 'start end word'",
        ),
        Case("transcript: a folder", lambda c: said(c, "--transcript", str(c / "data")), expect="is a folder"),
        Case(
            "transcript: Chinese characters",
            lambda c: said(c, "--transcript", "你好"),
            expect="--transcript: words not in the pronouncing dictionary: 你好",
        ),
        # options checked before a model loads (classes 5 and 7)
        *[
            Case(
                f"personalize: {option} {value}",
                lambda c, o=option, v=value: personalize(c, o, v),
                expect=f"{option} {float(value)}: a learning rate must be a positive number",
            )
            for option, value in (("--grid-lr", "-1"), ("--lr", "nan"), ("--code-lr", "inf"))
        ],  # fmt: skip
        Case(
            "transfer: --output-path x.webm",
            lambda c: transfer(c, "--output-path", str(c / "x.webm")),
            expect="not '.webm'",
        ),
        Case(
            "speak: --output-path x.webm", lambda c: said(c, "--output-path", str(c / "x.webm")), expect="not '.webm'"
        ),
        Case("speak: --output-path x.avi", lambda c: said(c, "--output-path", str(c / "x.avi")), expect="not '.avi'"),
        Case(
            "transfer: unknown --identity", lambda c: transfer(c, "--identity", "zed"), expect="unknown identity 'zed'"
        ),
        Case(
            "transfer: unknown --expressions-from",
            lambda c: transfer(c, "--expressions-from", "zed"),
            expect="unknown identity 'zed'",
        ),
        Case("speak: unknown --identity", lambda c: said(c, "--identity", "zed"), expect="unknown identity 'zed'"),
        # datasets changed after training (classes 6 and 8)
        Case("ns-eval: train frames removed", evaluate, drop_train_frames, expect="train frames now"),
        Case("ns-eval: a train frame moved to val", evaluate, train_frame_to_val, expect="train frames now"),
        Case(
            "ns-render: train frames removed",
            lambda c: ["ns-render", "dataset", "--load-config", config(c), "--output-path", str(c / "r")],
            drop_train_frames,
            expect="train frames now",
        ),  # fmt: skip
        Case("transfer: train frames removed", transfer, drop_train_frames, expect="train frames now"),
        Case("ns-eval: parsing/ deleted", evaluate, no_parsing, expect="had head masks"),
        Case("ns-eval: frames resized", evaluate, resize_frames, expect="its frames are 48x48 now, 32x32"),
        Case(
            "ns-train: --background per-frame without parsing/",
            lambda c: ns_train(c, "mi-nerf-data", "--background", "per-frame"),
            no_parsing,
            expect="--background per-frame needs head masks",
        ),  # fmt: skip
        Case("personalize: parsing/ deleted", personalize, no_parsing, expect="had head masks"),
        # minerf-audio fit (class 9)
        Case("audio fit: a 1-sample aud.wav", fit, aud(1), expect="but the frames it accompanies span"),
        Case(
            "audio fit: 0.1 s aud.wav for 0.4 s of frames",
            fit,
            aud(1600),
            expect="is 0.10 s long, but the frames it accompanies span 0.40 s",
        ),
        Case("audio fit: a 0 s aud.wav", fit, aud(0), expect="is 0 s long"),
        Case(
            "audio fit: aud.wav is text",
            fit,
            lambda c: (c / "data/ada/aud.wav").write_text("x"),
            expect="cannot be decoded",
        ),
        Case(
            "audio fit: aud.wav 10 s longer than its frames", fit, aud(10 * SAMPLE_RATE), outputs=lambda c: [c / "m.pt"]
        ),
        Case("audio fit: --output exists", fit, lambda c: (c / "m.pt").write_bytes(b"mine"), expect="already exists"),
        # two commands writing one output (classes 7 and 9)
        Case(
            "concurrent: two audio fits",
            fit,
            expect="being written by another command",
            background=lambda c: fit(c)[:-1] + ["1000000"],
        ),
        Case(
            "concurrent: two speak runs",
            said,
            long_audio,
            expect="being written by another command",
            background=speak_long,
        ),
        Case(
            "concurrent: two transfers",
            transfer,
            lambda c: np.save(c / "long.npy", np.zeros((5000, 53), "f4")),
            expect="being written by another command",
            background=lambda c: (
                transfer(c)[:6] + ["--expressions", str(c / "long.npy"), "--output-path", str(c / "t.mp4")]
            ),
        ),  # fmt: skip
        Case(
            "concurrent: two synths into one folder",
            lambda c: ["minerf-synth", str(c / "s"), "--num-frames", "2", "--image-size", "32"],
            expect="being written by another command",
            background=lambda c: ["minerf-synth", str(c / "s"), "--num-frames", "400", "--image-size", "256"],
        ),
        # long inputs and the rest
        Case("speak: 10 minutes of audio (Ctrl-C after 40 s)", speak_long, long_audio, interrupt_after=40.0),
        Case(
            "synth: an output path with spaces",
            lambda c: [
                "minerf-synth",
                str(c / "my data"),
                "--num-frames",
                "2",
                "--image-size",
                "32",
                "--num-identities",
                "1",
            ],
            outputs=lambda c: [c / "my data"],
        ),  # fmt: skip
    ]
