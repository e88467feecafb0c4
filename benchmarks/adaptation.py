"""How fast a new person is learnt (issue 16 item 4): the held-out head-box PSNR of the new person's clip against
training seconds while ``minerf-personalize`` fits a trained MI-NeRF to the clip (codes + network at ``--lr``, the
same library calls as the command), against a single-identity model trained from scratch on the same clip. Reports the
seconds (training only; evaluations are not counted) until each is within 1 dB of its own final PSNR, and until it
is within 1 dB of the better final.

    python benchmarks/adaptation.py --load-config MULTI_RUN/config.yml --data DATA --new NEW [--iterations 300]
        [--every 10] [--lr 1e-3] [--seeds 0 1 2] [--device cpu]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from training_run import method_config, train_with_evals

from minerf_ns.commands import load_run
from minerf_ns.personalization import personalization_config, start_from

Curve = List[Tuple[int, float, float]]
"""(step, training seconds, held-out head-box PSNR) at every evaluation."""


def personalized_curve(args, trained, source_model, seed: int) -> Curve:
    """Personalizing the trained run (its config and model) to ``args.new``'s clip, evaluated every ``args.every``
    iterations."""
    config = personalization_config(trained, args.data, (args.new,), args.lr, args.code_lr)
    hook = start_from(source_model, report=lambda _: None)
    evals = train_with_evals(config, args.iterations, args.every, args.device, seed, before_training=hook)
    return [(step, seconds, metrics["head_psnr"]) for step, seconds, metrics in evals]


def scratch_curve(args, method: str, seed: int) -> Curve:
    """A single-identity model of ``method`` trained from scratch on the same clip for the same iterations."""
    config = method_config(method, str(args.data), args.iterations)
    config.pipeline.datamanager.dataparser.identities = (args.new,)
    evals = train_with_evals(config, args.iterations, args.every, args.device, seed)
    return [(step, seconds, metrics["head_psnr"]) for step, seconds, metrics in evals]


def seconds_to(rows: Curve, bar: float) -> Tuple[Optional[int], Optional[float]]:
    """(iterations, seconds) at the first evaluation at or above ``bar``."""
    return next(((step, seconds) for step, seconds, psnr in rows if psnr >= bar), (None, None))


def mean_time(runs: List[Curve], bar_of) -> str:
    """Mean "seconds (iterations)" over seeds until each run reaches ``bar_of(run)``."""
    hits = [seconds_to(rows, bar_of(rows)) for rows in runs]
    if any(step is None for step, _ in hits):
        return "not reached"
    return f"{np.mean([s for _, s in hits]):.1f} ({np.mean([i for i, _ in hits]):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-config", type=Path, required=True, help="the multi-identity run (without --new)")
    parser.add_argument("--data", type=Path, required=True, help="dataset root holding the new person's clip")
    parser.add_argument("--new", required=True, help="the new person's video (identity name)")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3, help="the network's rate while personalizing")
    parser.add_argument("--code-lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    trained, pipeline, _ = load_run(args.load_config, "adaptation benchmark", test_mode="inference")
    method = trained.method_name
    curves = {"personalized": [], "scratch": []}
    for seed in args.seeds:
        curves["personalized"].append(personalized_curve(args, trained, pipeline.model, seed))
        curves["scratch"].append(scratch_curve(args, method, seed))
        print(f"seed {seed}: personalized {curves['personalized'][-1][-1][2]:.2f} dB, scratch "
              f"{curves['scratch'][-1][-1][2]:.2f} dB after {args.iterations} iterations", flush=True)  # fmt: skip
    best = max(rows[-1][2] for runs in curves.values() for rows in runs)
    print(f"\n{method}, new identity {args.new}, {args.iterations} iterations, {args.device}, seeds {args.seeds}; "
          f"held-out head-box PSNR of the clip; training seconds (mean over seeds)\n")  # fmt: skip
    print("| model | final dB | s (it) to within 1 dB of its final | s (it) to within 1 dB of the best final "
          f"({best:.2f}) | s for all {args.iterations} it | dB after the first {args.every} it |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, runs in curves.items():
        final = np.mean([rows[-1][2] for rows in runs])
        print(f"| {name} | {final:.2f} | {mean_time(runs, lambda rows: rows[-1][2] - 1.0)} | "
              f"{mean_time(runs, lambda rows: best - 1.0)} | {np.mean([rows[-1][1] for rows in runs]):.1f} | "
              f"{np.mean([rows[0][2] for rows in runs]):.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
