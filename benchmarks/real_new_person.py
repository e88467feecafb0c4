"""A new real person from 3 s of video (issue 27 item 3): a prior of other real people (`--method`: `mi-nerf-fast` or
`mi-gaussians`), personalized on the new person's first 3 s, against a model trained from scratch on the same 3 s at
equal iterations; both scored on the rest of the person's video (frame, head box, mouth box; ``--frames`` held-out
frames evenly spaced).

The root is the real clips tracked at 128 px (``benchmarks/real_people.py`` says how). Each new person's 3 s dataset
is that person's tracked video with the split moved: frames of the first 3 s train, every later frame is held out
(what ``minerf-track --train-seconds 3`` writes; the tracking itself does not depend on the split). Real ns-train and
minerf-personalize runs; a rerun reuses finished ones.

    python benchmarks/real_new_person.py --data /tmp/xs/real --out /tmp/real-new \\
        --prior aoc hill may trump vlogger --new cnn macron bald german [--iterations 500] [--method mi-gaussians]
    python benchmarks/real_new_person.py ... --prior others --new cnn macron bald german   (each left out in turn)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from console_runs import BIN, COMMON, cached, checked, newest_config, schedules  # noqa: E402


def first_seconds(source: Path, target: Path, seconds: float) -> None:
    """``target``: ``source``'s video with the frames of its first ``seconds`` in train and the rest held out."""
    target.mkdir(parents=True, exist_ok=True)
    for child in source.iterdir():
        if not child.name.startswith("transforms_") and not (target / child.name).exists():
            (target / child.name).symlink_to(child.resolve())
    train = json.loads((source / "transforms_train.json").read_text())
    held = json.loads((source / "transforms_val.json").read_text())
    frames = sorted(train["frames"] + held["frames"], key=lambda f: f["img_id"])
    cut = seconds * float(train.get("fps", 25.0))
    (target / "transforms_train.json").write_text(
        json.dumps({**train, "frames": [f for f in frames if f["img_id"] < cut]})
    )
    (target / "transforms_val.json").write_text(
        json.dumps({**held, "frames": [f for f in frames if f["img_id"] >= cut]})
    )


def score(config: Path, frames: int) -> Dict[str, float]:
    """Held-out metrics of the run's (only new) person, ``frames`` frames evenly spaced."""
    from minerf_ns.commands import load_run
    from minerf_ns.evaluation import evaluate_held_out

    _, pipeline, _ = load_run(config, "real_new_person")
    per_person, _ = evaluate_held_out(pipeline, frames)
    return per_person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the real people tracked at 128 px")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prior", nargs="+", required=True,
                        help="the people of the prior; 'others': each new person's prior is everyone else of --data "
                        "(each left out in turn)")  # fmt: skip
    parser.add_argument("--new", nargs="+", required=True, help="the new people (never in the prior)")
    parser.add_argument("--prior-iterations", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=500, help="personalization = scratch iterations")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=20, help="held-out frames scored per person")
    parser.add_argument("--lr", default="2e-3", help="personalization: the network's rate")
    parser.add_argument("--grid-lr", default="2e-2", help="personalization: the tri-planes' rate")
    parser.add_argument("--method", default="mi-nerf-fast", choices=["mi-nerf-fast", "mi-gaussians"])
    args = parser.parse_args()
    from minerf_ns.commands import quiet_warnings

    quiet_warnings()
    everyone = sorted(d.name for d in args.data.iterdir() if (d / "transforms_train.json").is_file())
    priors = {name: [p for p in everyone if p != name] if args.prior == ["others"] else args.prior for name in args.new}
    assert all(name not in prior for name, prior in priors.items()), "a new person must not be in the prior"
    out = args.out.resolve()

    def prior_config(people: List[str]) -> Path:
        """The prior of ``people`` (trained once: every new person with the same prior shares it)."""
        prior_root = out / ("prior" if args.prior != ["others"] else f"prior-{'-'.join(people)}")
        if not list(prior_root.rglob("config.yml")):
            seconds = checked([BIN / "ns-train", args.method, "--data", args.data, "--output-dir", prior_root,
                               "--max-num-iterations", args.prior_iterations, *COMMON,
                               *schedules(args.prior_iterations, args.method), "mi-nerf-data", "--identities",
                               *people])  # fmt: skip
            print(f"prior of {len(people)} people: {args.prior_iterations} iterations, {seconds:.0f} s", flush=True)
        return newest_config(prior_root)

    short = out / "short"
    rows = {}
    for name in args.new:
        first_seconds(args.data / name, short / name, args.seconds)
        prior = prior_config(priors[name])

        def personalized(name=name, prior=prior) -> dict:
            root = out / "personalized" / name
            grids = ["--grid-lr", args.grid_lr] if args.method == "mi-nerf-fast" else []
            seconds = checked([BIN / "minerf-personalize", "--load-config", prior, "--data", short, "--identities",
                               name, "--iterations", args.iterations, "--lr", args.lr, *grids,
                               "--output-dir", root])  # fmt: skip
            return {**score(newest_config(root), args.frames)[name], "wall_seconds": seconds}

        def scratch(name=name) -> dict:
            root = out / "scratch" / name
            seconds = checked([BIN / "ns-train", args.method, "--data", short, "--output-dir", root,
                               "--max-num-iterations", args.iterations, *COMMON,
                               *schedules(args.iterations, args.method), "mi-nerf-data", "--identities",
                               name])  # fmt: skip
            return {**score(newest_config(root), args.frames)[name], "wall_seconds": seconds}

        rows[name] = {
            "prior": cached(out / "results" / f"{name}-prior.json", personalized),
            "scratch": cached(out / "results" / f"{name}-scratch.json", scratch),
        }
        p, s = rows[name]["prior"], rows[name]["scratch"]
        print(f"{name}: prior {p['head_psnr']:.2f} / mouth {p['mouth_psnr']:.2f} dB, scratch {s['head_psnr']:.2f} / "
              f"{s['mouth_psnr']:.2f} dB", flush=True)  # fmt: skip
    print(
        f"\n{args.seconds:g} s of each new person, {args.iterations} iterations each way; prior: "
        f"{', '.join(args.prior)} ({args.prior_iterations} iterations); {args.frames} held-out frames each"
    )
    print("| new person | prior: frame / head box / mouth (dB) | scratch: frame / head box / mouth (dB) | "
          "head box gain | mouth gain |\n|---|---|---|---|---|")  # fmt: skip
    gains = []
    for name, row in rows.items():
        p, s = row["prior"], row["scratch"]
        gains.append((p["head_psnr"] - s["head_psnr"], p["mouth_psnr"] - s["mouth_psnr"]))
        print(f"| {name} | {p['psnr']:.2f} / {p['head_psnr']:.2f} / {p['mouth_psnr']:.2f} | {s['psnr']:.2f} / "
              f"{s['head_psnr']:.2f} / {s['mouth_psnr']:.2f} | {gains[-1][0]:+.2f} | "
              f"{gains[-1][1]:+.2f} |")  # fmt: skip
    mean = np.mean(gains, axis=0)
    print(f"| mean | | | **{mean[0]:+.2f}** | **{mean[1]:+.2f}** |")


if __name__ == "__main__":
    main()
