"""``minerf-render transfer``: identity A driven by video B's expressions (or any expression file), as mp4 and/or PNGs;
``minerf-render speak``: identity A saying an audio file, as an mp4 with the sound.

minerf-render transfer --load-config outputs/.../config.yml --identity ada --expressions-from ben --pose own
minerf-render transfer --load-config ... --identity ada --expressions exp.npy --pose orbit --output-format both
minerf-render speak --load-config outputs/.../config.yml --identity ada --audio hello.wav --pose own
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from minerf_ns.commands import (
    check_identities,
    check_output_file,
    check_output_folder,
    fail,
    load_run,
    quiet_warnings,
    refuse_existing,
    render_provenance,
    run_command,
)
from minerf_ns.layout import DEFAULT_FPS
from minerf_ns.media import SOUND_VIDEO_SUFFIXES, VIDEO_SUFFIXES, temporary_sibling, write_png, write_video

CONSOLE = Console()
TOOL = "minerf-render transfer"
SPEAK = "minerf-render speak"
LONG_RENDER_FRAMES = 1500
"""Above this many frames (a minute at 25 fps) the size line says the render is long."""


def _render_frames(model, target: int, expressions, poses, pose_mode: str, caption: str) -> np.ndarray:
    """Render with a progress bar (the transfer path: identity ``target``, each expression under each pose, over the
    backgrounds of its own frames where the poses are its own)."""
    from minerf_ns.transfer import render_transfer, transfer_source_frames

    sources = transfer_source_frames(model, target, len(expressions), pose_mode)
    with Progress(TextColumn(caption), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                  TimeRemainingColumn(), console=CONSOLE) as progress:  # fmt: skip
        task = progress.add_task("render", total=len(expressions))
        return render_transfer(model, target, expressions, poses, lambda: progress.advance(task), sources)


@dataclass
class RenderTransfer:
    """Render one identity of a trained MI-NeRF with another video's expressions or an expression file."""

    load_config: Path
    """The run's config.yml (written by ns-train)."""
    identity: str
    """Whose face to render (an identity name of the training set)."""
    expressions_from: Optional[str] = None
    """The video (identity name) whose expression sequence drives the face."""
    expressions: Optional[Path] = None
    """Or an expression sequence: .npy [T, d] or a track_params.pt with 'exp' [T, d] (any tracker or audio model)."""
    pose: Literal["own", "driver", "fixed", "orbit"] = "own"
    """Head pose: the identity's own video poses, the driving video's, its first pose fixed, or a camera orbit."""
    output_path: Path = Path("renders/transfer.mp4")
    """The mp4 file; PNG frames go to a folder of the same name without the suffix."""
    output_format: Literal["video", "images", "both"] = "video"
    """What to write."""
    max_frames: Optional[int] = None
    """Render only the first this many frames."""
    fps: int = int(DEFAULT_FPS)
    """Frame rate of the video."""
    no_watermark: bool = False
    """Leave the invisible watermark out of the pixels (the file's statement that it is a render stays). Keep the mark
    where you can: it lets whoever receives the file, after re-encoding or cropping, tell a rendered face from a
    recording (``minerf-verify``)."""
    overwrite: bool = False
    """Replace existing outputs."""

    def main(self) -> None:
        from dataparsers.expression_file import read_expressions
        from minerf_ns.transfer import transfer_poses

        if (self.expressions_from is None) == (self.expressions is None):
            fail(TOOL, "give exactly one of --expressions-from VIDEO or --expressions FILE")
        if self.fps <= 0 or (self.max_frames is not None and self.max_frames < 1):
            fail(TOOL, f"--fps {self.fps}, --max-frames {self.max_frames}: each must be at least 1. Fix: pass a "
                 "positive value (nothing written)")  # fmt: skip
        frames_dir = self.output_path.with_suffix("")
        if self.output_format in ("video", "both"):
            check_output_file(self.output_path, TOOL, VIDEO_SUFFIXES)
            refuse_existing(self.output_path, TOOL, self.overwrite)
        if self.output_format in ("images", "both"):
            check_output_folder(frames_dir, TOOL)
            refuse_existing(frames_dir, TOOL, self.overwrite)
        check_identities(self.load_config, [self.identity, self.expressions_from], TOOL)
        config, pipeline, _ = load_run(self.load_config, TOOL, test_mode="inference")
        model = pipeline.model
        provenance = render_provenance(config, TOOL, [self.identity], not self.no_watermark)
        try:
            target = model.catalogue.identity_index(self.identity)
            driver = None if self.expressions_from is None else model.catalogue.identity_index(self.expressions_from)
        except ValueError as err:
            fail(TOOL, str(err))
        if driver is not None:
            expressions = model.catalogue.expressions[driver]
        else:
            expressions = torch.from_numpy(read_expressions(self.expressions, model.catalogue.expression_dim))
        if self.max_frames is not None:
            expressions = expressions[: self.max_frames]
        try:
            poses = transfer_poses(model, target, len(expressions), self.pose, driver)
        except ValueError as err:
            fail(TOOL, str(err))
        caption = f"{self.identity} <- {self.expressions_from or self.expressions.name}"
        frames = _render_frames(model, target, expressions, poses, self.pose, caption)
        if self.output_format in ("video", "both"):
            self.output_path.parent.mkdir(parents=True, exist_ok=True)
            write_video(self.output_path, frames, fps=self.fps, provenance=provenance)
            CONSOLE.print(f"wrote {self.output_path} ({len(frames)} frames)")
        if self.output_format in ("images", "both"):
            frames_dir.mkdir(parents=True, exist_ok=True)
            for k, frame in enumerate(frames):
                write_png(frames_dir / f"{k:05d}.png", frame, provenance=provenance)
            CONSOLE.print(f"wrote {len(frames)} PNG frames to {frames_dir}")


