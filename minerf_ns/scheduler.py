"""Exponential learning-rate decay (paper: 5e-4 to 5e-5) whose checkpoints load with torch's ``weights_only``.

nerfstudio's ``ExponentialDecayScheduler`` returns numpy scalars, which end up in the saved scheduler state and make
``torch.load(weights_only=True)`` (torch >= 2.6, used by ``ns-eval``/``ns-render``/``--load-dir``) refuse the
checkpoint. This one computes the same curve with plain Python floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Type

import tyro
from torch.optim import Optimizer, lr_scheduler

from nerfstudio.engine.schedulers import ExponentialDecayScheduler, ExponentialDecaySchedulerConfig


@dataclass
class FloatExponentialDecaySchedulerConfig(ExponentialDecaySchedulerConfig):
    """Exponential decay from the optimizer's lr to ``lr_final`` over ``max_steps`` (no warmup)."""

    _target: Type = field(default_factory=lambda: FloatExponentialDecayScheduler)
    # The paper's schedule has no warm-up; nerfstudio's warm-up options are kept off the command line.
    lr_pre_warmup: tyro.conf.Suppress[float] = 1e-8
    """Not an option: no warm-up."""
    warmup_steps: tyro.conf.Suppress[int] = 0
    """Not an option: no warm-up."""
    ramp: tyro.conf.Suppress[Literal["linear", "cosine"]] = "cosine"
    """Not an option: no warm-up."""


class FloatExponentialDecayScheduler(ExponentialDecayScheduler):
    """``lr(t) = lr_init^(1 - t) * lr_final^t``, t = step / max_steps, as Python floats."""

    config: FloatExponentialDecaySchedulerConfig

    def get_scheduler(self, optimizer: Optimizer, lr_init: float) -> lr_scheduler.LRScheduler:
        lr_final = self.config.lr_final if self.config.lr_final is not None else lr_init
        max_steps = max(int(self.config.max_steps), 1)

        def multiplier(step: int) -> float:
            t = min(max(step / max_steps, 0.0), 1.0)
            return float(math.exp(math.log(lr_final / lr_init) * t))

        return lr_scheduler.LambdaLR(optimizer, lr_lambda=multiplier)
