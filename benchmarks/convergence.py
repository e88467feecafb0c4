"""Held-out PSNR against training iterations (and seconds) for a method on a synthetic dataset, for choosing the demo's
budget and comparing settings. Uses the method's own optimizers and schedulers, scaled to ``--iterations``.
Prints one line per evaluation.

    python benchmarks/convergence.py --data DATA --method mi-nerf-fast --iterations 1200 --every 200 \
        [--lr-scale 2] [--set num_samples=48]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--iterations", type=int, default=1200)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--method", default="mi-nerf-small", choices=["mi-nerf-small", "mi-nerf-fast", "mi-nerf"])
    parser.add_argument("--rays", type=int, default=0, help="rays per batch (0: the method's)")
    parser.add_argument("--lr-scale", type=float, default=1.0, help="multiply every group's learning rate")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--near-margin", type=float, default=None, help="override the dataparser's near margin")
    parser.add_argument("--set", nargs="*", default=[], help="model config overrides, name=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from minerf_ns import config as methods
    from nerfstudio.engine.optimizers import Optimizers

    torch.manual_seed(0)
    np.random.seed(0)
    config = copy.deepcopy(getattr(methods, args.method.replace("-", "_") + "_method").config)
    if args.rays:
        config.pipeline.datamanager.train_num_rays_per_batch = args.rays
        config.pipeline.datamanager.pixel_sampler.num_rays_per_batch = args.rays
    for group in config.optimizers.values():
        group["optimizer"].lr *= args.lr_scale
        group["scheduler"].lr_final *= args.lr_scale
        group["scheduler"].max_steps = args.iterations
    config.pipeline.datamanager.data = args.data
    if args.near_margin is not None:
        config.pipeline.datamanager.dataparser.near_margin = args.near_margin
    for item in args.set:
        name, value = item.split("=")
        current = getattr(config.pipeline.model, name)
        setattr(config.pipeline.model, name, type(current)(eval(value) if isinstance(current, tuple) else value))
    pipeline = config.pipeline.setup(device="cpu", test_mode="val")
    optimizers = Optimizers(config.optimizers, pipeline.get_param_groups())
    train_seconds = 0.0
    for step in range(1, args.iterations + 1):
        start = time.perf_counter()
        pipeline.train()
        _, loss_dict, _ = pipeline.get_train_loss_dict(step)
        optimizers.zero_grad_all()
        sum(loss_dict.values()).backward()
        optimizers.optimizer_step_all()
        optimizers.scheduler_step_all(step)
        train_seconds += time.perf_counter() - start
        if step % args.every == 0:
            pipeline.eval()
            m = pipeline.get_average_eval_image_metrics()
            seconds = train_seconds
            print(
                f"step {step} s {seconds:.0f} psnr {m['psnr']:.2f} head_psnr {m['head_psnr']:.2f} "
                f"head_ssim {m['head_ssim']:.3f} method {args.method} lr-scale {args.lr_scale} set {' '.join(args.set)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
