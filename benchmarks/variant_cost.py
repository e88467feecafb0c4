"""The price of a model or geometry option: seconds per training iteration and per held-out render of a method with
and without ``--overrides``, in alternating rounds in one process (this machine is noisy), on the same data.

    python benchmarks/variant_cost.py --data DATA --overrides plane_gains=True [--method mi-nerf-fast]
        [--iterations 20] [--rounds 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from training_run import method_config, timed_steps, trainer_for


def costs(args, overrides: list) -> tuple:
    """(seconds per training iteration after 2 warm-up steps, seconds per held-out image render)."""
    config = method_config(args.method, args.data, args.iterations + 2, overrides=overrides)
    trainer = trainer_for(config, args.iterations + 2, args.device)
    timed_steps(trainer, 0, 2, args.device)
    train = timed_steps(trainer, 2, args.iterations, args.device) / args.iterations
    pipeline = trainer.pipeline
    pipeline.eval()
    images = len(pipeline.datamanager.fixed_indices_eval_dataloader)
    start = time.perf_counter()
    with torch.no_grad():
        pipeline.get_average_eval_image_metrics()
    return train, (time.perf_counter() - start) / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--overrides", nargs="+", required=True, help="model or geometry fields as name=value")
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    variants = {"base": [], " ".join(args.overrides): args.overrides}
    results = {name: [] for name in variants}
    for k in range(args.rounds):
        for name, overrides in variants.items():
            results[name].append(costs(args, overrides))
            print(f"round {k} {name}: {results[name][-1][0] * 1000:.1f} ms/it, {results[name][-1][1]:.3f} s/image",
                  flush=True)  # fmt: skip
    base = np.mean(results["base"], axis=0)
    print(f"\n{args.method}, {args.device}, {args.rounds} alternating rounds of {args.iterations} iterations\n")
    print("| variant | ms per training iteration | s per held-out render | vs base (train / render) |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        train, render = np.mean(rows, axis=0)
        print(f"| {name} | {train * 1000:.1f} | {render:.3f} | {train / base[0]:.2f}x / {render / base[1]:.2f}x |")


if __name__ == "__main__":
    main()
