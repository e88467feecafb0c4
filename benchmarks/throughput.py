"""Training throughput and render speed of each MI-NeRF variant next to nerfstudio's `vanilla-nerf` at the same rays
and samples, in one run on one machine (ratios printed), plus peak memory (RSS) of the process.

Training: forward + backward + Adam step, mean over ``--iterations`` after 2 warm-up steps (conditioning_cost.py).
Rendering: one full frame at each size through ``get_outputs_for_camera`` (the path of ns-render and the viewer).

    python benchmarks/throughput.py --data DATA [--methods mi-nerf-fast mi-nerf-small] [--sizes 128 256 512]
"""

from __future__ import annotations

import argparse
import copy
import resource
import time

import torch
from conditioning_cost import seconds_per_iteration, vanilla_twin

from minerf_ns.config import METHODS


@torch.no_grad()
def render_seconds(pipeline_config, data: str, size: int, device: str) -> float:
    """Seconds to render one ``size`` x ``size`` frame of the first held-out camera (after one warm-up render)."""
    config = copy.deepcopy(pipeline_config)
    config.datamanager.data = data
    pipeline = config.setup(device=device, test_mode="val")
    pipeline.eval()
    camera = pipeline.datamanager.eval_dataset.cameras[0:1]
    camera.rescale_output_resolution(size / int(camera.height[0]))
    camera = camera.to(device)
    pipeline.model.get_outputs_for_camera(camera)
    start = time.perf_counter()
    pipeline.model.get_outputs_for_camera(camera)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--methods", nargs="*", default=["mi-nerf-fast", "mi-nerf-small"])
    parser.add_argument("--sizes", type=int, nargs="*", default=[128, 256])
    parser.add_argument("--vanilla-render", action="store_true", help="also time vanilla-nerf renders (slow on CPU)")
    args = parser.parse_args()
    for name in args.methods:
        ours = METHODS[name].config
        geometry = ours.pipeline.model.geometry
        coarse = getattr(geometry, "num_proposal_samples", getattr(geometry, "num_coarse_samples", 0))
        fine = getattr(geometry, "num_samples", getattr(geometry, "num_importance_samples", 0))
        vanilla = vanilla_twin(ours, coarse, fine)
        rays = ours.pipeline.datamanager.train_num_rays_per_batch
        t_ours = seconds_per_iteration(ours, args.data, args.device, args.iterations)
        t_vanilla = seconds_per_iteration(vanilla, args.data, args.device, args.iterations)
        print(f"train {name}: rays={rays} samples={coarse}+{fine} s/it={t_ours:.3f} rays/s={rays / t_ours:.0f} "
              f"vanilla-nerf s/it={t_vanilla:.3f} ratio={t_ours / t_vanilla:.3f}", flush=True)  # fmt: skip
        for size in args.sizes:
            r_ours = render_seconds(ours.pipeline, args.data, size, args.device)
            line = f"render {name} {size}x{size}: {1 / r_ours:.3f} frames/s ({r_ours:.2f} s)"
            if args.vanilla_render:
                r_vanilla = render_seconds(vanilla.pipeline, args.data, size, args.device)
                line += f"; vanilla-nerf {1 / r_vanilla:.3f} frames/s; speed ratio {r_vanilla / r_ours:.2f}"
            print(line, flush=True)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
