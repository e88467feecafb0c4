"""The transfer table (paper Table 1's shape): each interaction module trained with the same budget on the same
synthetic data by the real ``ns-train``, then measured by ``minerf-eval transfer`` against exact ground truth.

    python benchmarks/transfer_table.py --data DATA --out OUT [--method mi-nerf-fast] [--iterations 600]
        [--interactions multiplicative high-degree concat]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GROUPS = {
    "mi-nerf-fast": ("fields", "codes", "grids"),
    "mi-nerf-small": ("fields", "codes"),
    "mi-nerf": ("fields", "codes"),
}


def checked(command: list) -> None:
    """Run a command; on failure print its stderr's end and stop."""
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[:2])} failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a minerf-synth dataset (with transfer ground truth)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--interactions", nargs="+", default=["multiplicative", "high-degree", "concat"])
    args = parser.parse_args()
    identities = len([p for p in args.data.iterdir() if p.is_dir() and not p.name.startswith("_")])
    rows = []
    for interaction in args.interactions:
        run_root = args.out / interaction
        start = time.perf_counter()
        schedules = [arg for group in GROUPS[args.method]
                     for arg in (f"--optimizers.{group}.scheduler.max-steps", str(args.iterations))]  # fmt: skip
        checked([str(BIN / "ns-train"), args.method, "--data", str(args.data), "--output-dir", str(run_root),
                 "--max-num-iterations", str(args.iterations), "--pipeline.model.interaction", interaction,
                 "--vis", "tensorboard", "--logging.local-writer.enable", "False",
                 "--machine.device-type", "cpu", *schedules])  # fmt: skip
        seconds = time.perf_counter() - start
        config = sorted(run_root.rglob("config.yml"))[-1]
        eval_dir = args.out / f"eval-{interaction}"
        checked([str(BIN / "minerf-eval"), "transfer", "--load-config", str(config), "--output-dir", str(eval_dir),
                 "--overwrite"])  # fmt: skip
        result = json.loads((eval_dir / "transfer.json").read_text())
        rows.append((interaction, seconds, result))
        t, s = result["transfer"], result["self_reenactment"]
        print(f"{interaction}: {seconds:.0f} s, transfer head PSNR {t['head_psnr']:.2f}, self {s['head_psnr']:.2f}",
              flush=True)  # fmt: skip
    print()
    print(
        "| module | identities | iterations | ns-train s | transfer head PSNR | transfer head SSIM "
        "| self-reenact head PSNR | self-reenact head SSIM |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for interaction, seconds, r in rows:
        t, s = r["transfer"], r["self_reenactment"]
        print(f"| {interaction} | {identities} | {args.iterations} | {seconds:.0f} | {t['head_psnr']:.2f} | "
              f"{t['head_ssim']:.3f} | {s['head_psnr']:.2f} | {s['head_ssim']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
