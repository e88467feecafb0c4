"""The training step: nerfstudio's own ``Trainer.train_iteration`` (mixed precision, gradient accumulation, gradient
logging), plus a guard that skips an optimizer step whose gradients are not finite. ``ns-train``, ``minerf-demo``,
``minerf-personalize``, the benchmarks and the tests all train through it.

Without a gradient scaler nerfstudio applies every gradient; a single NaN/inf gradient turns every weight into NaN
through Adam's moments and the rest of the run is lost. With a scaler enabled (``--mixed-precision`` on CUDA) the
scaler already skips such steps and lowers its scale, so the guard leaves that path alone. A skipped step still
steps the learning-rate schedules, which follow the iteration count; the trainer logs the count of skipped steps.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, List, Optional, Type

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dataparsers.dataset_scan import read_dataset
from dataparsers.frame_background import check_frame_backgrounds
from dataparsers.video_record import training_record
from minerf_ns.commands import INTERRUPTED, check_output_folder
from nerfstudio.engine.callbacks import TrainingCallbackLocation
from nerfstudio.engine.optimizers import Optimizers
from nerfstudio.engine.trainer import TRAIN_INTERATION_OUTPUT, Trainer, TrainerConfig
from nerfstudio.utils.decorators import check_main_thread
from nerfstudio.utils.rich_utils import CONSOLE


def gradients_finite(parameters: Iterable[torch.nn.Parameter]) -> bool:
    """True when every gradient is finite (parameters without a gradient count as finite); one host sync."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return True
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())


class GuardedOptimizers(Optimizers):
    """nerfstudio's Optimizers; without an enabled grad scaler, a step with a non-finite gradient is skipped."""

    def __init__(self, config, param_groups) -> None:
        super().__init__(config, param_groups)
        self.skipped_steps = 0
        """Optimizer steps skipped so far for non-finite gradients."""

    def optimizer_scaler_step_some(self, grad_scaler: Any, param_groups: List[str]) -> None:
        if grad_scaler.is_enabled():  # the scaler checks the gradients itself
            return super().optimizer_scaler_step_some(grad_scaler, param_groups)
        if not gradients_finite(p for group in param_groups for p in self.parameters[group]):
            self.zero_grad_some(param_groups)
            self.skipped_steps += 1
            CONSOLE.print(f"[yellow]non-finite gradients: optimizer step skipped ({self.skipped_steps} so far)")
            return None
        return super().optimizer_scaler_step_some(grad_scaler, param_groups)


class MiNerfTrainer(Trainer):
    """nerfstudio's Trainer with guarded optimizers; logs ``skipped_steps`` among the train metrics."""

    optimizers: GuardedOptimizers

    def setup_optimizers(self) -> GuardedOptimizers:
        return GuardedOptimizers(self.config.optimizers.copy(), self.pipeline.get_param_groups())

    @property
    def skipped_steps(self) -> int:
        """Optimizer steps skipped so far for non-finite gradients."""
        return self.optimizers.skipped_steps

    def train_iteration(self, step: int) -> TRAIN_INTERATION_OUTPUT:
        loss, loss_dict, metrics_dict = super().train_iteration(step)
        metrics_dict["skipped_steps"] = torch.tensor(float(self.skipped_steps))
        if getattr(self, "_interrupt_requested", False):
            raise KeyboardInterrupt  # here, between iterations: no library lock is held
        return loss, loss_dict, metrics_dict

    def train(self) -> None:
        """nerfstudio's training loop; Ctrl-C saves a checkpoint of the current step and stops with one line (exit
        status 130) instead of nerfstudio's traceback and exit status 0.

        Ctrl-C is taken at the end of the running iteration: an exception raised at an arbitrary point (inside the
        TensorBoard writer's or a data loader's lock) could deadlock the exit. A second Ctrl-C stops at once."""
        self._interrupt_requested = False
        previous = None
        if threading.current_thread() is threading.main_thread():

            def request_stop(signum, frame) -> None:
                self._interrupt_requested = True
                signal.signal(signal.SIGINT, signal.default_int_handler)  # the second Ctrl-C raises at once

            previous = signal.signal(signal.SIGINT, request_stop)
        try:
            super().train()
        except KeyboardInterrupt:
            self.save_checkpoint(self.step)
            tool = Path(sys.argv[0]).name or "training"
            print(f"{tool}: interrupted (Ctrl-C) at step {self.step}; checkpoint saved in {self.checkpoint_dir}. "
                  f"Resume: the same command with --load-dir {self.checkpoint_dir}", file=sys.stderr)  # fmt: skip
            raise SystemExit(INTERRUPTED) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    @check_main_thread  # as nerfstudio's: only the first process of a multi-process run writes
    def save_checkpoint(self, step: int) -> None:
        """nerfstudio's checkpoint, written under a temporary folder and moved into place: an interrupted save never
        leaves a truncated newest checkpoint (which every command would try to load)."""
        final = self.checkpoint_dir
        staging = final.parent / ".checkpoint-saving"  # not inside: nerfstudio parses every name in that folder
        self.checkpoint_dir = staging
        try:
            super().save_checkpoint(step)
        finally:
            self.checkpoint_dir = final
        written = staging / f"step-{step:09d}.ckpt"
        final.mkdir(parents=True, exist_ok=True)
        os.replace(written, final / written.name)
        shutil.rmtree(staging, ignore_errors=True)
        if self.config.save_only_latest_checkpoint:
            for old in final.glob("step-*.ckpt"):
                if old.name != written.name:
                    old.unlink()


