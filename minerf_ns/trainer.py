"""nerfstudio's Trainer, plus one guard: an iteration whose gradients are not finite is skipped, not applied.

Without mixed precision nerfstudio applies every gradient; a single NaN/inf gradient (seen once in a 600-iteration
`mi-nerf-fast` run with the high-degree module, at step ~370) turns every weight into NaN through Adam's moments
and the rest of the run is lost. With a grad scaler enabled (mixed precision on CUDA) the scaler already skips such
steps and lowers its scale, so the guard leaves that path alone.
"""

from __future__ import annotations

import functools

import torch

from nerfstudio.engine.trainer import TRAIN_INTERATION_OUTPUT, Trainer
from nerfstudio.utils.rich_utils import CONSOLE


def gradients_finite(module: torch.nn.Module) -> bool:
    """True when every gradient of ``module`` is finite (parameters without a gradient count as finite)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return True
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())  # one host sync per iteration


class MiNerfTrainer(Trainer):
    """Trainer that skips iterations with non-finite gradients (counted in ``skipped_iterations``)."""

    skipped_iterations: int = 0

    def train_iteration(self, step: int) -> TRAIN_INTERATION_OUTPUT:
        if self.use_grad_scaler:
            return super().train_iteration(step)
        groups = self.optimizers.parameters.keys()
        accumulate = self.gradient_accumulation_steps
        self.optimizers.zero_grad_some([g for g in groups if step % accumulate[g] == 0])
        _, loss_dict, metrics_dict = self.pipeline.get_train_loss_dict(step=step)
        loss = functools.reduce(torch.add, loss_dict.values())
        loss.backward()
        if not gradients_finite(self.pipeline.model):
            self.optimizers.zero_grad_all()
            self.skipped_iterations += 1
            CONSOLE.print(f"[yellow]step {step}: non-finite gradients, iteration skipped "
                          f"({self.skipped_iterations} so far)[/yellow]")  # fmt: skip
            return loss, loss_dict, metrics_dict
        needs_step = [g for g in groups if step % accumulate[g] == accumulate[g] - 1]
        self.optimizers.optimizer_scaler_step_some(self.grad_scaler, needs_step)  # a disabled scaler: plain steps
        self.optimizers.scheduler_step_all(step)
        return loss, loss_dict, metrics_dict
