"""Peak memory (RSS) of training on 2, 8 and 32 synthetic identities: each count in a fresh process that builds the
`mi-nerf-fast` pipeline (dataset, image cache, codes) and trains ``--iterations`` iterations.

    python benchmarks/memory.py --work /tmp/mem [--counts 2 8 32] [--frames 60] [--size 64] [--method mi-nerf-fast]
        [--cache-budget-gb GB]   (a budget below the dataset's size exercises the streamed random-subset cache)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path


def measure(data: Path, method: str, iterations: int, cache_budget_gb: float | None) -> None:
    """In this process: train, then print the peak RSS."""
    from training_run import method_config, train_with_evals

    config = method_config(method, str(data), iterations)
    if cache_budget_gb is not None:
        config.pipeline.datamanager.cache_budget_gb = cache_budget_gb
    for _ in train_with_evals(config, iterations, every=iterations * 10):
        pass
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the generated datasets")
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--cache-budget-gb", type=float, default=None, help="datamanager image-cache budget")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.method, args.iterations, args.cache_budget_gb)
        return
    from minerf_ns.synthetic.dataset_writer import SynthSettings, generate

    print("| identities | frames | image | peak RSS (MB) |")
    print("|---|---|---|---|")
    for count in args.counts:
        data = args.work / f"ids{count}"
        if not data.exists():
            generate(data, SynthSettings(count, args.frames, args.size, 0), with_transfer=False)
        command = [sys.executable, __file__, "--work", str(args.work), "--measure", str(data), "--method", args.method,
                   "--iterations", str(args.iterations)]  # fmt: skip
        if args.cache_budget_gb is not None:
            command += ["--cache-budget-gb", str(args.cache_budget_gb)]
        proc = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("peak_rss_mb")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"measuring {count} identities failed:\n{proc.stderr[-2000:]}")
        print(f"| {count} | {count * args.frames} | {args.size} px | {lines[0].split()[1]} |", flush=True)


if __name__ == "__main__":
    main()
