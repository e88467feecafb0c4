"""Seconds per training iteration of `mi-nerf` and `mi-nerf-small` next to nerfstudio's `vanilla-nerf` at the same rays
and samples, in one run on one machine: the price of the conditioning (interaction module, codes, background sample).

Each pair uses the same datamanager, rays per batch, coarse + fine samples and training step (the trainer's);
vanilla-nerf keeps its own field (8 x 256, skip at 4, 10/4 octaves: the paper's trunk), so for `mi-nerf` the ratio is
the conditioning alone and for `mi-nerf-small` it compares against a wider field.

    python benchmarks/conditioning_cost.py --data DATA [--iterations 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch
import torchmetrics.image.lpip  # noqa: F401 (patched below)
from training_run import method_config, trainer_for

from nerfstudio.models.vanilla_nerf import VanillaModelConfig

# vanilla-nerf builds LPIPS in populate_modules, which downloads AlexNet weights (no internet here); training never
# uses it, so give it an inert stand-in.
torchmetrics.image.lpip.LearnedPerceptualImagePatchSimilarity = lambda **kwargs: torch.nn.Identity()


def seconds_per_iteration(trainer_config, data: str, device: str, iterations: int) -> float:
    """Mean over ``iterations`` after 2 warm-up steps of the trainer's step (forward, backward, guarded Adam step)."""
    config = copy.deepcopy(trainer_config)
    config.pipeline.datamanager.data = data
    trainer = trainer_for(config, iterations + 2, device)
    trainer.pipeline.train()
    for step in range(iterations + 2):
        if step == 2:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        trainer.train_iteration(step)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def vanilla_twin(trainer_config, coarse: int, fine: int):
    """The same trainer config (datamanager, rays, optimizers) with nerfstudio's vanilla-nerf model."""
    vanilla = copy.deepcopy(trainer_config)
    vanilla.pipeline.model = VanillaModelConfig(
        num_coarse_samples=coarse, num_importance_samples=fine, background_color="white"
    )
    return vanilla


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="*", default=["mi-nerf-small", "mi-nerf"])
    parser.add_argument("--rays", type=int, default=0, help="rays per batch for both (0: the method's)")
    parser.add_argument("--set", nargs="*", default=[], help="our model or geometry config overrides, name=value")
    args = parser.parse_args()
    for name in args.methods:
        ours = method_config(name, args.data, args.iterations + 2, args.rays, overrides=args.set)
        geometry = ours.pipeline.model.geometry
        vanilla = vanilla_twin(ours, geometry.num_coarse_samples, geometry.num_importance_samples)
        rays = ours.pipeline.datamanager.train_num_rays_per_batch
        label = f"{name} {' '.join(args.set)}".strip()
        t_ours = seconds_per_iteration(ours, args.data, args.device, args.iterations)
        t_vanilla = seconds_per_iteration(vanilla, args.data, args.device, args.iterations)
        print(
            f"method={label} device={args.device} threads={torch.get_num_threads()} cores={os.cpu_count()} rays={rays} "
            f"samples={geometry.num_coarse_samples}+{geometry.num_importance_samples} ours_s_per_it={t_ours:.3f} "
            f"vanilla_nerf_s_per_it={t_vanilla:.3f} ratio={t_ours / t_vanilla:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
