"""Held-out PSNR against training iterations (and seconds) for a method on a synthetic dataset, for choosing the demo's
budget and comparing settings. Uses the method's own optimizers and schedulers, scaled to ``--iterations``.
Prints one line per evaluation.

    python benchmarks/convergence.py --data DATA --method mi-nerf-fast --iterations 1200 --every 200 \\
        [--lr-scale 2] [--set num_samples=48]
"""

from __future__ import annotations

import argparse

import torch
from training_run import METHODS, method_config, train_with_evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iterations", type=int, default=1200)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--method", default="mi-nerf-small", choices=METHODS)
    parser.add_argument("--rays", type=int, default=0, help="rays per batch (0: the method's)")
    parser.add_argument("--lr-scale", type=float, default=1.0, help="multiply every group's learning rate")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--near-margin", type=float, default=None, help="override the dataparser's near margin")
    parser.add_argument("--set", nargs="*", default=[], help="model config overrides, name=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = method_config(
        args.method, args.data, args.iterations, args.rays, args.lr_scale, args.set, args.near_margin
    )
    for step, seconds, m in train_with_evals(config, args.iterations, args.every, args.device):
        print(
            f"step {step} s {seconds:.0f} psnr {m['psnr']:.2f} head_psnr {m['head_psnr']:.2f} "
            f"head_ssim {m['head_ssim']:.3f} method {args.method} lr-scale {args.lr_scale} set {' '.join(args.set)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
