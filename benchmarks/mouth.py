"""The mouth of any method in one command: held-out mouth-box PSNR against the head box, lip-gap r when each identity
drives itself and when another drives it (``minerf-eval transfer``'s cross-identity check), and FaceMesh's lip gap on
the render against the truth's on each identity's held-out frames with the widest tracked jawOpen.

    python benchmarks/mouth.py --data /tmp/xs/real --out /tmp/mouth/nerf --method mi-nerf-fast --iterations 2000 \\
        --variant mouth_fraction=0.25 --seeds 0 1 2
    python benchmarks/mouth.py --data /tmp/xs/real --out /tmp/mouth/gs --method mi-gaussians --iterations 2000

One model of every identity of ``--data`` per (variant, seed), trained with the method's defaults and each
``--variant`` (comma-separated ``name=value``: a model, geometry, ray sampler or datamanager config field). The
cross-identity check drives the ``--cross`` identities by each other. Keeps each run's numbers in ``--out`` (a rerun
reuses them) and each run's mouth picture (``mouth_comparison.png``), and ``mouth_figure.jpg``: each identity's
widest held-out mouth, truth then each variant's render (the first seed's), side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import cached  # noqa: E402
from gaussians import trained  # noqa: E402

from minerf_ns.cross_identity import evaluate_cross_identity  # noqa: E402
from minerf_ns.evaluation import compare_widest_mouths, evaluate_held_out, held_out_rows, mean_metrics  # noqa: E402
from minerf_ns.media import label, write_png  # noqa: E402

COLUMNS = ("seconds", "head_psnr", "mouth_psnr", "mouth_gap", "self_r", "transfer_r", "identity_gap", "gap_ratio")
"""The table's columns: training seconds; held-out PSNR on the head and mouth boxes and mouth minus head; lip-gap r
self and transfer; transfer identity PSNR minus self; rendered / true lip gap on the widest held-out mouths."""


def measure(method: str, data: Path, iterations: int, overrides: List[str], seed: int, frames: int, cross: List[str],
            pair_frames: int, out: Path) -> Dict:  # fmt: skip
    trainer, seconds = trained(method, data, iterations, seed, out / "runs", overrides)
    pipeline = trainer.pipeline
    per_person, _ = evaluate_held_out(pipeline, frames)
    names = pipeline.model.identity_names
    unknown = sorted(set(cross) - set(names))
    if unknown:
        raise SystemExit(f"--cross {' '.join(unknown)}: not identities of {data}. Fix: name some of {names}")
    rows = held_out_rows(pipeline.datamanager.eval_dataset, pair_frames)
    rows = {k: v for k, v in rows.items() if names[k] in cross}
    summary, _ = evaluate_cross_identity(pipeline, rows)
    widest, picture = compare_widest_mouths(pipeline)
    if picture is not None:
        write_png(out / "mouth_comparison.png", picture)
    return {"seconds": seconds, "per_person": per_person, "transfer": summary["transfer"],
            "self": summary["self_reenactment"], "widest": widest}  # fmt: skip


TILE = 96
"""Side of a tile of ``compare_widest_mouths``' picture (truth and render alternate, widest frame first)."""


def figure(pictures: Dict[str, Path], out: Path) -> None:
    """Each identity's widest held-out mouth: the truth, then each variant's render, one column a variant."""
    from PIL import Image

    images = {name: np.asarray(Image.open(path)) for name, path in pictures.items() if path.exists()}
    if not images:
        return
    first = next(iter(images.values()))
    columns = [first[:, :TILE]] + [image[:, TILE : 2 * TILE] for image in images.values()]
    header = [label(np.zeros((24, TILE, 3), np.uint8), "truth")]
    header += [label(np.zeros((24, TILE, 3), np.uint8), name[:14]) for name in images]
    body = np.concatenate(columns, axis=1)
    Image.fromarray(np.concatenate([np.concatenate(header, axis=1), body], axis=0)).save(out, quality=90)
    print(f"wrote {out}")


def row(result: Dict) -> Dict[str, float]:
    """The table's numbers of one run."""
    mean = mean_metrics(result["per_person"])
    ratios = [w["gap_ratio"] for w in result["widest"].values() if np.isfinite(w["gap_ratio"])]
    return {
        "seconds": result["seconds"],
        "head_psnr": mean["head_psnr"],
        "mouth_psnr": mean["mouth_psnr"],
        "mouth_gap": mean["mouth_psnr"] - mean["head_psnr"],
        "self_r": result["self"]["lip_gap_r"],
        "transfer_r": result["transfer"]["lip_gap_r"],
        "identity_gap": result["transfer"]["gap"],
        "gap_ratio": float(np.mean(ratios)) if ratios else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--variant", nargs="*", default=[], help="comma-separated name=value sets")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--frames", type=int, default=20, help="held-out frames scored per person")
    parser.add_argument("--cross", nargs="+", default=["cnn", "german", "macron", "trump"])
    parser.add_argument("--pair-frames", type=int, default=8, help="held-out frames per identity in the cross check")
    parser.add_argument("--no-defaults", action="store_true", help="run only the variants, not the method's defaults")
    parser.add_argument("--labels", nargs="*", default=[], help="the figure's column names, one per run variant")
    args = parser.parse_args()
    torch.set_num_threads(2)
    table: Dict[str, List[Dict[str, float]]] = {}
    variants = ([] if args.no_defaults else ["defaults"]) + list(args.variant)
    for seed in args.seeds:
        for variant in variants:
            overrides = [] if variant == "defaults" else variant.split(",")
            name = f"{variant.replace('=', '-').replace(',', '_')}-seed{seed}"
            result = cached(args.out / f"{name}.json", lambda o=overrides, n=name, s=seed: measure(
                args.method, args.data, args.iterations, o, s, args.frames, args.cross, args.pair_frames,
                args.out / n))  # fmt: skip
            table.setdefault(variant, []).append(row(result))
            print(f"{variant} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row(result).items()), flush=True)
    names = {v: f"{v.replace('=', '-').replace(',', '_')}-seed{args.seeds[0]}" for v in variants}
    labels = dict(zip(variants, args.labels))
    pictures = {labels.get(v, v): args.out / n / "mouth_comparison.png" for v, n in names.items()}
    figure(pictures, args.out / "mouth_figure.jpg")
    seeds = len(args.seeds)
    print(f"\n| {args.method}, {args.iterations} it, {seeds} seed(s) | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for variant, rows in table.items():
        cells = []
        for key in COLUMNS:
            values = np.array([r[key] for r in rows])
            cells.append(f"{values.mean():.2f}" + (f" +- {values.std():.2f}" if len(values) > 1 else ""))
        print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
