"""``minerf-track VIDEO... --output ROOT``: raw talking-face videos to an MI-NeRF dataset (AD-NeRF layout).

One identity per name: a video (file or folder of frames), or several clips given the same name, joined in order
with their boundaries recorded. Nothing is downloaded: FaceMesh's models ship in the package.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import List, Literal, Optional

import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from minerf_ns.commands import check_output_folder, fail, quiet_warnings, run_command
from minerf_ns.tracking.video_source import TrackInputError, VideoSource, check_clips, open_source

TOOL = "minerf-track"
CONSOLE = Console()
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class TrackCommand:
    """Track faces in talking-face videos and write an MI-NeRF training dataset (frames, head poses, 53 ICT-FaceKit
    expression weights, focal length, head masks, background, train/val split, reports and overlay videos)."""

    videos: tyro.conf.Positional[List[Path]]
    """Video files (mp4, mov, ...) or folders of frames; one identity each, unless --names repeats a name."""
    output: Path
    """Dataset root. Each identity becomes ROOT/<name>/; other folders already in ROOT are left alone."""
    names: Optional[List[str]] = None
    """Identity names, one per video (default: the file or folder names). Videos given the same name are clips of
    one person: their frames and sound are joined in the order given into one ROOT/<name>/, the clip boundaries are
    recorded (nothing that looks at neighbouring frames reaches across one) and the last 10% of the clips are held
    out whole."""
    size: Optional[int] = None
    """Crop every frame to a square and resize it to SIZE pixels (required when the videos' sizes differ)."""
    crop: Literal["centre", "face"] = "centre"
    """Which square: the largest centred one, or one around the face (placed by the face detector on a few frames
    of each clip, 2.4 face boxes wide, the same for every frame of an identity; for videos where the face is small
    or off-centre). Both keep the camera's principal point exact."""
    max_frames: Optional[int] = None
    """Use at most this many frames of each video."""
    train_seconds: Optional[float] = None
    """Train on each video's first this many seconds and hold out the rest for scoring (a new person from a short
    cut: minerf-personalize on it, minerf-eval on the rest). Default: the last 10% of the frames held out."""
    overlay: bool = True
    """Write track_overlay.mp4 (fitted landmarks and head mask over the frames) for each video."""
    detect_cuts: bool = True
    """Find cuts inside a video (a change of shot, a cutaway): tracking restarts there, nothing smooths across them,
    and the report gives their times (frames without the person are skipped and reported as always)."""
    photometric: bool = False
    """Refine the landmark fit with photo-consistency of the face's colours across frames: steadier head rotation
    and expressions (see BENCHMARKS.md), about 0.1 s more per frame on CPU."""
    overwrite: bool = False
    """Replace ROOT/<name>/ folders that already exist (otherwise the command stops and writes nothing)."""

    def sources(self) -> list[list[VideoSource]]:
        """Open and check every input before anything is written; the clips of each identity, in order."""
        sources = []
        for path in self.videos:
            try:
                sources.append(open_source(path, self.max_frames))
            except TrackInputError as err:
                fail(TOOL, str(err))
        names = self.names or [s.name for s in sources]
        if len(names) != len(sources):
            fail(TOOL, f"{len(names)} --names for {len(sources)} videos. Fix: give one name per video, in order")
        for name, source in zip(names, sources):
            if not NAME_PATTERN.match(name):
                fail(TOOL, f"{source.path}: identity name {name!r} is not usable as a folder name (letters, digits, "
                     "'_', '-', '.'; not starting with '_' or '.'). Fix: pass --names")  # fmt: skip
        if self.names is None and len(set(names)) != len(names):
            fail(TOOL, f"two videos would both be named {sorted({n for n in names if names.count(n) > 1})}. "
                 "Fix: pass --names (the same name for clips of one person, distinct names otherwise)")  # fmt: skip
        paths = [s.path.resolve() for s in sources]
        if len(set(paths)) != len(paths):
            twice = next(s.path for s, p in zip(sources, paths) if paths.count(p) > 1)
            fail(TOOL, f"{twice} is given twice. Fix: pass each video once")
        for name, source in zip(names, sources):
            source.identity = name
        groups: dict[str, list[VideoSource]] = {}
        for source in sources:
            groups.setdefault(source.identity, []).append(source)
        for clips in groups.values():
            try:
                check_clips(clips)
            except TrackInputError as err:
                fail(TOOL, str(err))
        sizes = {(s.width, s.height) for s in sources}
        if len(sizes) > 1 and self.size is None:
            listing = ", ".join(f"{s.path.name} {s.width}x{s.height}" for s in sources)
            fail(TOOL, f"the videos have different sizes ({listing}). Fix: pass --size N to crop and resize all to NxN")
        for clips in groups.values():
            source, count = clips[0], sum(c.num_frames for c in clips)
            if self.train_seconds is not None and not 0 < self.train_seconds * source.fps < count:
                fail(TOOL, f"{source.path}: --train-seconds {self.train_seconds:g} leaves no frame to train on or to "
                     f"hold out ({count} frames at {source.fps:g} fps). Fix: pass a cut between "
                     f"{1 / source.fps:.2f} and {(count - 1) / source.fps:.2f} s")  # fmt: skip
        if self.size is not None and self.size < 32:
            fail(TOOL, f"--size {self.size} is too small. Fix: use at least 32 (e.g. 512)")
        return list(groups.values())

    def main(self) -> None:
        """Check everything, then track each video."""
        quiet_warnings()
        check_output_folder(self.output, TOOL)
        identities = self.sources()
        taken = [self.output / c[0].identity for c in identities if (self.output / c[0].identity).exists()]
        if taken and not self.overwrite:
            fail(TOOL, f"{taken[0]} already exists. Fix: pass another --output or --overwrite (nothing written)")

        from minerf_ns.tracking.photometric_refinement import PhotometricSettings  # torch and LiteRT load here
        from minerf_ns.tracking.tracker import TrackSettings, track_video

        photometric = PhotometricSettings() if self.photometric else None
        settings = TrackSettings(
            size=self.size, crop=self.crop, overlay=self.overlay, photometric=photometric,
            train_seconds=self.train_seconds, detect_cuts=self.detect_cuts,
        )  # fmt: skip
        reports = []
        for clips in identities:
            source = clips[0]
            # Tracked into a hidden folder (the dataparser skips names starting with '.') and moved into place when
            # complete: an interrupted or failed video leaves no partial dataset folder, and an existing one
            # (--overwrite) is replaced only by a complete one.
            folder, staging = self.output / source.identity, self.output / f".{source.identity}.tracking"
            shutil.rmtree(staging, ignore_errors=True)
            with Progress(
                TextColumn(f"[bold]{source.identity}[/bold] {{task.description}}"), BarColumn(),
                TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=CONSOLE,
            ) as progress:  # fmt: skip
                try:
                    report = track_video(clips, staging, settings, _stage_bars(progress))
                except BaseException as err:  # a bad input, a full disk, Ctrl-C: no partial folder stays
                    shutil.rmtree(staging, ignore_errors=True)
                    if not isinstance(err, TrackInputError):
                        raise
                    done = f" ({len(reports)} identities before it were written)" if reports else ""
                    fail(TOOL, f"{err}{done}")
            reports.append(report)
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(staging, folder)
        for rep in reports:
            err = rep["reprojection_error_px"]
            skipped = len(rep["frames_skipped"])
            clips = f" in {len(rep['clips'])} clips" if len(rep["clips"]) > 1 else ""
            CONSOLE.print(
                f"{rep['name']}: {rep['frames_tracked']}/{rep['frames']} frames{clips} tracked ({skipped} skipped), "
                f"reprojection {err['mean']:.2f} px mean, focal {rep['focal_px']:.0f} px, "
                f"{rep['frames_per_second']:.1f} frames/s"
            )
            for warning in rep["warnings"]:
                CONSOLE.print(f"  [yellow]warning[/yellow]: {warning}")
        CONSOLE.print(f"Reports and overlay videos are in {self.output}/<name>/. Train: ns-train mi-nerf-small --data "
                      f"{self.output}")  # fmt: skip


def _stage_bars(progress: Progress):
    """A ``track_video`` progress callback that shows one bar per stage."""
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return report


def entrypoint() -> None:
    """Console entry point."""
    run_command(TOOL, tyro.cli(TrackCommand).main)


if __name__ == "__main__":
    entrypoint()
