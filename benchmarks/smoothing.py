"""Temporal smoothing against tracker jitter (issue 19, item 3): one model trained with the smoothing switched on half
way, one without, on synthetic data whose tracked expressions carry noise (``minerf-synth --expression-noise``) while
the images show the true ones; each video's held-out frames (a contiguous sequence) rendered from the noisy tracks and
compared with the true images: head-box PSNR, and jitter = mean |frame t - frame t-1| inside the head box, of the
renders and of the ground truth, and the temporal error = mean |(render t - render t-1) - (truth t - truth t-1)|.

    python benchmarks/smoothing.py --data DATA [--iterations 1500] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from training_run import method_config, trainer_for

from minerf_ns.commands import quiet_warnings
from minerf_ns.contract import HEAD_BOX, IDENTITY
from minerf_ns.training import iteration_with_callbacks


def train(data: str, method: str, iterations: int, smoothing_after: float, seed: int):
    config = method_config(method, data, iterations, overrides=[f"smoothing_after={smoothing_after}"])
    trainer = trainer_for(config, iterations, seed=seed)
    trainer.pipeline.train()
    for step in range(iterations):
        iteration_with_callbacks(trainer, step)
    trainer.pipeline.eval()
    return trainer.pipeline


@torch.no_grad()
def scores(pipeline) -> dict:
    """Head-box PSNR, render and truth jitter, temporal error over every video's held-out sequence."""
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    identities = dataset.cameras.metadata[IDENTITY][:, 0]
    psnrs, jitter, truth_jitter, temporal = [], [], [], []
    previous = None
    for idx in range(len(dataset)):
        item = dataset[idx]
        truth = item["image"][..., :3].float()
        render = model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])["rgb"].clamp(0, 1).cpu()
        box = item[HEAD_BOX][..., 0]
        psnrs.append(float(-10 * torch.log10(((render[box] - truth[box]) ** 2).mean())))
        if previous is not None and int(identities[idx]) == previous[0]:
            _, last_render, last_truth, last_box = previous
            both = box & last_box
            d_render, d_truth = render[both] - last_render[both], truth[both] - last_truth[both]
            jitter.append(float(d_render.abs().mean()))
            truth_jitter.append(float(d_truth.abs().mean()))
            temporal.append(float((d_render - d_truth).abs().mean()))
        previous = (int(identities[idx]), render, truth, box)
    return {"psnr": np.mean(psnrs), "jitter": np.mean(jitter), "truth": np.mean(truth_jitter),
            "temporal": np.mean(temporal)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="minerf-synth data made with --expression-noise")
    parser.add_argument("--method", default="mi-nerf-fast")
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    quiet_warnings()
    rows = []
    for seed in args.seeds:
        for label, after in (("off", 1.0), ("on after half", 0.5)):
            result = scores(train(args.data, args.method, args.iterations, after, seed))
            rows.append((label, seed, result))
            print(f"{label} seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()), flush=True)
    print()
    print("| smoothing | seed | held-out head PSNR | render jitter | truth jitter | temporal error |")
    print("|---|---|---|---|---|---|")
    for label, seed, r in rows:
        print(f"| {label} | {seed} | {r['psnr']:.2f} | {r['jitter']:.4f} | {r['truth']:.4f} | {r['temporal']:.4f} |")


if __name__ == "__main__":
    main()
