"""The paper's Fig. 4 at CPU scale: seconds (and iterations) for ONE jointly trained model on N identities to reach a
held-out head-box PSNR, against the sum for N separately trained single-identity models, N = 1, 2, 4, 8, 16, with
our batches (rays from every frame) and the paper's (each step's rays from one frame). Training seconds only
(evaluations every ``--every`` iterations are not counted). Writes a PNG plot with a curve pair per batch mode.

    python benchmarks/scaling.py --data DATA_WITH_16_IDS --target 25 [--method mi-nerf-fast] [--plot scaling.png]
        [--counts 1 2 4 8 16] [--batches ours paper]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training_run import method_config, train_with_evals

BATCHES = {"ours": False, "paper": True}
"""Batch mode -> one_frame_per_batch."""


def time_to_target(args, names: list, batch: str):
    """(iterations, seconds, PSNR) when the held-out head PSNR of a model on ``names`` first reaches the target."""
    config = method_config(args.method, args.data, args.max_iterations)
    config.pipeline.datamanager.dataparser.identities = tuple(names)
    config.pipeline.datamanager.pixel_sampler.one_frame_per_batch = BATCHES[batch]
    psnr = float("nan")
    for step, seconds, metrics in train_with_evals(config, args.max_iterations, args.every):
        psnr = metrics["head_psnr"]
        if psnr >= args.target:
            return step, seconds, psnr
    return None, seconds, psnr


def scaling_rows(args, names: list, batch: str) -> list:
    """(N, joint result, separate iterations, separate seconds) for each N of ``args.counts``."""
    single = {}
    for name in names:
        single[name] = time_to_target(args, [name], batch)
        print(f"{batch} single {name}: {single[name][0]} it, {single[name][1]:.1f} s, {single[name][2]:.2f} dB",
              flush=True)  # fmt: skip
    rows = []
    for n in args.counts:
        joint = single[names[0]] if n == 1 else time_to_target(args, names[:n], batch)
        separate_s = sum(single[name][1] for name in names[:n])
        separate_it = sum(single[name][0] or args.max_iterations for name in names[:n])
        rows.append((n, joint, separate_it, separate_s))
        print(f"{batch} N={n}: joint {joint[0]} it {joint[1]:.1f} s ({joint[2]:.2f} dB); separate {separate_it} it "
              f"{separate_s:.1f} s", flush=True)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", type=float, default=25.0, help="held-out head-box PSNR to reach (dB)")
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--batches", nargs="+", default=list(BATCHES), choices=list(BATCHES))
    parser.add_argument("--max-iterations", type=int, default=3000)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--plot", type=Path, default=Path("scaling.png"))
    args = parser.parse_args()
    names = sorted(p.name for p in Path(args.data).iterdir() if p.is_dir() and p.name[0] not in "_.")
    names = names[: max(args.counts)]
    results = {batch: scaling_rows(args, names, batch) for batch in args.batches}
    print("\n| batches | identities | joint: iterations | joint: s | separate: iterations | separate: s "
          "| joint / separate |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for batch, rows in results.items():
        for n, joint, separate_it, separate_s in rows:
            reached = "" if joint[0] is not None else " (not reached)"
            print(f"| {batch} | {n} | {joint[0] or args.max_iterations}{reached} | {joint[1]:.1f} | {separate_it} | "
                  f"{separate_s:.1f} | {joint[1] / separate_s:.2f} |")  # fmt: skip

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.8), dpi=120)
    for batch, rows in results.items():
        counts = [r[0] for r in rows]
        ax.plot(counts, [r[1][1] for r in rows], marker="o", label=f"one model ({batch} batches)")
        ax.plot(counts, [r[3] for r in rows], marker="s", linestyle="--", label=f"N single models ({batch} batches)")
    ax.set_xlabel("identities N")
    ax.set_ylabel(f"training seconds to {args.target:g} dB head PSNR")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
    ax.set_title(f"{args.method}, CPU")
    fig.tight_layout()
    fig.savefig(args.plot)
    print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
