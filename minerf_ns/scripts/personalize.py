"""``minerf-personalize``: fine-tune a trained MI-NeRF for one seen identity, or adapt it to a new person from a short
clip (paper sec. 3.4): the network at a small learning rate (1e-5) with the interaction module frozen, the identity
and latent codes at their own rate. The result is an ordinary nerfstudio run (config.yml + checkpoint) that ns-eval,
ns-render, ns-viewer, minerf-render and minerf-eval load.

    minerf-personalize --load-config outputs/.../config.yml --identities ada --iterations 300
    minerf-personalize --load-config outputs/.../config.yml --data NEW_CLIP_ROOT --iterations 300
    minerf-personalize --load-config outputs/.../config.yml --data NEW_CLIP_ROOT --iterations 300 \
        --codes-only-iterations 100 --lr 1e-3      # in stages: codes alone, then codes + network
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import torch
import tyro
from rich.console import Console

from minerf_ns.commands import fail, load_run, quiet_warnings, run_command
from minerf_ns.training import configure_run, train_with_progress

CONSOLE = Console()
TOOL = "minerf-personalize"


@dataclass
class Personalize:
    """Fine-tune a trained multi-identity MI-NeRF on one identity's video, seen or new."""

    load_config: Path
    """The multi-identity run's config.yml (written by ns-train)."""
    data: Optional[Path] = None
    """Dataset root with the video(s) to personalize on (default: the run's training data)."""
    identities: Tuple[str, ...] = ()
    """Videos of that root to use (default: all); a name the model has not seen becomes a new identity."""
    iterations: int = 300
    """Fine-tuning iterations."""
    codes_only_iterations: int = 0
    """The first this many iterations fit only the identity and latent codes, the network frozen; then the network
    joins at --lr. Equal to --iterations: codes only."""
    lr: float = 1e-5
    """Learning rate of the network (paper sec. 3.4: 1e-5); the interaction module stays frozen. mi-gaussians: the
    Gaussians' attributes move at their trained rates scaled by --lr / the network's trained rate."""
    code_lr: float = 2e-3
    """Learning rate of the identity and latent codes (a new identity's codes start from the mean)."""
    grid_lr: Optional[float] = None
    """Learning rate of the tri-plane grids (mi-nerf-fast; default: --lr). Training from scratch gives them 10x the
    network's rate."""
    output_dir: Path = Path("outputs")
    """Where the new run folder goes (nerfstudio layout)."""
    experiment_name: Optional[str] = None
    """Experiment folder name (default: <data name>-personalized)."""
    seed: int = 0
    """Seed of the sampling."""

    def main(self) -> None:
        from minerf_ns.personalization import RunMismatch, personalization_config, start_from

        if self.iterations < 1:
            fail(TOOL, f"--iterations {self.iterations}: must be at least 1. Fix: pass a positive number (nothing "
                 "written)")  # fmt: skip
        if not 0 <= self.codes_only_iterations <= self.iterations:
            fail(TOOL, f"--codes-only-iterations {self.codes_only_iterations}: must be between 0 and --iterations "
                 f"({self.iterations}). Fix: pass a number in that range (nothing written)")  # fmt: skip
        rates = {"--lr": self.lr, "--code-lr": self.code_lr, "--grid-lr": self.grid_lr}
        for option, rate in rates.items():
            if rate is not None and not (math.isfinite(rate) and rate > 0):
                fail(TOOL, f"{option} {rate}: a learning rate must be a positive number. Fix: pass e.g. {option} "
                     f"{1e-5 if option != '--code-lr' else 2e-3:g}; to keep the network fixed, use "
                     "--codes-only-iterations (nothing written)")  # fmt: skip
        config, pipeline, _ = load_run(self.load_config, TOOL, test_mode="inference")
        new = personalization_config(config, self.data, self.identities, self.lr, self.code_lr, self.grid_lr)
        experiment = self.experiment_name or f"{Path(new.pipeline.datamanager.data).name}-personalized"
        device = "cuda" if torch.cuda.is_available() else "cpu"
        configure_run(new, self.output_dir, experiment, self.iterations, device, self.seed)
        start_from_trained = start_from(pipeline.model, self.codes_only_iterations, CONSOLE.print)

        try:
            trainer = train_with_progress(new, f"personalizing {new.method_name}", CONSOLE, start_from_trained)
        except RunMismatch as err:  # the trained network does not fit (another geometry or size); nothing kept
            fail(TOOL, f"{self.load_config}: {err}. Fix: personalize with a run of the same method and sizes")
        CONSOLE.print(f"wrote {trainer.base_dir / 'config.yml'}; its checkpoint loads in ns-eval, ns-render, minerf-*")


def entrypoint() -> None:
    """Console entry point."""
    quiet_warnings()
    run_command(TOOL, tyro.cli(Personalize).main)


if __name__ == "__main__":
    entrypoint()
