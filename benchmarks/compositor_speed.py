"""The CPU compositor (``minerf_ns/splatting/rasterize_cpu.cpp``) against an earlier revision's, side by side in one
run on one `mi-gaussians` model: training seconds per iteration (whole frames, forward + backward) and render
frames/s of a held-out camera at 128, 256 and 512 px through ``get_outputs_for_camera``. The two kernels take turns
(``--rounds``), so neither gets the warmer machine.

    python benchmarks/compositor_speed.py --data /tmp/xs/real --baseline 7cb9f3d [--warm-up 300] [--steps 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from gaussians import frames_per_second  # noqa: E402
from training_run import method_config, timed_steps, trainer_for  # noqa: E402

import minerf_ns.splatting.compositing as compositing  # noqa: E402
from minerf_ns.splatting import cpu_kernel  # noqa: E402

SIZES = (128, 256, 512)
SOURCE = cpu_kernel.SOURCE.relative_to(Path(__file__).resolve().parents[1])


def baseline_kernel(revision: str):
    """The compositor as it was at ``revision`` (git), compiled under its own module name."""
    shown = subprocess.run(["git", "show", f"{revision}:{SOURCE}"], capture_output=True, text=True)
    if shown.returncode != 0:
        raise SystemExit(
            f"compositor_speed.py: --baseline {revision}: git has no {SOURCE} there. Fix: pass a commit "
            "of this repository that has the CPU compositor (e.g. 7cb9f3d), from inside the repository"
        )
    source = shown.stdout
    path = Path(tempfile.mkdtemp(prefix="minerf-kernel-")) / "rasterize_cpu_baseline.cpp"
    path.write_text(source)
    return cpu_kernel.compile_source(path, f"minerf_rasterize_cpu_{revision}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--baseline", required=True, help="a git revision whose compositor to compare with")
    parser.add_argument("--warm-up", type=int, default=300, help="training iterations before measuring")
    parser.add_argument("--steps", type=int, default=30, help="training iterations timed per kernel and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)
    kernels = {args.baseline: baseline_kernel(args.baseline), "current": cpu_kernel.load()}
    total = args.warm_up + 2 * args.rounds * args.steps
    trainer = trainer_for(method_config("mi-gaussians", str(args.data), total), total, seed=0)
    timed_steps(trainer, 0, args.warm_up)
    step = args.warm_up
    seconds = {name: 0.0 for name in kernels}
    fps = {name: {size: 0.0 for size in SIZES} for name in kernels}
    cameras = trainer.pipeline.datamanager.eval_dataset.cameras
    for _ in range(args.rounds):
        for name, kernel in kernels.items():
            compositing.load_kernel = lambda k=kernel: k  # what _CompositeCpu and composite_gaussians call
            seconds[name] += timed_steps(trainer, step, args.steps)
            step += args.steps
            trainer.pipeline.eval()
            for size in SIZES:
                fps[name][size] += frames_per_second(trainer.pipeline.model, cameras[0:1], size) / args.rounds
    print("\n| kernel | s / training iteration | " + " | ".join(f"{s} px frames/s" for s in SIZES) + " |")
    print("|---|---|" + "---|" * len(SIZES))
    for name in kernels:
        per_step = seconds[name] / (args.rounds * args.steps)
        print(f"| {name} | {per_step:.4f} | " + " | ".join(f"{fps[name][s]:.2f}" for s in SIZES) + " |")


if __name__ == "__main__":
    main()
