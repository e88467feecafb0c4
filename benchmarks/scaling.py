"""The paper's Fig. 4 at CPU scale: seconds (and iterations) for ONE jointly trained model on N identities to reach a
held-out head-box PSNR bar, against the sum for N separately trained single-identity models, N = 1, 2, 4, 8, 16, with
our batches (rays from every frame) and the paper's (each step's rays from one frame). Training seconds only
(evaluations every ``--every`` iterations are not counted). Writes a PNG plot with a curve pair per batch mode.

The bar is per model by default: ``--margin`` dB below that model's converged held-out PSNR (the mean of its last
three evaluations in ``--max-iterations``), so every model is timed to "near its own best" and a bar that some
identities can never reach (a fixed ``--target``) does not decide the result. Every model's curve is kept as JSON in
``--out`` and reused by a rerun, so a stopped run goes on where it stopped.

    python benchmarks/scaling.py --data DATA_WITH_16_IDS --out CURVES_DIR [--margin 0.5 | --target 25]
        [--method mi-nerf-fast] [--plot scaling.png] [--counts 1 2 4 8 16] [--batches ours paper]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import List, Optional, Tuple

from training_run import method_config, train_with_evals

BATCHES = {"ours": False, "paper": True}
"""Batch mode -> one_frame_per_batch."""

Curve = List[Tuple[int, float, float]]
"""(step, training seconds, held-out head-box PSNR) at every evaluation."""


def curve(args, names: list, batch: str) -> Curve:
    """The evaluation curve of one model on ``names`` trained ``args.max_iterations`` (read back if already kept)."""
    path = args.out / f"{batch}-{args.method}-{args.max_iterations}-{'+'.join(names)}.json"
    if path.exists():
        return [tuple(row) for row in json.loads(path.read_text())]
    config = method_config(args.method, args.data, args.max_iterations)
    config.pipeline.datamanager.dataparser.identities = tuple(names)
    config.pipeline.datamanager.pixel_sampler.one_frame_per_batch = BATCHES[batch]
    rows = [(step, seconds, metrics["head_psnr"])
            for step, seconds, metrics in train_with_evals(config, args.max_iterations, args.every)]  # fmt: skip
    path.write_text(json.dumps(rows))
    return rows


def converged(rows: Curve) -> float:
    """A model's converged held-out PSNR: the mean of its last three evaluations (one evaluation is noisy)."""
    tail = [psnr for _, _, psnr in rows[-3:]]
    return sum(tail) / len(tail)


def bar_of(args, rows: Curve) -> float:
    """The PSNR a model is timed to: the fixed ``--target`` or ``--margin`` below its own converged PSNR."""
    return args.target if args.target is not None else converged(rows) - args.margin


def time_to_bar(rows: Curve, bar: float) -> Tuple[Optional[int], float]:
    """(iterations, seconds) at the first evaluation at or above ``bar``; (None, all seconds) if never."""
    for step, seconds, psnr in rows:
        if psnr >= bar:
            return step, seconds
    return None, rows[-1][1]


def timed(args, rows: Curve) -> tuple:
    """A model's (iterations, seconds) to its bar, the bar and its converged PSNR."""
    bar = bar_of(args, rows)
    return (*time_to_bar(rows, bar), bar, converged(rows))


def scaling_rows(args, names: list, batch: str) -> list:
    """Per N of ``args.counts``: (N, joint (it, s, bar, converged), separate it, separate s, mean single converged)."""
    single = {}
    for name in names:
        single[name] = timed(args, curve(args, [name], batch))
        print(f"{batch} single {name}: {single[name][0]} it, {single[name][1]:.1f} s to {single[name][2]:.2f} dB "
              f"(converged {single[name][3]:.2f})", flush=True)  # fmt: skip
    table = []
    for n in args.counts:
        joint = timed(args, curve(args, names[:n], batch))
        separate_it = sum(single[name][0] or args.max_iterations for name in names[:n])
        separate_s = sum(single[name][1] for name in names[:n])
        single_converged = sum(single[name][3] for name in names[:n]) / n
        table.append((n, joint, separate_it, separate_s, single_converged))
        print(f"{batch} N={n}: joint {joint[0]} it {joint[1]:.1f} s to {joint[2]:.2f} dB (converged {joint[3]:.2f}); "
              f"separate {separate_it} it {separate_s:.1f} s (converged {single_converged:.2f})",
              flush=True)  # fmt: skip
    return table


def plot(args, results: dict) -> None:
    """Seconds to the bar against N: one model and N single models, a pair of curves per batch mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.8), dpi=120)
    for k, (batch, rows) in enumerate(results.items()):
        counts, colour = [r[0] for r in rows], f"C{k}"
        ax.plot(counts, [r[1][1] for r in rows], marker="o", color=colour, label=f"one model ({batch} batches)")
        ax.plot(counts, [r[3] for r in rows], marker="s", linestyle="--", color=colour,
                label=f"N single models ({batch} batches)")  # fmt: skip
    bar = f"{args.target:g} dB" if args.target is not None else f"{args.margin:g} dB below converged"
    ax.set_xlabel("identities N")
    ax.set_ylabel(f"training seconds to {bar}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title(f"{args.method}, CPU, head-box PSNR")
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"wrote {args.plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder of the models' curves (reused by a rerun)")
    parser.add_argument("--target", type=float, default=None, help="a fixed held-out head-box PSNR bar (dB)")
    parser.add_argument("--margin", type=float, default=0.5, help="per-model bar: dB below its converged PSNR")
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--batches", nargs="+", default=list(BATCHES), choices=list(BATCHES))
    parser.add_argument("--max-iterations", type=int, default=1500)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--plot", type=Path, default=Path("scaling.png"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in Path(args.data).iterdir() if p.is_dir() and p.name[0] not in "_.")
    names = names[: max(args.counts)]
    results = {batch: scaling_rows(args, names, batch) for batch in args.batches}
    print("\n| batches | identities | joint: iterations | joint: s | joint: bar / converged (dB) "
          "| separate: iterations | separate: s | singles: mean converged (dB) | joint / separate |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for batch, rows in results.items():
        for n, joint, separate_it, separate_s, single_converged in rows:
            reached = "" if joint[0] is not None else " (not reached)"
            print(f"| {batch} | {n} | {joint[0] or args.max_iterations}{reached} | {joint[1]:.1f} | "
                  f"{joint[2]:.2f} / {joint[3]:.2f} | {separate_it} | {separate_s:.1f} | {single_converged:.2f} | "
                  f"{joint[1] / separate_s:.2f} |")  # fmt: skip
    plot(args, results)


if __name__ == "__main__":
    main()
