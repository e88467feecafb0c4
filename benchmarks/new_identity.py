"""A new person from a short clip (paper sec. 4.5, Fig. 6/14; issue 16's protocol): MI-NeRF trained on the other
identities, then fitted to the new person's narrow-range clip (``minerf-synth --narrow-identities NEW``) in each way
``minerf-personalize`` offers, against a single-identity model trained from scratch on the same clip. Scored by
``minerf-eval transfer`` against exact ground truth: the new person making the other identities' full-range held-out
expressions (out of the clip's range; head box and the expression region, the pixels those expressions change) and
the clip's own held-out frames. Real ns-train / minerf-personalize /
minerf-eval runs; a rerun reuses finished ones.

With ``--full-data`` (the same ``minerf-synth`` command without ``--narrow-identities``: the same people, the new one
talking over the full range) it also trains the ceiling: a single-identity model from scratch on a full-range clip of
the new person, scored on the same out-of-range ground truth; no fit from the narrow clip can be expected above it.

    python benchmarks/new_identity.py --data DATA --new NEW --out OUT [--iterations 1500]
        [--personalize-iterations 300] [--seeds 0 1 2] [--full-data FULL_RANGE_DATA]
        [--train-args "--pipeline.model.geometry.plane-gains True"]   # a design variant, for every model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import BIN, COMMON, checked, newest_config  # noqa: E402

CEILING = "ceiling: single identity from scratch on a FULL-range clip"


def scored(root: Path, command: list, truth: Path) -> dict:
    """Run ``command`` (which writes a run under ``root``) unless done, then ``minerf-eval transfer`` on the run against
    ``truth``'s ground truth (the narrow dataset's for every model, so the expression regions are the same)."""
    result_file = root / "eval" / "transfer.json"
    earlier = json.loads(result_file.read_text()) if result_file.exists() else {}
    if "expression_psnr" in earlier.get("transfer", {}):
        return earlier
    seconds = earlier["wall_seconds"] if "wall_seconds" in earlier else checked(command)  # scored before the region
    checked([BIN / "minerf-eval", "transfer", "--load-config", newest_config(root), "--data", truth,
             "--output-dir", root / "eval", "--overwrite", "--no-figures"])  # fmt: skip
    result = json.loads(result_file.read_text())
    result["wall_seconds"] = seconds
    result_file.write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="minerf-synth data with --narrow-identities NEW")
    parser.add_argument("--new", required=True, help="the identity held out of the multi-identity training")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=1500, help="multi-identity training")
    parser.add_argument("--personalize-iterations", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--full-data", type=Path, help="the same people with the new one's clip at full range")
    parser.add_argument("--train-args", default="", help="extra ns-train options (e.g. a geometry variant) for every "
                        "model trained; personalization inherits them from the multi-identity run")  # fmt: skip
    parser.add_argument("--variants", type=int, nargs="+", help="only these personalization variants (0-5)")
    args = parser.parse_args()
    others = [
        p.name for p in sorted(args.data.iterdir()) if p.is_dir() and p.name[0] not in "_." and p.name != args.new
    ]
    n = args.personalize_iterations
    extra = args.train_args.split()
    multi_root = args.out / "multi"
    if not list(multi_root.rglob("config.yml")):
        seconds = checked([BIN / "ns-train", args.method, "--data", args.data, "--output-dir", multi_root,
                           "--max-num-iterations", args.iterations, *COMMON, *extra,
                           "mi-nerf-data", "--identities", *others])  # fmt: skip
        print(f"multi-identity model on {', '.join(others)}: {args.iterations} it, {seconds:.0f} s", flush=True)
    multi = newest_config(multi_root)
    personalize = [BIN / "minerf-personalize", "--load-config", multi, "--data", args.data, "--identities", args.new,
                   "--iterations", n]  # fmt: skip
    variants = {
        "codes only (network frozen)": ["--codes-only-iterations", n],
        f"codes, then + network at 1e-3 from iteration {n // 3}": ["--codes-only-iterations", n // 3, "--lr", 1e-3],
        "today's: codes + network at 1e-5 (the paper's rate)": ["--lr", 1e-5],
        "today's at 1e-3": ["--lr", 1e-3],
        "codes + network at 1e-3, grids at 1e-2 (scratch's ratio)": ["--lr", 1e-3, "--grid-lr", 1e-2],
        "codes + network at 2e-3, grids at 2e-2 (scratch's rates)": ["--lr", 2e-3, "--grid-lr", 2e-2],
    }
    rows: dict = {}
    for seed in args.seeds:
        for k, (name, options) in enumerate(variants.items()):
            if args.variants is not None and k not in args.variants:
                continue
            root = args.out / f"variant{k}-seed{seed}"
            command = [*personalize, *options, "--seed", seed, "--output-dir", root]
            rows.setdefault(name, []).append(scored(root, command, args.data))
        root = args.out / f"scratch-seed{seed}"
        command = [BIN / "ns-train", args.method, "--data", args.data, "--output-dir", root, "--max-num-iterations", n,
                   "--machine.seed", seed, *COMMON, *extra, "mi-nerf-data", "--identities", args.new]  # fmt: skip
        rows.setdefault("single identity from scratch", []).append(scored(root, command, args.data))
        if args.full_data is not None:
            root = args.out / f"ceiling-seed{seed}"
            command = [BIN / "ns-train", args.method, "--data", args.full_data, "--output-dir", root,
                       "--max-num-iterations", n, "--machine.seed", seed, *COMMON, *extra,
                       "mi-nerf-data", "--identities", args.new]  # fmt: skip
            rows.setdefault(CEILING, []).append(scored(root, command, args.data))
        print(f"seed {seed} done", flush=True)

    def cell(results: list, part: str, key: str = "head_psnr") -> str:
        values = [r[part][key] for r in results]
        text = f"{np.mean(values):.2f} +- {np.std(values):.2f}"
        return text + f" / {np.mean([r[part]['head_ssim'] for r in results]):.3f}" if key == "head_psnr" else text

    print(f"\nnew identity {args.new}: {n} iterations on its clip, seeds {args.seeds}; head-box PSNR / SSIM, and PSNR "
          "on the pixels the out-of-range expressions change (expression region)\n")  # fmt: skip
    print("| model | wall s | out-of-range: expression region | out-of-range: head box | the clip's held-out frames |")
    print("|---|---|---|---|---|")
    for name, results in rows.items():
        seconds = np.mean([r.get("wall_seconds", np.nan) for r in results])
        own = "(not its clip)" if name == CEILING else cell(results, "self_reenactment")
        print(f"| {name} | {seconds:.0f} | {cell(results, 'transfer', 'expression_psnr')} | "
              f"{cell(results, 'transfer')} | {own} |")  # fmt: skip


if __name__ == "__main__":
    main()
