"""``minerf-verify``: does a file say it was rendered by minerf_ns? Reads the invisible watermark from its pixels (a
video's frames together) and the statement from its metadata.

    minerf-verify renders/ada_says.mp4
    minerf-verify a.png b.mp4 --json
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import tyro

from minerf_ns.commands import fail, quiet_warnings, run_command

TOOL = "minerf-verify"


@dataclass
class Verify:
    """Report whether each file carries minerf_ns's watermark and statement, with the payload and its strength."""

    files: tyro.conf.Positional[Tuple[Path, ...]]
    """Images (PNG, JPEG, ...) or videos (mp4, mov, mkv, ...) to check."""
    max_frames: int = 750
    """Read at most this many frames of a video (the mark is the same in every frame; 750 = 30 s at 25 fps)."""
    json: bool = False
    """Print one JSON object per file instead of a sentence."""

    def main(self) -> None:
        from minerf_ns.provenance.verify import Unreadable, verify

        if not self.files:
            fail(TOOL, "no file given. Fix: minerf-verify FILE [FILE ...]")
        if self.max_frames < 1:
            fail(TOOL, f"--max-frames {self.max_frames}: must be at least 1. Fix: pass a positive number")
        problems = []
        for path in self.files:  # a file it cannot read is named, and the others are still checked
            try:
                verdict = verify(path, self.max_frames)
            except FileNotFoundError:
                problems.append(f"{TOOL}: {path}: no such file. Fix: pass the path of an image or a video")
            except Unreadable as err:
                problems.append(f"{TOOL}: {path}: {err}. Fix: pass an image or a video file")
            else:
                print(json.dumps(verdict.as_dict()) if self.json else verdict.line(), flush=True)
                continue
            print(problems[-1], file=sys.stderr, flush=True)
        if problems:
            sys.exit(1)


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    command = tyro.cli(Verify)
    run_command(TOOL, command.main)


if __name__ == "__main__":
    entrypoint()
