"""Run nerfstudio's real Trainer from a config with a rich progress bar (the demo and minerf-personalize use it)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def configure_run(config, output_dir: Path, experiment_name: str, iterations: int, device: str, seed: int) -> None:
    """Set a trainer config up for a scripted run, in place: ``iterations`` with one checkpoint at the end, schedules
    over the run, no periodic evaluation, TensorBoard only, a fresh timestamp; seed Python, numpy and torch."""
    config.output_dir = output_dir
    config.experiment_name = experiment_name
    config.max_num_iterations = iterations
    config.steps_per_save = iterations
    config.steps_per_eval_batch = config.steps_per_eval_image = config.steps_per_eval_all_images = 10**9
    for group in config.optimizers.values():
        group["scheduler"].max_steps = iterations
    config.vis = "tensorboard"
    config.logging.local_writer.enable = False
    config.machine.device_type = device
    config.machine.seed = seed
    config.set_timestamp()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_with_progress(config, caption: str, console: Console, before_training: Optional[Callable] = None):
    """Save ``config``, set up its Trainer, call ``before_training(trainer)``, train with a progress bar.

    Returns:
        the trained Trainer (its pipeline, and ``base_dir`` holding config.yml and nerfstudio_models/).
    """
    config.save_config()
    trainer = config.setup(local_rank=0, world_size=1)
    trainer.setup()
    if before_training is not None:
        before_training(trainer)
    with Progress(
        TextColumn(caption), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("train", total=config.max_num_iterations, loss=float("nan"))
        step_once = trainer.train_iteration

        def train_iteration(step: int):
            loss, loss_dict, metrics_dict = step_once(step)
            progress.update(task, advance=1, loss=float(loss.detach()))
            return loss, loss_dict, metrics_dict

        trainer.train_iteration = train_iteration
        trainer.train()
    return trainer