@dataclass
class RenderSpeak:
    """Make one identity of a trained MI-NeRF say an audio file: an mp4 with the sound muxed in."""

    load_config: Path
    """The run's config.yml (written by ns-train)."""
    identity: str
    """Who speaks (an identity name of the training set)."""
    audio: Path
    """The speech: wav, flac, mp3, ogg, or a video's sound track (any rate ffmpeg converts; read as 16 kHz mono)."""
    pose: Literal["own", "fixed", "orbit"] = "own"
    """Head pose: the identity's own video poses (cycled), its first pose fixed, or a camera orbit."""
    mapping: str = "auto"
    """Audio to expressions: 'prior' (visemes, no training), 'learned' (the run's audio_to_expression.pt from
    minerf-audio fit), a mapping file, or 'auto' (learned where the run has one, else prior)."""
    output_path: Path = Path("renders/speak.mp4")
    """The mp4 file."""
    expressions_out: Optional[Path] = None
    """Also save the driving expressions (.npy [T, d]): reuse them with minerf-render transfer --expressions."""
    fps: int = int(DEFAULT_FPS)
    """Frame rate of the video (one expression per frame)."""
    max_seconds: Optional[float] = None
    """Use only the first this many seconds of the audio."""
    transcript: Optional[str] = None
    """What the audio says, in English words (the text, or a .txt file holding it): its phones are then aligned to
    the sound, exact, instead of recognised from it (which misses many lip closures). For speech made from text. Or
    a timed transcript, an .align file of 'start end word' lines in 1/25,000 s (GRID's): the words' own times."""
    no_watermark: bool = False
    """Leave the invisible watermark out of the pixels (the file's statement that it is a render stays). Keep the mark
    where you can: it lets whoever receives the file, after re-encoding or cropping, tell a rendered face from a
    recording (``minerf-verify``)."""
    overwrite: bool = False
    """Replace existing outputs."""

    def main(self) -> None:
        from minerf_ns.audio.basis import expression_names
        from minerf_ns.audio.driving import expressions_from_audio
        from minerf_ns.audio.mapping import load_mapping_file
        from minerf_ns.audio.phones import SpeechMismatch, TranscriptError
        from minerf_ns.audio.transcripts import read_transcript
        from minerf_ns.audio.waveform import SAMPLE_RATE, AudioInputError, read_audio, write_wav
        from minerf_ns.layout import AUDIO_MAPPING_FILE
        from minerf_ns.transfer import transfer_poses

        if self.fps <= 0 or (self.max_seconds is not None and self.max_seconds <= 0):
            fail(SPEAK, f"--fps {self.fps}, --max-seconds {self.max_seconds}: each must be positive. Fix: pass a "
                 "positive value (nothing written)")  # fmt: skip
        check_output_file(self.output_path, SPEAK, SOUND_VIDEO_SUFFIXES)
        refuse_existing(self.output_path, SPEAK, self.overwrite)
        if self.expressions_out is not None:
            check_output_file(self.expressions_out, SPEAK, (".npy",))
            refuse_existing(self.expressions_out, SPEAK, self.overwrite)
        try:
            samples = read_audio(self.audio)
        except AudioInputError as err:
            fail(SPEAK, str(err))
        seconds = min(len(samples) / SAMPLE_RATE, self.max_seconds or float("inf"))
        frames = int(round(seconds * self.fps))
        CONSOLE.print(
            f"{self.audio}: {seconds:.2f} s of audio, {frames} frames at {self.fps} fps"
            + (" (a long render: --max-seconds renders the start)" if frames > LONG_RENDER_FRAMES else "")
        )
        try:  # aligned on the whole audio, which the transcript describes; --max-seconds cuts the result
            transcript = read_transcript(self.transcript) if self.transcript is not None else None
            phones = transcript.phones(samples) if transcript is not None else None
        except SpeechMismatch as err:
            fail(SPEAK, f"{self.audio} against {transcript.source}: {err}. Fix: correct the transcript, or leave it "
                 "out to recognise the phones from the sound")  # fmt: skip
        except TranscriptError as err:
            fail(SPEAK, f"{err}. Fix: correct --transcript (the words themselves, spelt out with numbers as words, or "
                 "an existing .txt/.align file), or leave it out to recognise the phones from the sound")  # fmt: skip
        if self.max_seconds is not None:
            samples = samples[: int(self.max_seconds * SAMPLE_RATE)]
        check_identities(self.load_config, [self.identity], SPEAK)  # after the audio checks: it imports nerfstudio
        mapping_path = None if self.mapping == "prior" else Path(self.mapping)
        if self.mapping in ("auto", "learned"):
            mapping_path = self.load_config.parent / AUDIO_MAPPING_FILE
            if self.mapping == "auto" and not mapping_path.is_file():
                mapping_path = None
        try:
            mapping = load_mapping_file(mapping_path) if mapping_path is not None else None
        except ValueError as err:
            fail(SPEAK, str(err))
        config, pipeline, _ = load_run(self.load_config, SPEAK, test_mode="inference")
        model = pipeline.model
        try:
            target = model.catalogue.identity_index(self.identity)
        except ValueError as err:
            fail(SPEAK, str(err))
        dim = model.catalogue.expression_dim
        names = expression_names(dim)
        if mapping is not None and mapping.expression_dim != dim:
            fail(SPEAK, f"{mapping_path}: maps audio to {mapping.expression_dim} expression values, the run uses {dim}."
                 f" Fix: fit a mapping for this run (minerf-audio fit --load-config {self.load_config})")  # fmt: skip
        if mapping is None and names is None:
            fix = f"fit a mapping for its basis (minerf-audio fit --load-config {self.load_config})"
            fail(SPEAK, f"the viseme prior drives ICT-FaceKit's 53 blendshapes; this run's expressions have {dim} "
                 f"values. Fix: {fix}")  # fmt: skip
        own = model.catalogue.expressions[target].numpy()
        driving = expressions_from_audio(samples, self.fps, own, names, mapping, self.identity, phones,
                                         phones_exact=transcript is not None)  # fmt: skip
        source = (
            ("learned mapping" if mapping is not None else "viseme prior")
            + (", phones aligned to the transcript" if transcript is not None else "")
            + (", lips closed at its p, b, m" if transcript is not None and mapping is not None and names else "")
        )
        CONSOLE.print(f"{len(driving)} frames from {len(samples) / SAMPLE_RATE:.2f} s of audio ({source})")
        if self.expressions_out is not None:
            self.expressions_out.parent.mkdir(parents=True, exist_ok=True)
            np.save(self.expressions_out, driving.astype(np.float32))
            CONSOLE.print(f"wrote {self.expressions_out} {list(driving.shape)}")
        expressions = torch.from_numpy(driving).float()
        poses = transfer_poses(model, target, len(expressions), self.pose)
        frames = _render_frames(model, target, expressions, poses, self.pose, f"{self.identity} says {self.audio.name}")
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        sound = temporary_sibling(self.output_path.with_suffix(".wav"), "sound")
        try:
            write_wav(sound, samples)
            provenance = render_provenance(config, SPEAK, [self.identity], not self.no_watermark)
            write_video(self.output_path, frames, fps=self.fps, audio=sound, provenance=provenance)
        finally:
            sound.unlink(missing_ok=True)
        CONSOLE.print(f"wrote {self.output_path} ({len(frames)} frames with sound)")


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    commands = {"transfer": RenderTransfer, "speak": RenderSpeak}
    run_command("minerf-render", tyro.extras.subcommand_cli_from_dict(commands).main)


if __name__ == "__main__":
    entrypoint()
