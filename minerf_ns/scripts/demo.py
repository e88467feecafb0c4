"""``minerf-demo``: synthetic data -> MI-NeRF training on CPU -> held-out comparison, orbit video, held-out PSNR.

Everything lands in one folder (default ``minerf-demo/``): the dataset (``data/``), nerfstudio's run folder
(``outputs/.../config.yml`` and checkpoint, which ns-viewer, ns-eval and ns-render load), ``heldout_comparison.png``,
``orbit.mp4`` with ``orbit_frames.png``, and ``metrics.json``.
"""

from __future__ import annotations

import copy
import json
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Literal

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from minerf_ns.synthetic.dataset_writer import SynthSettings, generate

CONSOLE = Console()


@dataclass
class DemoCommand:
    """Generate a small synthetic multi-identity dataset, train MI-NeRF on it, and show what it learned."""

    out: Path = Path("minerf-demo")
    """Folder for everything the demo writes (must not exist, or be empty)."""
    num_identities: int = 3
    """Identities (one synthetic video each)."""
    num_frames: int = 60
    """Frames per video; the last 10% are held out."""
    image_size: int = 64
    """Frame width and height in pixels."""
    method: Literal["mi-nerf-fast", "mi-nerf-small"] = "mi-nerf-fast"
    """Which variant to train: the tri-plane `mi-nerf-fast` or the paper's MLP at CPU size, `mi-nerf-small`."""
    iterations: int = 600
    """Training iterations (mi-nerf-fast: 1024 rays, about 0.15 s each on 2 CPU cores; mi-nerf-small: 512 rays,
    about 0.35 s each)."""
    orbit_frames: int = 16
    """Frames of the novel-view orbit video."""
    seed: int = 0
    """Seed of the dataset and of training."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks CUDA when it is available."""

    def main(self) -> None:
        """Run the four stages."""
        if self.num_identities < 1 or self.num_frames < 10 or self.image_size < 16 or self.iterations < 1:
            sys.exit(
                "minerf-demo: need --num-identities >= 1, --num-frames >= 10, --image-size >= 16, --iterations >= 1."
            )
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            sys.exit(
                f"minerf-demo: {self.out} already exists and is not empty; pass --out NEW_FOLDER (nothing written)."
            )
        device = "cuda" if self.device == "auto" and torch.cuda.is_available() else self.device
        device = "cpu" if device == "auto" else device
        started = time.perf_counter()
        data = self.out / "data"
        self._generate(data)
        trainer = self._train(data, device)
        pipeline = trainer.pipeline
        pipeline.eval()
        CONSOLE.print("[bold]3/4[/bold] evaluating the held-out frames")
        per_identity, comparison = evaluate_held_out(pipeline)
        write_png(self.out / "heldout_comparison.png", comparison)
        CONSOLE.print("[bold]4/4[/bold] rendering a novel-view orbit of every identity")
        frames = render_orbits(pipeline.model, pipeline.datamanager.eval_dataset, self.orbit_frames)
        write_video(self.out / "orbit.mp4", frames, fps=8)
        write_png(self.out / "orbit_frames.png", np.concatenate(list(frames[:: max(1, len(frames) // 4)]), axis=0))
        config_path = trainer.base_dir / "config.yml"
        summary = {
            "identities": per_identity,
            "mean": {
                k: float(np.mean([m[k] for m in per_identity.values()])) for k in next(iter(per_identity.values()))
            },
            "method": self.method,
            "iterations": self.iterations,
            "seconds": time.perf_counter() - started,
            "config": str(config_path),
        }
        with open(self.out / "metrics.json", "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
        print_summary(summary, self.out)

    def _generate(self, data: Path) -> None:
        settings = SynthSettings(self.num_identities, self.num_frames, self.image_size, self.seed)
        with Progress(
            TextColumn("[bold]1/4[/bold] synthetic data"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            console=CONSOLE,
        ) as progress:  # fmt: skip
            task = progress.add_task("synth", total=self.num_identities * self.num_frames)
            generate(data, settings, with_transfer=False, progress=lambda n: progress.advance(task, n))

    def _train(self, data: Path, device: str):
        from minerf_ns import config as methods

        config = copy.deepcopy(getattr(methods, self.method.replace("-", "_") + "_method").config)
        config.pipeline.datamanager.data = data
        config.output_dir = self.out / "outputs"
        config.experiment_name = "demo"
        config.max_num_iterations = self.iterations
        config.steps_per_save = self.iterations
        config.steps_per_eval_batch = config.steps_per_eval_image = config.steps_per_eval_all_images = 10**9
        for group in config.optimizers.values():
            group["scheduler"].max_steps = self.iterations
        config.vis = "tensorboard"
        config.logging.local_writer.enable = False
        config.machine.device_type = device
        config.machine.seed = self.seed
        config.set_timestamp()
        config.save_config()
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        trainer = config.setup(local_rank=0, world_size=1)
        trainer.setup()
        with Progress(
            TextColumn(f"[bold]2/4[/bold] training {self.method}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TextColumn("loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=CONSOLE,
        ) as progress:  # fmt: skip
            task = progress.add_task("train", total=self.iterations, loss=float("nan"))
            step_once = trainer.train_iteration

            def train_iteration(step: int):
                loss, loss_dict, metrics_dict = step_once(step)
                progress.update(task, advance=1, loss=float(loss.detach()))
                return loss, loss_dict, metrics_dict

            trainer.train_iteration = train_iteration
            trainer.train()
        return trainer


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8."""
    return (image.clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so small renders are visible."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` written in its top-left corner."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def display_factor(size: int) -> int:
    """Enlargement that brings a frame to at least 192 px."""
    return max(1, int(np.ceil(192 / size)))


@torch.no_grad()
def evaluate_held_out(pipeline) -> tuple[Dict[str, Dict[str, float]], np.ndarray]:
    """Metrics of every held-out frame, averaged per identity, and a comparison image (one row per identity:
    ground truth, render, error x4 of its first held-out frame)."""
    model, dataset = pipeline.model, pipeline.datamanager.eval_dataset
    identities = dataset.cameras.metadata["identity_idx"][:, 0]
    sums: Dict[str, Dict[str, List[float]]] = {}
    rows = []
    for idx in range(len(dataset)):
        item = dataset[idx]
        outputs = model.get_outputs_for_camera(dataset.cameras[idx : idx + 1])
        image = item["image"][..., :3].float()
        render = outputs["rgb"].cpu()
        metrics = model.metrics.image_metrics(render, image, item["head_box"])
        name = model.identity_names[int(identities[idx])]
        for key, value in metrics.items():
            sums.setdefault(name, {}).setdefault(key, []).append(value)
        if len(rows) == 0 or int(identities[idx]) != int(identities[idx - 1]):
            factor = display_factor(image.shape[0])
            error = ((render - image).abs() * 4.0).clamp(0, 1)
            captions = (f"{name}: held-out", f"render {metrics['head_psnr']:.1f} dB", "error x4")
            tiles = [label(upscale(to_uint8(t), factor), c) for t, c in zip((image, render, error), captions)]
            rows.append(np.concatenate(tiles, axis=1))
    per_identity = {name: {k: float(np.mean(v)) for k, v in metrics.items()} for name, metrics in sums.items()}
    return per_identity, np.concatenate(rows, axis=0)


@torch.no_grad()
def render_orbits(model, dataset, num_frames: int) -> np.ndarray:
    """[T, H, W * identities, 3] uint8: each identity with its first held-out expression, the camera orbiting."""
    from minerf_ns.conditioned_render import condition_metadata, make_camera, render_rgb
    from minerf_ns.orbit import orbit_poses

    cameras = dataset.cameras
    identities = cameras.metadata["identity_idx"][:, 0]
    columns = []
    with Progress(TextColumn("orbit"), BarColumn(), TextColumn("{task.completed}/{task.total} images"),
                  TimeRemainingColumn(), console=CONSOLE) as progress:  # fmt: skip
        task = progress.add_task("orbit", total=num_frames * len(model.identity_names))
        for identity, name in enumerate(model.identity_names):
            idx = int(torch.nonzero(identities == identity)[0, 0])
            height, width = int(cameras.height[idx]), int(cameras.width[idx])
            condition = condition_metadata(cameras.metadata["expression"][idx], identity)
            images = []
            for pose in orbit_poses(cameras.camera_to_worlds[idx], num_frames):
                intrinsics = (cameras.fx[idx], cameras.fy[idx], cameras.cx[idx], cameras.cy[idx])
                camera = make_camera(pose, *intrinsics, height, width, metadata=condition)
                rgb = to_uint8(render_rgb(model, camera))
                images.append(label(upscale(rgb, display_factor(height)), name))
                progress.advance(task)
            columns.append(np.stack(images))
    return np.concatenate(columns, axis=2)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image."""
    from PIL import Image

    Image.fromarray(image).save(path)


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Write an H.264 mp4 with the ffmpeg that imageio-ffmpeg ships (no system ffmpeg needed)."""
    import imageio_ffmpeg

    height, width = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    writer = imageio_ffmpeg.write_frames(
        str(path), (frames.shape[2], frames.shape[1]), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=8,
        macro_block_size=1,
    )  # fmt: skip
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def print_summary(summary: dict, out: Path) -> None:
    """The per-identity table and what to run next."""
    table = Table(title=f"held-out frames after {summary['iterations']} iterations")
    for column in ("identity", "PSNR", "SSIM", "head PSNR", "head SSIM"):
        table.add_column(column, justify="right")
    rows = list(summary["identities"].items()) + [("mean", summary["mean"])]
    for name, m in rows:
        table.add_row(name, f"{m['psnr']:.2f}", f"{m['ssim']:.3f}", f"{m['head_psnr']:.2f}", f"{m['head_ssim']:.3f}")
    CONSOLE.print(table)
    CONSOLE.print(f"held-out PSNR: {summary['mean']['psnr']:.2f} dB (head box {summary['mean']['head_psnr']:.2f} dB)")
    CONSOLE.print(f"wrote {out / 'heldout_comparison.png'}, {out / 'orbit.mp4'}, {out / 'metrics.json'}")
    CONSOLE.print(f"took {summary['seconds']:.0f} s. Next: ns-viewer --load-config {summary['config']}")


def entrypoint() -> None:
    """Console entry point."""
    warnings.filterwarnings("ignore", message=".*non-tuple sequence for multidimensional indexing.*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")
    warnings.filterwarnings("ignore", message=".*Converting a tensor with requires_grad=True.*")
    tyro.cli(DemoCommand).main()


if __name__ == "__main__":
    entrypoint()
