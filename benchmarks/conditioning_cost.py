"""Seconds per training iteration of `mi-nerf` and `mi-nerf-small` next to nerfstudio's `vanilla-nerf` at the same rays
and samples, in one run on one machine: the price of the conditioning (interaction module, codes, background sample).

Each pair uses the same datamanager, rays per batch and coarse + fine samples; vanilla-nerf keeps its own field
(8 x 256, skip at 4, 10/4 octaves: the paper's trunk), so for `mi-nerf` the ratio is the conditioning alone and for
`mi-nerf-small` it compares against a wider field.

    python benchmarks/conditioning_cost.py --data DATA [--iterations 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch
import torchmetrics.image.lpip  # noqa: F401 (patched below)

from minerf_ns.config import METHODS
from nerfstudio.models.vanilla_nerf import VanillaModelConfig

# vanilla-nerf builds LPIPS in populate_modules, which downloads AlexNet weights (no internet here); training never
# uses it, so give it an inert stand-in.
torchmetrics.image.lpip.LearnedPerceptualImagePatchSimilarity = lambda **kwargs: torch.nn.Identity()


def seconds_per_iteration(pipeline_config, data: str, device: str, iterations: int) -> float:
    """Mean over ``iterations`` after 2 warm-up steps of forward, backward and Adam step."""
    config = copy.deepcopy(pipeline_config)
    config.datamanager.data = data
    pipeline = config.setup(device=device, test_mode="val")
    pipeline.train()
    optimizer = torch.optim.Adam([p for p in pipeline.model.parameters() if p.requires_grad], lr=5e-4)
    for step in range(iterations + 2):
        if step == 2:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        _, loss_dict, _ = pipeline.get_train_loss_dict(step)
        optimizer.zero_grad()
        sum(loss_dict.values()).backward()
        optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="*", default=["mi-nerf-small", "mi-nerf"])
    args = parser.parse_args()
    for name in args.methods:
        ours = METHODS[name].config.pipeline
        model = ours.model
        vanilla = copy.deepcopy(ours)
        vanilla.model = VanillaModelConfig(
            num_coarse_samples=model.num_coarse_samples,
            num_importance_samples=model.num_importance_samples,
            background_color="white",
        )
        rays = ours.datamanager.train_num_rays_per_batch
        t_ours = seconds_per_iteration(ours, args.data, args.device, args.iterations)
        t_vanilla = seconds_per_iteration(vanilla, args.data, args.device, args.iterations)
        print(
            f"method={name} device={args.device} threads={torch.get_num_threads()} cores={os.cpu_count()} rays={rays} "
            f"samples={model.num_coarse_samples}+{model.num_importance_samples} ours_s_per_it={t_ours:.3f} "
            f"vanilla_nerf_s_per_it={t_vanilla:.3f} ratio={t_ours / t_vanilla:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
