"""``minerf-render transfer``: identity A driven by video B's expressions (or any expression file), as mp4 and/or PNGs.

minerf-render transfer --load-config outputs/.../config.yml --identity ada --expressions-from ben --pose own
minerf-render transfer --load-config ... --identity ada --expressions exp.npy --pose orbit --output-format both
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch
import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from minerf_ns.commands import (
    check_output_file,
    check_output_folder,
    fail,
    load_run,
    quiet_warnings,
    refuse_existing,
    run_command,
)
from minerf_ns.media import VIDEO_SUFFIXES, write_png, write_video

CONSOLE = Console()
TOOL = "minerf-render transfer"


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
    fps: int = 25
    """Frame rate of the video."""
    overwrite: bool = False
    """Replace existing outputs."""

    def main(self) -> None:
        from dataparsers.expression_file import read_expressions
        from minerf_ns.transfer import render_transfer, transfer_poses

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
        _, pipeline, _ = load_run(self.load_config, TOOL, test_mode="inference")
        model = pipeline.model
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
        with Progress(TextColumn(f"{self.identity} <- {self.expressions_from or self.expressions.name}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} frames"), TimeRemainingColumn(),
                      console=CONSOLE) as progress:  # fmt: skip
            task = progress.add_task("render", total=len(expressions))
            frames = render_transfer(model, target, expressions, poses, lambda: progress.advance(task))
        if self.output_format in ("video", "both"):
            self.output_path.parent.mkdir(parents=True, exist_ok=True)
            write_video(self.output_path, frames, fps=self.fps)
            CONSOLE.print(f"wrote {self.output_path} ({len(frames)} frames)")
        if self.output_format in ("images", "both"):
            frames_dir.mkdir(parents=True, exist_ok=True)
            for k, frame in enumerate(frames):
                write_png(frames_dir / f"{k:05d}.png", frame)
            CONSOLE.print(f"wrote {len(frames)} PNG frames to {frames_dir}")


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    run_command(TOOL, tyro.extras.subcommand_cli_from_dict({"transfer": RenderTransfer}).main)


if __name__ == "__main__":
    entrypoint()
