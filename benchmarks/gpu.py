"""The GPU benchmark of issue 18 in one run (at most about 8 minutes on an H100), printing one table:

1. rendering for display: `mi-nerf-fast` at 512x512, dense against sparse (occupancy grid), ms a frame, held-out PSNR;
2. the paper model (`mi-nerf`): s/iteration and held-out PSNR at equal iterations in float32, TF32 and mixed precision;
3. the NaN: skipped steps and finite weights over a longer paper-model run;
4. the conditioning's cost: `mi-nerf` against nerfstudio's `vanilla-nerf` at the same rays and samples;
5. GPU-sized training: `mi-nerf-fast-gpu` on 10 identities at 512 px, held-out head-box PSNR over training seconds;
6. `mi-gaussians` (gsplat): ms a 512x512 frame through `get_outputs_for_camera`, and the 10 identities at 512 px,
   held-out head-box PSNR over training seconds.

    python benchmarks/gpu.py --work /tmp/gpubench                     (on the GPU machine)
    python benchmarks/gpu.py --work /tmp/gpubench --device cpu --tiny (a dry run of every step, tiny sizes)
    python benchmarks/gpu.py --work /tmp/gpubench --steps 6           (some steps only)
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from conditioning_cost import seconds_per_iteration, vanilla_twin
from render_speed import frame_cost, seconds_per_render
from training_run import method_config, timed_steps, trainer_for

from minerf_ns.config import METHODS
from minerf_ns.evaluation import evaluate_held_out, mean_metrics
from minerf_ns.synthetic.dataset_writer import SynthSettings, generate

SIZES = {  # (identities, frames, pixels) of the two datasets; iteration counts of each step
    "full": dict(small=(4, 60, 256), large=(10, 60, 512), render_it=1500, paper_it=300, nan_it=2000, cost_it=10,
                 render_size=512, gpu_seconds=150.0, gpu_every=1000, splat_seconds=300.0, splat_every=500),
    "tiny": dict(small=(2, 10, 32), large=(2, 10, 48), render_it=20, paper_it=3, nan_it=4, cost_it=2,
                 render_size=64, gpu_seconds=5.0, gpu_every=5, splat_seconds=5.0, splat_every=5),
}  # fmt: skip


def dataset(work: Path, name: str, shape: tuple) -> Path:
    root = work / name
    if not root.exists():
        identities, frames, size = shape
        generate(root, SynthSettings(identities, frames, size, seed=0), with_transfer=False)
    return root


def held_out(pipeline) -> dict:
    pipeline.eval()
    metrics = mean_metrics(evaluate_held_out(pipeline)[0])
    pipeline.train()
    return metrics


def shrink(config, tiny: bool) -> None:
    """Tiny sizes for a CPU dry run."""
    if tiny:
        config.pipeline.datamanager.train_num_rays_per_batch = 64
        config.pipeline.datamanager.pixel_sampler.num_rays_per_batch = 64
        geometry = config.pipeline.model.geometry
        for name in ("num_coarse_samples", "num_importance_samples", "num_proposal_samples", "num_samples"):
            if hasattr(geometry, name):
                setattr(geometry, name, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a dry run of every step (CPU)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6], help="which steps to run")
    args = parser.parse_args()
    s = SIZES["tiny" if args.tiny else "full"]
    device, rows = args.device, []
    started = time.perf_counter()
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}, torch {torch.__version__}", flush=True)
    small = dataset(args.work, "small", s["small"])

    if 1 in args.steps:
        rows += render_for_display(small, s, device, args.tiny)
    if 2 in args.steps or 3 in args.steps:
        rows += paper_model(small, s, device, args.tiny)
    if 4 in args.steps:
        rows += conditioning_cost(small, s, device, args.tiny)
    if 5 in args.steps or 6 in args.steps:
        large = dataset(args.work, "large", s["large"])
        if 5 in args.steps:
            rows += budget_training("mi-nerf-fast-gpu", large, s, device, args.tiny, s["gpu_seconds"], s["gpu_every"],
                                    ">= 30 dB head box within 600 s")  # fmt: skip
        if 6 in args.steps:
            rows += gaussian_render(small, s, device)
            rows += budget_training("mi-gaussians", large, s, device, args.tiny, s["splat_seconds"], s["splat_every"],
                                    ">= 30 dB head box within 600 s")  # fmt: skip

    print(f"\n{name}, {time.perf_counter() - started:.0f} s in all\n")
    print("| measurement | result | target |\n|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")


def render_for_display(small: Path, s: dict, device: str, tiny: bool) -> list:
    """1. mi-nerf-fast at the render size, dense against sparse."""
    rows = []
    config = method_config("mi-nerf-fast", str(small), s["render_it"])
    shrink(config, tiny)
    trainer = trainer_for(config, s["render_it"], device)
    timed_steps(trainer, 0, s["render_it"], device)
    model = trainer.pipeline.model
    model.refresh_occupancy(s["render_it"])
    model.eval()
    camera = trainer.pipeline.datamanager.eval_dataset.cameras[0:1]
    camera.rescale_output_resolution(s["render_size"] / int(camera.height[0]))
    for sparse in (False, True):
        model.geometry.config.skip_empty_space = sparse
        seconds, density, colour = frame_cost(model, camera, 5, device)
        psnr = held_out(trainer.pipeline)
        rows.append((f"1. render {s['render_size']}px mi-nerf-fast, {'sparse' if sparse else 'dense'}",
                     f"{seconds * 1000:.1f} ms ({1 / seconds:.1f} frames/s), {density + colour:,} evaluations, "
                     f"held-out {psnr['psnr']:.2f} dB", "<= 33 ms, PSNR within 0.2 dB"))  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def paper_model(small: Path, s: dict, device: str, tiny: bool) -> list:
    """2. + 3. The paper model: float32, TF32, mixed precision at equal iterations; then a longer run for the NaN."""
    rows = []
    for mode in ("float32", "tf32", "mixed precision"):
        config = method_config("mi-nerf", str(small), s["paper_it"])
        shrink(config, tiny)
        config.pipeline.model.allow_tf32 = mode != "float32"
        config.mixed_precision = mode == "mixed precision"
        trainer = trainer_for(config, s["paper_it"], device)
        torch.backends.cuda.matmul.allow_tf32 = mode != "float32"
        seconds = timed_steps(trainer, 0, s["paper_it"], device) / s["paper_it"]
        psnr = held_out(trainer.pipeline)
        rows.append((f"2. mi-nerf {mode}, {s['paper_it']} it", f"{seconds:.4f} s/it, held-out head box "
                     f"{psnr['head_psnr']:.2f} dB, skipped steps {trainer.skipped_steps}",
                     "<= 0.04 s/it, within 0.2 dB of float32"))  # fmt: skip
        print(rows[-1], flush=True)
    config = method_config("mi-nerf", str(small), s["nan_it"])
    shrink(config, tiny)
    trainer = trainer_for(config, s["nan_it"], device)
    seconds = timed_steps(trainer, 0, s["nan_it"], device)
    finite = all(bool(torch.isfinite(p).all()) for p in trainer.pipeline.model.parameters())
    rows.append((f"3. mi-nerf (TF32) {s['nan_it']} it", f"skipped steps {trainer.skipped_steps}, weights finite: "
                 f"{finite}, {seconds:.0f} s", "0 skipped, finite (NaN within 2,000 it before)"))  # fmt: skip
    print(rows[-1], flush=True)
    return rows


def conditioning_cost(small: Path, s: dict, device: str, tiny: bool) -> list:
    """4. The conditioning's cost against vanilla-nerf."""
    ours = copy.deepcopy(METHODS["mi-nerf"].config)
    shrink(ours, tiny)
    geometry = ours.pipeline.model.geometry
    vanilla = vanilla_twin(ours, geometry.num_coarse_samples, geometry.num_importance_samples)
    t_ours = seconds_per_iteration(ours, str(small), device, s["cost_it"])
    t_vanilla = seconds_per_iteration(vanilla, str(small), device, s["cost_it"])
    row = ("4. mi-nerf / vanilla-nerf per iteration", f"{t_ours:.4f} / {t_vanilla:.4f} s = {t_ours / t_vanilla:.2f}x",
           "<= 1.10x")  # fmt: skip
    print(row, flush=True)
    return [row]


