"""Shared by the benchmarks: a method's config on a dataset, trained with its own optimizers and schedulers, with
held-out evaluations every ``every`` iterations (evaluation time is not counted as training time)."""

from __future__ import annotations

import copy
import time
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

from minerf_ns.config import METHODS


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
        overrides: model config fields as ``name=value`` (tuples as Python literals).
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
    for item in overrides:
        name, value = item.split("=")
        current = getattr(config.pipeline.model, name)
        setattr(config.pipeline.model, name, type(current)(eval(value) if isinstance(current, tuple) else value))
    return config


def train_with_evals(
    config, iterations: int, every: int, device: str = "cpu", seed: int = 0
) -> Iterator[Tuple[int, float, Dict[str, float]]]:
    """Yield (step, training seconds so far, held-out metrics) every ``every`` steps."""
    from nerfstudio.engine.optimizers import Optimizers

    torch.manual_seed(seed)
    np.random.seed(seed)
    pipeline = config.pipeline.setup(device=device, test_mode="val")
    optimizers = Optimizers(config.optimizers, pipeline.get_param_groups())
    train_seconds = 0.0
    for step in range(1, iterations + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        pipeline.train()
        _, loss_dict, _ = pipeline.get_train_loss_dict(step)
        optimizers.zero_grad_all()
        sum(loss_dict.values()).backward()
        optimizers.optimizer_step_all()
        optimizers.scheduler_step_all(step)
        if device == "cuda":
            torch.cuda.synchronize()
        train_seconds += time.perf_counter() - start
        if step % every == 0 or step == iterations:
            pipeline.eval()
            yield step, train_seconds, pipeline.get_average_eval_image_metrics()
