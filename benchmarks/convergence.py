"""Held-out PSNR against training iterations for `mi-nerf-small` on a synthetic dataset (CPU), for choosing the demo's
budget and comparing settings. Prints one line per evaluation.

    python benchmarks/convergence.py --data DATA --iterations 1200 --every 200 [--lr 5e-4] [--set position_scale=4]
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
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--near-margin", type=float, default=None, help="override the dataparser's near margin")
    parser.add_argument("--set", nargs="*", default=[], help="model config overrides, name=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from minerf_ns.config import mi_nerf_small_method

    torch.manual_seed(0)
    np.random.seed(0)
    config = copy.deepcopy(mi_nerf_small_method.config)
    config.pipeline.datamanager.data = args.data
    if args.near_margin is not None:
        config.pipeline.datamanager.dataparser.near_margin = args.near_margin
    for item in args.set:
        name, value = item.split("=")
        setattr(config.pipeline.model, name, type(getattr(config.pipeline.model, name))(value))
    pipeline = config.pipeline.setup(device="cpu", test_mode="val")
    optimizer = torch.optim.Adam(pipeline.model.get_param_groups()["fields"], lr=args.lr)
    gamma = (0.1) ** (1.0 / args.iterations)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    start = time.perf_counter()
    for step in range(1, args.iterations + 1):
        pipeline.train()
        _, loss_dict, _ = pipeline.get_train_loss_dict(step)
        optimizer.zero_grad()
        sum(loss_dict.values()).backward()
        optimizer.step()
        scheduler.step()
        if step % args.every == 0:
            pipeline.eval()
            m = pipeline.get_average_eval_image_metrics()
            seconds = time.perf_counter() - start
            print(
                f"step {step} s {seconds:.0f} psnr {m['psnr']:.2f} head_psnr {m['head_psnr']:.2f} "
                f"head_ssim {m['head_ssim']:.3f} lr {args.lr} set {' '.join(args.set)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
