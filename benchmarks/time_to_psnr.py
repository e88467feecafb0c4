"""Side by side on one dataset: the held-out PSNR that `mi-nerf-small` reaches in the demo's budget, and how much
sooner `mi-nerf-fast` reaches it (issue target: at least 10x). Training seconds only; evaluations are not counted.

    python benchmarks/time_to_psnr.py --data DATA [--small-iterations 600] [--fast-iterations 600] [--every 10]
"""

from __future__ import annotations

import argparse

from training_run import method_config, train_with_evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--small-iterations", type=int, default=600, help="the demo's budget for mi-nerf-small")
    parser.add_argument("--fast-iterations", type=int, default=600, help="schedule length of mi-nerf-fast")
    parser.add_argument("--every", type=int, default=10, help="evaluate mi-nerf-fast every this many iterations")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    small = method_config("mi-nerf-small", args.data, args.small_iterations)
    *_, (step, small_seconds, metrics) = train_with_evals(small, args.small_iterations, args.small_iterations,
                                                          args.device)  # fmt: skip
    target = metrics["head_psnr"]
    print(f"mi-nerf-small: {step} it, {small_seconds:.1f} s -> held-out head PSNR {target:.2f} dB", flush=True)

    fast = method_config("mi-nerf-fast", args.data, args.fast_iterations)
    for step, seconds, metrics in train_with_evals(fast, args.fast_iterations, args.every, args.device):
        print(f"mi-nerf-fast: {step} it, {seconds:.1f} s -> {metrics['head_psnr']:.2f} dB", flush=True)
        if metrics["head_psnr"] >= target:
            print(
                f"mi-nerf-fast reached {target:.2f} dB in {seconds:.1f} s ({step} it): "
                f"{small_seconds / seconds:.1f}x sooner than mi-nerf-small ({small_seconds:.1f} s)"
            )
            return
    print(f"mi-nerf-fast did not reach {target:.2f} dB in {args.fast_iterations} iterations")


if __name__ == "__main__":
    main()
