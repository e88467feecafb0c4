"""``minerf-synth OUT``: write a synthetic multi-identity talking-head dataset with exact ground truth."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from minerf_ns.commands import check_output_folder, claim_output, run_command
from minerf_ns.layout import GROUND_TRUTH_DIR
from minerf_ns.media import temporary_sibling
from minerf_ns.synthetic.dataset_writer import SynthSettings, generate, identity_name

CONSOLE = Console()


@dataclass
class SynthCommand:
    """Generate synthetic talking heads (ICT-FaceKit) in the AD-NeRF layout that `ns-train mi-nerf` reads."""

    out: tyro.conf.Positional[Path]
    """Dataset root to create (must not exist, or be empty)."""
    num_identities: int = 4
    """Number of identities (one video each)."""
    num_frames: int = 100
    """Frames per video (25 fps); the last 10% are held out."""
    image_size: int = 128
    """Width and height of the square frames, in pixels."""
    seed: int = 0
    """Random seed; the same seed writes the same dataset."""
    transfer: bool = True
    """Also render every identity with every other identity's expressions (ground truth for transfer)."""
    workers: int = 0
    """Processes to render with (0: all cores)."""
    narrow_identities: Tuple[str, ...] = ()
    """Identities (by name: ada, ben, cleo, ...) whose video keeps a narrow expression range: mouth nearly closed, at
    most a faint smile, small brow motion (a new person's short clip; its transfer ground truth shows it making the
    others' full-range expressions)."""
    expression_noise: float = 0.0
    """Tracker jitter to simulate: Gaussian noise of this standard deviation added to the expressions written to
    track_params.pt (blendshape weights lie in [0, 1]); the images and the ground truth keep the true expressions."""

    def main(self) -> None:
        """Validate the options, then generate."""
        if self.num_identities < 1 or self.num_frames < 2 or self.image_size < 16 or not self.expression_noise >= 0:
            sys.exit("minerf-synth: need --num-identities >= 1, --num-frames >= 2, --image-size >= 16 and "
                     "--expression-noise >= 0. Fix: pass values in those ranges (nothing written)")  # fmt: skip
        names = [identity_name(k) for k in range(self.num_identities)]
        unknown = [n for n in self.narrow_identities if n not in names]
        if unknown:
            sys.exit(f"minerf-synth: --narrow-identities {' '.join(unknown)}: not among the identities generated "
                     f"({', '.join(names)}). Fix: name some of those (nothing written)")  # fmt: skip
        check_output_folder(self.out, "minerf-synth")
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            sys.exit(
                f"minerf-synth: {self.out} already exists and is not empty; choose a new folder (nothing written)."
            )
        claim_output(self.out, "minerf-synth")
        settings = SynthSettings(
            self.num_identities,
            self.num_frames,
            self.image_size,
            self.seed,
            self.expression_noise,
            tuple(self.narrow_identities),
        )
        per_video = self.num_frames * (self.num_identities if self.transfer else 1)
        total = self.num_identities * per_video
        start = time.perf_counter()
        with Progress(
            TextColumn("[bold]rendering"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
            TimeRemainingColumn(), console=CONSOLE,
        ) as progress:  # fmt: skip
            task = progress.add_task("render", total=total)
            # Written under a hidden name and moved into place when complete: an interrupted run leaves nothing.
            partial = temporary_sibling(self.out)
            try:
                generate(partial, settings, self.transfer, self.workers or None, lambda n: progress.advance(task, n))
                if self.out.exists():
                    self.out.rmdir()  # empty (checked above)
                os.replace(partial, self.out)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        seconds = time.perf_counter() - start
        size_mb = sum(p.stat().st_size for p in self.out.rglob("*") if p.is_file()) / 1e6
        CONSOLE.print(
            f"Wrote {self.num_identities} identities x {self.num_frames} frames at {self.image_size}px to {self.out} "
            f"({total} frames, {size_mb:.1f} MB) in {seconds:.1f} s; ground truth in {self.out / GROUND_TRUTH_DIR}."
        )
        CONSOLE.print(f"Train on it: ns-train mi-nerf --data {shlex.quote(str(self.out))}")


def entrypoint() -> None:
    """Console entry point."""
    run_command("minerf-synth", tyro.cli(SynthCommand).main)


if __name__ == "__main__":
    entrypoint()