@dataclass
class MiNerfTrainerConfig(TrainerConfig):
    """nerfstudio's TrainerConfig with MiNerfTrainer; ``save_config`` first reads and checks every video.

    ``ns-train`` saves ``config.yml`` before the dataparser runs. Checking first means bad input stops with one line
    naming the file and the fix, and no output folder is created. The dataparser then reuses what was read.
    """

    _target: Type = field(default_factory=lambda: MiNerfTrainer)
    prompt: tyro.conf.Suppress[Optional[str]] = None
    """Not an option: no text prompt (nerfstudio's alias of --pipeline.model.prompt)."""

    def save_config(self) -> None:
        if self.machine.num_devices * self.machine.num_machines > 1 and self.machine.device_type != "cuda":
            sys.exit(f"ns-train: --machine.num-devices {self.machine.num_devices} needs CUDA GPUs (nerfstudio launches "
                     f"one process per GPU); device type is {self.machine.device_type}. Fix: train on one device, or "
                     "on a machine with that many GPUs (nothing written)")  # fmt: skip
        if self.load_dir is not None and not any(Path(self.load_dir).glob("step-*.ckpt")):
            sys.exit(f"ns-train: {self.load_dir}: no checkpoint (step-*.ckpt) to resume from. Fix: pass a run's "
                     "nerfstudio_models/ folder to --load-dir (nothing written)")  # fmt: skip
        check_output_folder(Path(self.output_dir), "ns-train")
        parser = self.pipeline.datamanager.dataparser
        data = Path(self.pipeline.datamanager.data or parser.data)
        videos = read_dataset(data, decode_images=True)
        if hasattr(parser, "identities") and not parser.identities:
            # The run records whom it was trained on: videos added to the root later do not change the model.
            parser.identities = tuple(video.name for video in videos)
        if hasattr(parser, "trained_on"):  # and what it depends on in each: a later change is named when it loads
            parser.trained_on = {video.name: training_record(video) for video in videos}
        if hasattr(parser, "background"):
            check_frame_backgrounds(videos, parser.background)
        super().save_config()


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
    # A fresh run folder: a config copied from a trained run keeps that run's timestamp (nerfstudio only fills in a
    # "{timestamp}" placeholder), and two runs in the same second get the same one; an existing folder is never
    # reused (its checkpoints would be replaced).
    config.timestamp = "{timestamp}"
    config.set_timestamp()
    stamp, attempt = config.timestamp, 1
    while config.get_base_dir().exists():
        attempt += 1
        config.timestamp = f"{stamp}-{attempt}"
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_trainer(config) -> MiNerfTrainer:
    """The trainer of ``config``, set up (pipeline, optimizers) and ready for ``train_iteration`` or ``train``."""
    trainer = config.setup(local_rank=0, world_size=1)
    trainer.setup()
    return trainer


def iteration_with_callbacks(trainer, step: int) -> TRAIN_INTERATION_OUTPUT:
    """One training iteration with the training callbacks around it, as ``Trainer.train`` runs them (the model's
    switch of the temporal smoothing, its occupancy grid), for loops that drive ``train_iteration`` themselves."""
    for callback in trainer.callbacks:
        callback.run_callback_at_location(step, location=TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
    output = trainer.train_iteration(step)
    for callback in trainer.callbacks:
        callback.run_callback_at_location(step, location=TrainingCallbackLocation.AFTER_TRAIN_ITERATION)
    return output


def train_with_progress(config, caption: str, console: Console, before_training: Optional[Callable] = None):
    """Save ``config``, set up its Trainer, call ``before_training(trainer)``, train with a progress bar.

    Returns:
        the trained Trainer (its pipeline, and ``base_dir`` holding config.yml and nerfstudio_models/).
    """
    run_folder = config.get_base_dir()
    created = [folder for folder in [run_folder, *run_folder.parents] if not folder.exists()]
    config.save_config()
    try:
        return _train_with_progress(config, caption, console, before_training)
    except BaseException:
        if not any((run_folder / config.relative_model_dir).glob("step-*.ckpt")):
            # No half-written run (nothing loadable was saved), nor the empty experiment folders made for it.
            shutil.rmtree(run_folder, ignore_errors=True)
            for folder in created[1:]:
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        raise


def _train_with_progress(config, caption: str, console: Console, before_training: Optional[Callable]):
    trainer = start_trainer(config)
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
