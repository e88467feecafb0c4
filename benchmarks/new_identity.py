"""A new person from a short clip (paper sec. 4.5, Fig. 6/14): MI-NeRF trained on the other identities and then
personalized on the clip, against a single-identity model trained from scratch on the same clip for the same number
of iterations. Both are scored by ``minerf-eval transfer`` on the new person's held-out frames and with the other
identities' (novel) expressions, against exact ground truth. Real ns-train / minerf-personalize / minerf-eval runs.

    python benchmarks/new_identity.py --data DATA --new dan --out OUT [--iterations 600] [--personalize-iterations 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMON = ["--vis", "tensorboard", "--logging.local-writer.enable", "False", "--machine.device-type", "cpu"]


def checked(command: list) -> float:
    """Run a command, return its wall seconds; on failure print its stderr's end and stop."""
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, command[:2]))} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def newest_config(root: Path) -> Path:
    return sorted(root.rglob("config.yml"), key=lambda p: p.stat().st_mtime)[-1]


def scores(config: Path, out: Path) -> dict:
    checked([BIN / "minerf-eval", "transfer", "--load-config", config, "--output-dir", out, "--overwrite",
             "--no-figures"])  # fmt: skip
    return json.loads((out / "transfer.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a minerf-synth dataset with transfer ground truth")
    parser.add_argument("--new", required=True, help="the identity held out of the multi-identity training")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=600, help="multi-identity training")
    parser.add_argument("--personalize-iterations", type=int, default=300)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-5, 1e-3], help="network lrs to personalize at")
    args = parser.parse_args()
    others = [
        p.name for p in sorted(args.data.iterdir()) if p.is_dir() and p.name[0] not in "_." and p.name != args.new
    ]
    n = args.personalize_iterations
    rows = []

    seconds = checked([BIN / "ns-train", args.method, "--data", args.data, "--output-dir", args.out / "multi",
                       "--max-num-iterations", args.iterations, *COMMON,
                       "mi-nerf-data", "--identities", *others])  # fmt: skip
    multi = newest_config(args.out / "multi")
    print(f"multi-identity model on {', '.join(others)}: {args.iterations} it, {seconds:.0f} s", flush=True)
    for lr in args.lrs:
        root = args.out / f"personalized-lr{lr:g}"
        seconds = checked([BIN / "minerf-personalize", "--load-config", multi, "--data", args.data, "--identities",
                           args.new, "--iterations", n, "--lr", lr, "--output-dir", root])  # fmt: skip
        rows.append((f"MI-NeRF personalized (network lr {lr:g})", seconds, scores(newest_config(root), root / "eval")))
        print(rows[-1][0], f"{seconds:.0f} s", flush=True)
    root = args.out / "scratch"
    seconds = checked([BIN / "ns-train", args.method, "--data", args.data, "--output-dir", root, "--max-num-iterations",
                       n, *COMMON, "mi-nerf-data", "--identities", args.new])  # fmt: skip
    rows.append(("single identity from scratch", seconds, scores(newest_config(root), root / "eval")))

    print(f"\nnew identity {args.new}: {n} iterations on its clip; head-box PSNR / SSIM vs ground truth\n")
    print("| model | wall s | novel expressions (transfer) | held-out frames (self) |")
    print("|---|---|---|---|")
    for name, seconds, r in rows:
        t, s = r["transfer"], r["self_reenactment"]
        print(f"| {name} | {seconds:.0f} | {t['head_psnr']:.2f} / {t['head_ssim']:.3f} | "
              f"{s['head_psnr']:.2f} / {s['head_ssim']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