def budget_training(
    method: str, large: Path, s: dict, device: str, tiny: bool, budget: float, every: int, target: str
) -> list:
    """5. / 6. GPU-sized training on 10 identities at 512 px within a time budget: held-out head box over seconds."""
    iterations = METHODS[method].config.max_num_iterations
    config = method_config(method, str(large), iterations)
    shrink(config, tiny)
    trainer = trainer_for(config, iterations, device)
    train_seconds, step, curve = 0.0, 0, []
    while train_seconds < budget and step < iterations:
        train_seconds += timed_steps(trainer, step, every, device)
        step += every
        trainer.pipeline.model.refresh_occupancy(step)
        curve.append(f"{train_seconds:.0f} s: {held_out(trainer.pipeline)['head_psnr']:.2f} dB")
        print(f"{method} step {step}: {curve[-1]}", flush=True)
    shown = curve[:: max(1, len(curve) // 5)] + ([curve[-1]] if (len(curve) - 1) % max(1, len(curve) // 5) else [])
    number = "5" if method != "mi-gaussians" else "6b"
    return [(f"{number}. {method}, {s['large'][0]} ids x {s['large'][2]} px, {step} it", "; ".join(shown), target)]


def gaussian_render(small: Path, s: dict, device: str) -> list:
    """6a. mi-gaussians: one frame at the render size through get_outputs_for_camera (gsplat on CUDA)."""
    config = method_config("mi-gaussians", str(small), s["render_it"])
    trainer = trainer_for(config, s["render_it"], device)
    timed_steps(trainer, 0, s["render_it"], device)
    model = trainer.pipeline.model
    model.eval()
    camera = trainer.pipeline.datamanager.eval_dataset.cameras[0:1]
    camera.rescale_output_resolution(s["render_size"] / int(camera.height[0]))
    seconds = seconds_per_render(model, camera, 50, device, warm_up=3)  # gsplat's first call loads its kernels
    psnr = held_out(trainer.pipeline)
    row = (f"6a. render {s['render_size']}px mi-gaussians", f"{seconds * 1000:.2f} ms ({1 / seconds:.0f} frames/s), "
           f"held-out head box {psnr['head_psnr']:.2f} dB", ">= 300 frames/s")  # fmt: skip
    print(row, flush=True)
    return [row]


if __name__ == "__main__":
    main()
