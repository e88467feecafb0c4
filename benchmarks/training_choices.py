"""Two of the paper's training choices against ours, at equal iterations (equal time: the same work per step), by the
real ``ns-train`` and ``minerf-eval heldout``, over seeds (issue 19, items 4 and 5):

- one-frame batches (the paper: each step's rays from one randomly chosen frame) against rays from every frame;
- the loss as the paper writes it, a sum over rays (and colour channels), against our mean: with the mean, the code
  regularizers weigh 3 x rays-per-batch times more against the colour term than in the paper's sum; "paper's weights"
  divides lambda_l and lambda_i by that factor, which gives the paper's balance with our mean.

    python benchmarks/training_choices.py --data DATA --out OUT [--method mi-nerf-fast] [--iterations 600]
        [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from console_runs import BIN, checked, schedules

from minerf_ns.config import METHODS


def variants(method: str) -> dict:
    model = METHODS[method].config.pipeline.model
    rays = METHODS[method].config.pipeline.datamanager.train_num_rays_per_batch
    factor = 3 * rays
    return {
        "ours: rays from every frame, mean loss": [],
        "one frame per batch": ["--pipeline.datamanager.pixel-sampler.one-frame-per-batch", "True"],
        f"paper's weights for our mean (lambda / {factor})": [
            "--pipeline.model.latent-reg-mult",
            repr(model.latent_reg_mult / factor),
            "--pipeline.model.identity-reg-mult",
            repr(model.identity_reg_mult / factor),
        ],  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    stretched = schedules(args.iterations, args.method)
    results = {}
    for name, extra in variants(args.method).items():
        for seed in args.seeds:
            root = args.out / f"{len(results)}-{seed}"
            start = time.perf_counter()
            checked([str(BIN / "ns-train"), args.method, "--data", str(args.data), "--output-dir", str(root),
                 "--max-num-iterations", str(args.iterations), "--machine.seed", str(seed), "--vis", "tensorboard",
                 "--logging.local-writer.enable", "False", "--machine.device-type", "cpu", *stretched,
                 *extra])  # fmt: skip
            seconds = time.perf_counter() - start
            config = sorted(root.rglob("config.yml"))[-1]
            checked([str(BIN / "minerf-eval"), "heldout", "--load-config", str(config), "--output-dir",
                 str(root / "heldout")])  # fmt: skip
            mean = json.loads((root / "heldout" / "heldout.json").read_text())["mean"]
            results.setdefault(name, []).append((seconds, mean))
            print(f"{name}, seed {seed}: {seconds:.0f} s, held-out PSNR {mean['psnr']:.2f}, head "
                  f"{mean['head_psnr']:.2f}", flush=True)  # fmt: skip
    print()
    print("| variant | ns-train s (mean) | held-out PSNR | held-out head-box PSNR | head-box SSIM |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        seconds = statistics.mean(s for s, _ in rows)
        cells = [_mean_spread([m[key] for _, m in rows], 3 if key == "head_ssim" else 2)
                 for key in ("psnr", "head_psnr", "head_ssim")]  # fmt: skip
        print(f"| {name} | {seconds:.0f} | {' | '.join(cells)} |")


def _mean_spread(values: list, digits: int) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} +- {spread:.{digits}f}"


if __name__ == "__main__":
    main()
