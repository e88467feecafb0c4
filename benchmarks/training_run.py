"""Shared by the benchmarks: a method's config on a dataset, trained through the one training step (the trainer's
``train_iteration`` with its own optimizers, schedules and guard), with held-out evaluations every ``every``
iterations (evaluation time is not counted as training time)."""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch

from minerf_ns.config import METHODS
from minerf_ns.training import configure_run, iteration_with_callbacks, start_trainer


def method_config(
    method: str,
    data: str,
    iterations: int,
    rays: int = 0,
    lr_scale: float = 1.0,
    overrides: Sequence[str] = (),
    near_margin: Optional[float] = None,
):
    """The registered trainer config of ``method`` with its schedules scaled to ``iterations``.

    Args:
        overrides: model, geometry, ray sampler or datamanager config fields as ``name=value`` (tuples as Python
            literals).
    """
    config = copy.deepcopy(METHODS[method].config)
    config.pipeline.datamanager.data = data
    if rays:
        config.pipeline.datamanager.train_num_rays_per_batch = rays
        config.pipeline.datamanager.pixel_sampler.num_rays_per_batch = rays
    for group in config.optimizers.values():
        group["optimizer"].lr *= lr_scale
        group["scheduler"].lr_final *= lr_scale
        group["scheduler"].max_steps = iterations
    if near_margin is not None:
        config.pipeline.datamanager.dataparser.near_margin = near_margin
    model, datamanager = config.pipeline.model, config.pipeline.datamanager
    for item in overrides:
        name, value = item.split("=")
        # A field of the geometry, the model, the ray sampler or the datamanager: every one that has it (the ray and
        # the whole-image datamanagers both carry the mouth's share).
        targets = [t for t in (model.geometry, model, datamanager.pixel_sampler, datamanager) if hasattr(t, name)]
        if not targets:
            raise SystemExit(f"override {item}: no config field {name!r}. Fix: name a model, geometry or sampler field")
        for target in targets:
            current = getattr(target, name)
            if isinstance(current, bool):  # bool("False") would be True
                parsed = {"true": True, "false": False}[value.lower()]
            else:
                parsed = type(current)(eval(value) if isinstance(current, tuple) else value)
            setattr(target, name, parsed)
    return config


def trainer_for(
    config,
    iterations: int,
    device: str = "cpu",
    seed: int = 0,
    out: Optional[Path] = None,
    before_training: Optional[Callable] = None,
):
    """The set-up trainer of ``config`` for ``iterations`` (schedules, seeds; logs in ``out`` or a temporary folder),
    after ``before_training(trainer)`` (e.g. personalization's copy of a trained model)."""
    configure_run(config, out or Path(tempfile.mkdtemp(prefix="minerf-bench-")), "benchmark", iterations, device, seed)
    trainer = start_trainer(config)
    if before_training is not None:
        before_training(trainer)
    return trainer


def timed_training(trainer, iterations: int, first: int = 1) -> float:
    """Train ``iterations`` steps through the one training step (callbacks included); the seconds they took."""
    seconds = 0.0
    for step in range(first, first + iterations):
        start = time.perf_counter()
        trainer.pipeline.train()
        iteration_with_callbacks(trainer, step)
        seconds += time.perf_counter() - start
    return seconds


def train_with_evals(
    config, iterations: int, every: int, device: str = "cpu", seed: int = 0, before_training: Optional[Callable] = None
) -> Iterator[Tuple[int, float, Dict[str, float]]]:
    """Yield (step, training seconds so far, held-out metrics) every ``every`` steps and after the last."""
    trainer = trainer_for(config, iterations, device, seed, before_training=before_training)
    pipeline = trainer.pipeline
    train_seconds = 0.0
    for step in range(1, iterations + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        pipeline.train()
        iteration_with_callbacks(trainer, step)
        if device == "cuda":
            torch.cuda.synchronize()
        train_seconds += time.perf_counter() - start
        if step % every == 0 or step == iterations:
            pipeline.eval()
            yield step, train_seconds, pipeline.get_average_eval_image_metrics()


def timed_steps(trainer, first: int, count: int, device: str = "cpu") -> float:
    """Seconds for ``count`` training steps of ``trainer`` starting at step ``first`` (the device synchronised)."""
    trainer.pipeline.train()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for step in range(first, first + count):
        trainer.train_iteration(step)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start
