"""Real people at scale (issue 27 item 1): one `mi-nerf-fast` model of every real person of a tracked root, against
one model per person at the same total number of iterations (the paper's Fig. 4 claim, on real footage); held-out
PSNR/SSIM per person on the frame, the head box and the mouth box (``minerf_ns/face/mouth.py``).

The root comes from ``minerf-track`` (the real clips of ``../shared/data``, never copied into the project), e.g.:

    minerf-track ../shared/data/real-clips/... --names cnn trump may hill aoc bald german macron vlogger \
        --size 128 --crop face --output /tmp/xs/real --no-overlay
    python benchmarks/real_people.py --data /tmp/xs/real --out /tmp/real-people [--iterations 2000]
    python benchmarks/real_people.py ... --no-separate --override "plane_resolutions=(64, 128, 256)"   # a variant

Prints a markdown table; keeps each model's numbers in ``--out`` (a rerun reuses them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, Sequence

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import cached  # noqa: E402
from training_run import method_config, timed_training, trainer_for  # noqa: E402

from dataparsers.dataset_scan import read_dataset  # noqa: E402
from minerf_ns.evaluation import evaluate_held_out, mean_metrics  # noqa: E402

KEYS = ("psnr", "head_psnr", "mouth_psnr", "ssim", "head_ssim", "mouth_ssim")


def train_and_score(
    data: Path, names: Sequence[str], iterations: int, seed: int, frames: int, out: Path, overrides: Sequence[str] = ()
) -> Dict[str, Dict[str, float]]:
    """Train one `mi-nerf-fast` model of ``names`` for ``iterations`` and score each person's held-out frames."""
    config = method_config("mi-nerf-fast", str(data), iterations, overrides=overrides)
    config.pipeline.datamanager.dataparser.identities = tuple(names)
    trainer = trainer_for(config, iterations, seed=seed, out=out / "runs")
    seconds = timed_training(trainer, iterations)
    trainer.pipeline.eval()
    start = time.perf_counter()
    per_person, _ = evaluate_held_out(trainer.pipeline, frames)
    print(f"{'+'.join(names) if len(names) < 3 else f'{len(names)} people'}: {iterations} it, {seconds:.0f} s "
          f"training, {time.perf_counter() - start:.0f} s scoring", flush=True)  # fmt: skip
    for metrics in per_person.values():
        metrics["train_seconds"] = seconds
    return per_person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a tracked root, one folder per real person")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--iterations", type=int, default=2000, help="the joint model's; split evenly for singles")
    parser.add_argument("--frames", type=int, default=20, help="held-out frames scored per person, evenly spaced")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-separate", action="store_true", help="only the joint model")
    parser.add_argument("--override", nargs="*", default=[], help="model or geometry fields, name=value (a variant)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = [video.name for video in read_dataset(args.data)]
    tag = f"it{args.iterations}_f{args.frames}_s{args.seed}" + "".join(f"_{o.replace(' ', '')}" for o in args.override)
    joint = cached(
        args.out / f"joint_{tag}.json",
        lambda: train_and_score(args.data, names, args.iterations, args.seed, args.frames, args.out, args.override),
    )
    separate: Dict[str, Dict[str, float]] = {}
    if not args.no_separate:
        each = max(1, args.iterations // len(names))
        for name in names:
            separate.update(cached(args.out / f"single_{name}_{tag}.json", lambda n=name: train_and_score(
                args.data, [n], each, args.seed, args.frames, args.out, args.override)))  # fmt: skip
    print(
        f"\nheld-out PSNR (dB) frame / head box / mouth box; SSIM frame / head / mouth; {args.frames} frames a "
        f"person; one model of {len(names)} people, {args.iterations} iterations"
        + ("" if args.no_separate else f", against one model each at {args.iterations // len(names)} iterations")
    )
    print(
        "\n| person | frames (train / held out) | joint PSNR | joint SSIM |"
        + ("" if args.no_separate else " separate PSNR | separate SSIM |")
    )
    print("|---|---|---|---|" + ("" if args.no_separate else "---|---|"))
    counts = {v.name: (int((~v.held_out).sum()), int(v.held_out.sum())) for v in read_dataset(args.data)}

    def cells(m: Dict[str, float]) -> str:
        return (f"{m['psnr']:.2f} / {m['head_psnr']:.2f} / {m['mouth_psnr']:.2f} | "
                f"{m['ssim']:.3f} / {m['head_ssim']:.3f} / {m['mouth_ssim']:.3f}")  # fmt: skip

    for name in names + ["mean"]:
        row_joint = mean_metrics(joint) if name == "mean" else joint[name]
        count = "" if name == "mean" else f"{counts[name][0]} / {counts[name][1]}"
        row = f"| {name} | {count} | {cells(row_joint)} |"
        if not args.no_separate:
            row += f" {cells(mean_metrics(separate) if name == 'mean' else separate[name])} |"
        print(row)
    seconds = next(iter(joint.values()))["train_seconds"]
    total = sum(m["train_seconds"] for m in separate.values())
    print(f"\ntraining seconds: joint {seconds:.0f}" + ("" if args.no_separate else f", separate {total:.0f} in all"))


if __name__ == "__main__":
    main()
