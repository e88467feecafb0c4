"""``minerf-audio fit``: learn the audio-to-expression mapping from a dataset's videos with sound (``aud.wav``).

minerf-audio fit --load-config outputs/.../config.yml      # the run's videos; saved as audio_to_expression.pt beside it
minerf-audio fit --data data/ --output mapping.pt          # any dataset root
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
import tyro
from rich.console import Console

from minerf_ns.commands import check_output_file, fail, load_run, quiet_warnings, refuse_existing, run_command
from minerf_ns.layout import AUDIO_MAPPING_FILE
from minerf_ns.media import temporary_sibling

CONSOLE = Console()
TOOL = "minerf-audio fit"
RESIDUAL_FROM_FRAMES = 3000
"""``--network auto`` picks the residual network from this many training frames on (2 minutes at 25 fps), the
two-layer one below."""
MIN_SCORED_FRAMES = 8
"""Held-out runs shorter than this get no lip-sync score (a correlation over fewer frames says little)."""


@dataclass
class AudioFit:
    """Fit the audio-to-expression mapping on every video of a dataset that has aud.wav (jointly over identities)."""

    load_config: Optional[Path] = None
    """A run's config.yml: fit on the run's videos and save beside it (where minerf-render speak finds it)."""
    data: Optional[Path] = None
    """Or a dataset root (one folder per video)."""
    output: Optional[Path] = None
    """Where to save the mapping (default with --load-config: the run folder's audio_to_expression.pt)."""
    network: Literal["auto", "residual", "two-layer"] = "auto"
    """The mapping's network: ``residual`` (dilated convolutions, 1.24 s of context: for minutes of speech),
    ``two-layer`` (0.52 s of context: for seconds), or ``auto`` (residual from 3,000 training frames on)."""
    steps: Optional[int] = None
    """Optimizer steps (default: the network's own, 3,000 residual / 1,500 two-layer)."""
    seed: int = 0
    """Random seed."""
    overwrite: bool = False
    """Replace an existing mapping file."""

    def main(self) -> None:
        from minerf_ns.audio.basis import expression_names
        from minerf_ns.audio.lipsync import lip_sync_scores
        from minerf_ns.audio.mapping import MappingSettings, fit_mapping
        from minerf_ns.audio.training_data import clips_from_videos
        from minerf_ns.audio.waveform import AudioInputError

        if (self.load_config is None) == (self.data is None):
            fail(TOOL, "give exactly one of --load-config RUN/config.yml or --data ROOT")
        if self.steps is not None and self.steps < 1:
            fail(TOOL, f"--steps {self.steps}: must be at least 1. Fix: pass a positive number (nothing written)")
        output = self.output or (self.load_config.parent / AUDIO_MAPPING_FILE if self.load_config else None)
        if output is None:
            fail(TOOL, "--data needs --output FILE.pt (where to save the mapping)")
        check_output_file(output, TOOL, (".pt",))
        refuse_existing(output, TOOL, self.overwrite)
        videos = self._videos()
        voiced = [v for v in videos if v.audio is not None]
        seconds = sum((int(v.frame_numbers().max()) + 1) / v.fps for v in voiced)
        CONSOLE.print(f"reading the sound of {len(voiced)} videos ({seconds:.0f} s: phones are recognised at about 5x "
                      "real time on a CPU core)")  # fmt: skip
        try:
            clips = clips_from_videos(videos)
        except AudioInputError as err:
            fail(TOOL, str(err))
        if not clips.train:
            fail(TOOL, f"none of the {len(videos)} videos has sound ({', '.join(clips.silent_videos)}). Fix: track "
                 "videos with an audio stream (minerf-track writes aud.wav), or add each video's aud.wav")  # fmt: skip
        if clips.silent_videos:
            CONSOLE.print(f"[yellow]without aud.wav, not used: {', '.join(clips.silent_videos)}")
        frames = sum(len(c.features) for c in clips.train)
        network = self.network
        if network == "auto":
            network = "residual" if frames >= RESIDUAL_FROM_FRAMES else "two-layer"
        settings = MappingSettings() if network == "residual" else MappingSettings.small()
        settings.seed = self.seed
        settings.steps = self.steps or settings.steps
        CONSOLE.print(f"fitting the {network} network on {frames} frames ({len(clips.train)} clips) of "
                      f"{len({c.identity for c in clips.train})} identities, {settings.steps} steps")  # fmt: skip
        with CONSOLE.status("fitting") as status:
            mapping = fit_mapping(clips.train, settings, progress=lambda step, total, loss: status.update(
                f"fitting: step {step}/{total}, loss {loss:.3f}"))  # fmt: skip
        names = expression_names(mapping.expression_dim)
        scored = [clip for clip in clips.held_out if len(clip.features) >= MIN_SCORED_FRAMES]
        if not scored:
            CONSOLE.print(f"held-out frames too few to score (fewer than {MIN_SCORED_FRAMES} in a row per video)")
        for identity in sorted({clip.identity for clip in scored}):  # its held-out clips pooled
            own = [clip for clip in scored if clip.identity == identity]
            predicted = np.concatenate([mapping.predict(clip.features, identity) for clip in own])
            scores = lip_sync_scores(predicted, np.concatenate([clip.expressions for clip in own]), names)
            text = ", ".join(f"{k} {v:.2f}" for k, v in scores.items())
            CONSOLE.print(f"held-out {identity} ({len(predicted)} frames in {len(own)} clip(s)): {text}")
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = temporary_sibling(output)
        torch.save(mapping.to_file_dict(), partial)
        partial.replace(output)
        CONSOLE.print(f"wrote {output} (expressions of {mapping.expression_dim} values)")

    def _videos(self) -> list:
        from dataparsers.dataset_error import DatasetError
        from dataparsers.dataset_scan import read_dataset

        if self.data is not None:
            try:
                return read_dataset(self.data)
            except DatasetError as err:
                fail(TOOL, str(err))
        _, pipeline, _ = load_run(self.load_config, TOOL, test_mode="inference")
        return pipeline.datamanager.dataparser.videos


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    run_command(TOOL, tyro.extras.subcommand_cli_from_dict({"fit": AudioFit}).main)


if __name__ == "__main__":
    entrypoint()
