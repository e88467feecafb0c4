"""mi-gaussians against mi-nerf-fast (issue 28 item 4): held-out PSNR/SSIM on the frame, the head box and the mouth
box at equal training seconds, and render frames/s at 128, 256 and 512 px, side by side in one run.

mi-nerf-fast trains ``--fast-iterations``; mi-gaussians then trains as many iterations as fit in the same seconds (its
seconds per iteration timed over iterations 51-100 of a calibration run first), each with its schedules over its own
run. Its Gaussians grow during training and each step costs a little more, so it ends with some seconds more.

    minerf-synth /tmp/gs-bench/demo --num-identities 3 --num-frames 60 --image-size 64 --seed 0 --no-transfer
    python benchmarks/gaussians.py --data /tmp/gs-bench/demo --out /tmp/gs-bench/demo-results --fast-iterations 600
    python benchmarks/gaussians.py --data /tmp/xs/real --out /tmp/gs-bench/real --fast-iterations 2000 --frames 20

Prints markdown tables; keeps each method's numbers in ``--out`` (a rerun reuses them).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import cached  # noqa: E402
from render_speed import seconds_per_render  # noqa: E402
from training_run import method_config, timed_steps, timed_training, trainer_for  # noqa: E402

from minerf_ns.evaluation import evaluate_held_out, mean_metrics  # noqa: E402

METHODS = ("mi-nerf-fast", "mi-gaussians")
SIZES = (128, 256, 512)
CALIBRATION = 50
"""Iterations of the calibration run; the next as many are timed."""
KEYS = ("psnr", "head_psnr", "mouth_psnr", "ssim", "head_ssim", "mouth_ssim")


def trained(method: str, data: Path, iterations: int, seed: int, out: Path, overrides: Sequence[str] = ()):
    """A trainer of ``method`` (config fields changed by ``overrides``, ``name=value``) after ``iterations`` steps,
    and the training seconds they took."""
    config = method_config(method, str(data), iterations, overrides=overrides)
    trainer = trainer_for(config, iterations, seed=seed, out=out)
    seconds = timed_training(trainer, iterations)
    trainer.pipeline.eval()
    return trainer, seconds


@torch.no_grad()
def frames_per_second(model, camera, size: int, repeats: int = 3) -> float:
    """Renders per second of a held-out camera (changed in place) scaled to ``size`` pixels wide (after one warm-up
    render)."""
    camera.rescale_output_resolution(size / float(camera.width.reshape(-1)[0]))
    return 1.0 / seconds_per_render(model, camera, repeats)


def measure(method: str, data: Path, iterations: int, seed: int, frames: Optional[int], out: Path) -> Dict:
    trainer, seconds = trained(method, data, iterations, seed, out / "runs")
    per_person, _ = evaluate_held_out(trainer.pipeline, frames)
    dataset = trainer.pipeline.datamanager.eval_dataset
    speeds = {}
    for size in SIZES:
        speeds[str(size)] = frames_per_second(trainer.pipeline.model, dataset.cameras[0:1], size)
    print(f"{method}: {iterations} it, {seconds:.0f} s training, frames/s {speeds}", flush=True)
    return {"iterations": iterations, "seconds": seconds, "per_person": per_person, "fps": speeds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a dataset root (minerf-synth or minerf-track)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fast-iterations", type=int, default=600)
    parser.add_argument("--frames", type=int, default=None, help="held-out frames scored per person (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    fast = cached(
        args.out / "mi-nerf-fast.json",
        lambda: measure("mi-nerf-fast", args.data, args.fast_iterations, args.seed, args.frames, args.out),
    )

    def gaussians() -> Dict:
        trainer, _ = trained("mi-gaussians", args.data, CALIBRATION, args.seed, args.out / "calibration")
        per_step = timed_steps(trainer, CALIBRATION, CALIBRATION) / CALIBRATION  # past the first steps' warm-up
        iterations = max(CALIBRATION, math.floor(fast["seconds"] / per_step))
        return measure("mi-gaussians", args.data, iterations, args.seed, args.frames, args.out)

    splats = cached(args.out / "mi-gaussians.json", gaussians)
    results = {"mi-nerf-fast": fast, "mi-gaussians": splats}
    print("\n| method | iterations | training s | PSNR | head PSNR | mouth PSNR | SSIM | head SSIM | mouth SSIM |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method, result in results.items():
        mean = mean_metrics(result["per_person"])
        print(f"| `{method}` | {result['iterations']} | {result['seconds']:.0f} | "
              + " | ".join(f"{mean[k]:.2f}" if "psnr" in k else f"{mean[k]:.3f}" for k in KEYS) + " |")  # fmt: skip
    print("\n| person | " + " | ".join(f"{m} head / mouth PSNR" for m in results) + " |")
    print("|---|" + "---|" * len(results))
    for person in fast["per_person"]:
        cells = [f"{r['per_person'][person]['head_psnr']:.2f} / {r['per_person'][person]['mouth_psnr']:.2f}"
                 for r in results.values()]  # fmt: skip
        print(f"| {person} | " + " | ".join(cells) + " |")
    print("\n| render | " + " | ".join(f"{size} px frames/s" for size in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for method, result in results.items():
        print(f"| `{method}` | " + " | ".join(f"{result['fps'][str(s)]:.2f}" for s in SIZES) + " |")
    ratio = {s: splats["fps"][str(s)] / fast["fps"][str(s)] for s in SIZES}
    print("\nmi-gaussians / mi-nerf-fast render speed: " + ", ".join(f"{s} px {r:.1f}x" for s, r in ratio.items()))


if __name__ == "__main__":
    main()
