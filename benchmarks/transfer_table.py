"""The paper's Table 1 at CPU scale: every row (Baseline NeRF, A1-A7, no latent code, k = 32, H with N = 2, 3, 4,
and M) trained with the same budget on the same data by the real ``ns-train``, on several seeds, then measured by
``minerf-eval transfer``: against exact ground truth on synthetic data (mean +- std beside the paper's PSNR); on real
footage (``--identities`` of a tracked root) by its cross-identity check (identity PSNR outside the mouth, lip-gap r).

    python benchmarks/transfer_table.py --data DATA --out OUT [--method mi-nerf-fast] [--iterations 600]
        [--rows concat a1 ... m] [--seeds 0 1 2] [--identities cnn german macron trump]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import BIN, checked, schedules  # noqa: E402


def high_degree(n: int) -> list:
    return ["--pipeline.model.interaction", "high-degree", "--pipeline.model.interaction-degree", str(n)]


ROWS = {
    # name: (the paper's label, its PSNR in Table 1, the model options of the row)
    "concat": ("Baseline NeRF (without M)", 28.65, ["--pipeline.model.interaction", "concat"]),
    **{
        f"a{n}": (f"(A{n})", psnr, ["--pipeline.model.interaction", f"a{n}"])
        for n, psnr in zip(range(1, 8), (29.08, 28.84, 28.50, 29.12, 28.95, 28.53, 28.41))
    },
    "m-no-latent": ("M without latent codes l", 28.95, ["--pipeline.model.latent-dim", "0"]),
    "m-k32": ("M with k = 32", 29.08, ["--pipeline.model.interaction-rank", "32"]),
    "h3": ("H with N = 3", 28.69, high_degree(3)),
    "h4": ("H with N = 4", 28.00, high_degree(4)),
    "m": ("M (Ours)", 29.73, ["--pipeline.model.interaction", "multiplicative"]),
    "h2": ("H with N = 2 (Ours)", 28.95, high_degree(2)),
}


def run_row(args: argparse.Namespace, row: str, seed: int) -> dict:
    """Train one row with one seed (or reuse its finished result) and return its ``minerf-eval transfer`` scores."""
    eval_dir = args.out / f"eval-{row}-seed{seed}"
    if (eval_dir / "transfer.json").exists():
        return json.loads((eval_dir / "transfer.json").read_text())
    run_root = args.out / f"{row}-seed{seed}"
    start = time.perf_counter()
    checked([str(BIN / "ns-train"), args.method, "--data", str(args.data), "--output-dir", str(run_root),
             "--max-num-iterations", str(args.iterations), *ROWS[row][2], "--machine.seed", str(seed),
             "--vis", "tensorboard", "--logging.local-writer.enable", "False",
             "--machine.device-type", "cpu", *schedules(args.iterations, args.method),
             *(["mi-nerf-data", "--identities", *args.identities] if args.identities else [])])  # fmt: skip
    seconds = time.perf_counter() - start
    config = sorted(run_root.rglob("config.yml"))[-1]
    checked([str(BIN / "minerf-eval"), "transfer", "--load-config", str(config), "--output-dir", str(eval_dir),
             "--overwrite"])  # fmt: skip
    result = json.loads((eval_dir / "transfer.json").read_text())
    result["train_seconds"] = seconds
    (eval_dir / "transfer.json").write_text(json.dumps(result, indent=1))
    return result


def mean_std(values: list) -> str:
    return f"{np.mean(values):.2f} +- {np.std(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a minerf-synth dataset (with transfer ground truth)")
    parser.add_argument("--out", type=Path, required=True, help="runs and scores (a rerun reuses finished ones)")
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--identities", nargs="*", default=[], help="train on these folders of the root only")
    args = parser.parse_args()
    results = {}
    for row in args.rows:
        for seed in args.seeds:
            r = run_row(args, row, seed)
            results.setdefault(row, []).append(r)
            if r.get("protocol") == "cross-identity":
                print(f"{row} seed {seed}: {r['train_seconds']:.0f} s, " + real_cells(r), flush=True)
                continue
            print(
                f"{row} seed {seed}: {r.get('train_seconds', float('nan')):.0f} s, transfer head PSNR "
                f"{r['transfer']['head_psnr']:.2f}, self {r['self_reenactment']['head_psnr']:.2f}",
                flush=True,
            )
    print()
    if any(r.get("protocol") == "cross-identity" for rs in results.values() for r in rs):
        return real_table(results)
    print("| row | paper PSNR | transfer head PSNR | transfer head SSIM | self-reenact head PSNR "
          "| self-reenact head SSIM | ns-train s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row, rs in results.items():
        label, paper_psnr, _ = ROWS[row]
        cols = [[r[part][metric] for r in rs] for part in ("transfer", "self_reenactment")
                for metric in ("head_psnr", "head_ssim")]  # fmt: skip
        ssim = [f"{np.mean(c):.3f} +- {np.std(c):.3f}" for c in (cols[1], cols[3])]
        seconds = np.mean([r.get("train_seconds", np.nan) for r in rs])
        print(f"| {label} | {paper_psnr:.2f} | {mean_std(cols[0])} | {ssim[0]} | {mean_std(cols[2])} | {ssim[1]} "
              f"| {seconds:.0f} |")  # fmt: skip


REAL_COLUMNS = (("transfer", "identity_psnr"), ("self_reenactment", "identity_psnr"), ("transfer", "gap"),
                ("transfer", "lip_gap_r"), ("self_reenactment", "lip_gap_r"), ("self_reenactment", "head_psnr"),
                ("self_reenactment", "mouth_psnr"))  # fmt: skip


def real_cells(result: dict) -> str:
    return ", ".join(f"{part[:4]} {key} {result[part][key]:.3f}" for part, key in REAL_COLUMNS)


def real_table(results: dict) -> None:
    """Real footage: the cross-identity check's columns, mean +- std over the seeds."""
    print("| row | paper PSNR | transfer identity PSNR | self identity PSNR | gap (dB) | transfer lip-gap r "
          "| self lip-gap r | self head PSNR | self mouth PSNR | ns-train s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row, rs in results.items():
        label, paper_psnr, _ = ROWS[row]
        cells = [mean_std([r[part][key] for r in rs]) for part, key in REAL_COLUMNS]
        seconds = np.mean([r.get("train_seconds", np.nan) for r in rs])
        print(f"| {label} | {paper_psnr:.2f} | {' | '.join(cells)} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
