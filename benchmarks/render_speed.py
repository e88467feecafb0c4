"""Rendering for display, side by side in one run: the dense path (every sample of every ray, as in training) against
the sparse path (occupancy grid, rays that meet no density, colour only where a sample's weight counts), on one
trained `mi-nerf-fast` run. Per frame size: field evaluations (density and colour) and frames/s; on the held-out
frames at their own size: PSNR of both paths.

    python benchmarks/render_speed.py --load-config outputs/.../config.yml [--sizes 128 256 512] [--repeats 3]
        [--chunk 4096] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from minerf_ns.commands import load_run
from minerf_ns.evaluation import evaluate_held_out, mean_metrics


class Counter:
    """Counts the points the field's density decoder and colour head see."""

    def __init__(self, field) -> None:
        self.density = self.colour = 0
        decode, colour = field.decode, field.colour

        def counted_decode(x, term):
            self.density += x.shape[:-1].numel()
            return decode(x, term)

        def counted_colour(features, term):
            self.colour += features.shape[:-1].numel()
            return colour(features, term)

        field.decode, field.colour = counted_decode, counted_colour


def seconds_per_render(model, camera, repeats: int, device: str = "cpu", warm_up: int = 1) -> float:
    """Seconds per ``get_outputs_for_camera`` of one camera, after ``warm_up`` renders (the device synchronised)."""
    for _ in range(warm_up):
        model.get_outputs_for_camera(camera)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        model.get_outputs_for_camera(camera)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def frame_cost(model, camera, repeats: int, device: str) -> tuple[float, int, int]:
    """(seconds per frame, density evaluations, colour evaluations) of one camera, after a warm-up render."""
    counter = Counter(model.geometry.field)
    model.get_outputs_for_camera(camera)
    counter.density = counter.colour = 0
    seconds = seconds_per_render(model, camera, repeats, device, warm_up=0)
    del model.geometry.field.decode, model.geometry.field.colour  # back to the class's methods
    return seconds, counter.density // repeats, counter.colour // repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-config", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=0, help="rays per chunk (0: the model's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    _, pipeline, _ = load_run(args.load_config, "render_speed")
    pipeline.to(args.device)
    model = pipeline.model
    if args.chunk:
        model.config.eval_num_rays_per_chunk = args.chunk
    geometry = model.geometry.config
    print(f"device={args.device} threads={torch.get_num_threads()} chunk={model.config.eval_num_rays_per_chunk} "
          f"samples={geometry.num_proposal_samples}+{geometry.num_samples}", flush=True)  # fmt: skip
    camera = pipeline.datamanager.eval_dataset.cameras[0:1]
    rows = {}
    for sparse in (False, True):
        geometry.skip_empty_space = sparse
        name = "sparse" if sparse else "dense"
        for size in args.sizes:
            scaled = camera.to("cpu")
            scaled.rescale_output_resolution(size / int(camera.height[0]))
            seconds, density, colour = frame_cost(model, scaled, args.repeats, args.device)
            rows[(name, size)] = (seconds, density, colour)
            print(f"{name} {size}x{size}: {1 / seconds:.2f} frames/s ({seconds * 1000:.0f} ms), density evaluations "
                  f"{density:,}, colour evaluations {colour:,}", flush=True)  # fmt: skip
        metrics = mean_metrics(evaluate_held_out(pipeline)[0])
        rows[(name, "psnr")] = metrics
        print(f"{name} held-out: PSNR {metrics['psnr']:.3f} dB, head box {metrics['head_psnr']:.3f} dB", flush=True)
    print(f"occupied cells: {model.geometry.occupancy.occupied_fraction:.3f}")
    print(
        "\n| size | dense frames/s | sparse frames/s | speed-up | dense density+colour evals "
        "| sparse density+colour evals |"
    )
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        d, s = rows[("dense", size)], rows[("sparse", size)]
        print(f"| {size} | {1 / d[0]:.2f} | {1 / s[0]:.2f} | {d[0] / s[0]:.1f}x | {d[1]:,} + {d[2]:,} | "
              f"{s[1]:,} + {s[2]:,} |")  # fmt: skip
    dense, sparse = rows[("dense", "psnr")], rows[("sparse", "psnr")]
    print(f"| held-out PSNR (head box) | {dense['psnr']:.3f} ({dense['head_psnr']:.3f}) | {sparse['psnr']:.3f} "
          f"({sparse['head_psnr']:.3f}) | | | |")  # fmt: skip


if __name__ == "__main__":
    main()
