"""mi-gaussians with geometry or model options changed, against its defaults, at the same iterations: held-out
PSNR (frame, head box, mouth box), training seconds. One run, side by side.

    python benchmarks/gaussian_variants.py --data /tmp/gs-bench/demo --out /tmp/gs-var/demo --iterations 900 \\
        --variant factor_rank=8
    python benchmarks/gaussian_variants.py --data /tmp/xs/real --out /tmp/gs-var/real --iterations 2500 --frames 20 \\
        --variant factor_rank=8

Each ``--variant`` is one or more comma-separated ``name=value`` (a geometry or model config field). Keeps each run's
numbers in ``--out`` (a rerun reuses them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import cached  # noqa: E402
from gaussians import trained  # noqa: E402

from minerf_ns.evaluation import evaluate_held_out, mean_metrics  # noqa: E402

KEYS = ("psnr", "head_psnr", "mouth_psnr")


def measure(data: Path, iterations: int, overrides: list[str], seed: int, frames, out: Path) -> dict:
    trainer, seconds = trained("mi-gaussians", data, iterations, seed, out, overrides)
    per_person, _ = evaluate_held_out(trainer.pipeline, frames)
    return {"seconds": seconds, "per_person": per_person}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=900)
    parser.add_argument("--variant", nargs="+", default=["factor_rank=8"], help="comma-separated name=value sets")
    parser.add_argument("--frames", type=int, default=None, help="held-out frames scored per person (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = {}
    for variant in ["defaults", *args.variant]:
        overrides = [] if variant == "defaults" else variant.split(",")
        name = variant.replace("=", "-").replace(",", "_")
        results[variant] = cached(args.out / f"{name}.json", lambda o=overrides, n=name: measure(
            args.data, args.iterations, o, args.seed, args.frames, args.out / n))  # fmt: skip
        print(f"{variant}: {results[variant]['seconds']:.0f} s", flush=True)
    print(
        f"\n| mi-gaussians, {args.iterations} it | training s | PSNR | head PSNR | mouth PSNR |\n|---|---|---|---|---|"
    )
    for variant, result in results.items():
        mean = mean_metrics(result["per_person"])
        print(f"| {variant} | {result['seconds']:.0f} | " + " | ".join(f"{mean[k]:.2f}" for k in KEYS) + " |")
    print("\n| person | " + " | ".join(f"{v} head / mouth" for v in results) + " |\n|---|" + "---|" * len(results))
    for person in results["defaults"]["per_person"]:
        cells = [f"{r['per_person'][person]['head_psnr']:.2f} / {r['per_person'][person]['mouth_psnr']:.2f}"
                 for r in results.values()]  # fmt: skip
        print(f"| {person} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
