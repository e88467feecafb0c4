"""Start a personalization run from a trained MI-NeRF (paper sec. 3.4): the shared network (interaction module and
geometry) is copied; identity codes are matched by identity name and latent codes by (identity name, frame number);
a new identity starts from the mean identity code, and frames without a trained latent from their video's mean
latent (the global mean for a new one). Fitting can go in stages: the codes alone first, with the network frozen (the
purest test of whether identity and expression are disentangled), then the network joins at its small rate."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import torch

from minerf_ns.optimizer_groups import CODES, FIELDS, GAUSSIAN_GROUPS, GRIDS
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackLocation


class RunMismatch(ValueError):
    """The trained network does not fit the personalization's model (another geometry or size)."""


@torch.no_grad()
def copy_trained_weights(source, target) -> Dict[str, int]:
    """Copy ``source``'s weights into ``target`` (MiNerfModels of one method; ``target`` may hold other videos).

    Returns:
        counts: identities and latent codes copied or newly initialised.
    """
    targets = target.network_modules()
    for name, module in source.network_modules().items():
        try:
            targets[name].load_state_dict(module.state_dict())
        except RuntimeError as err:
            reason = str(err).splitlines()[-1]
            raise RunMismatch(f"the trained model's {name} does not fit this one: {reason}") from None
    return target.conditioning.codes.copy_from(
        source.conditioning.codes,
        source.catalogue.identity_names,
        source.catalogue.train_frame_index,
        target.catalogue.identity_names,
        target.catalogue.train_frame_index,
    )


def codes_only_until(model, first_network_step: int) -> TrainingCallback:
    """Freeze ``model``'s network (geometry and smoothing; the interaction module stays as configured) now, and return
    the training callback that lets it train from iteration ``first_network_step`` on (never, if the run is
    shorter)."""
    params = [p for name, module in model.network_modules().items() if name != "interaction"
              for p in module.parameters() if p.requires_grad]  # fmt: skip
    for param in params:
        param.requires_grad_(False)  # no gradient is computed for them: the codes-only stage is also cheaper

    def release(step: int) -> None:  # nerfstudio passes the iteration by this name
        if step == first_network_step:
            for param in params:
                param.requires_grad_(True)

    return TrainingCallback([TrainingCallbackLocation.BEFORE_TRAIN_ITERATION], release)


def personalization_config(
    config,
    data: Optional[Path],
    identities: Sequence[str],
    lr: float,
    code_lr: float,
    grid_lr: Optional[float] = None,
):
    """A copy of a trained run's ``config`` that fine-tunes it (paper sec. 3.4): on ``identities`` of ``data`` (default:
    the run's own data), the network at ``lr`` (a tri-plane geometry's grids at ``grid_lr`` when given; a Gaussian
    geometry's attributes at their trained rates times lr / the network's trained rate) with the
    interaction module frozen, the codes at ``code_lr``; each schedule decays to a tenth of its rate. Its output
    folder, iterations and seed are left to ``configure_run``."""
    new = copy.deepcopy(config)
    new.pipeline.datamanager.data = data or config.pipeline.datamanager.data
    new.pipeline.datamanager.dataparser.data = new.pipeline.datamanager.data
    new.pipeline.datamanager.dataparser.identities = tuple(identities)
    new.pipeline.datamanager.dataparser.trained_on = None  # recorded anew from the videos it personalizes on
    new.pipeline.model.freeze_interaction = True
    new.load_dir = None
    new.load_checkpoint = None
    # The Gaussians' attributes keep their rates relative to the network's (the network's trained rate -> lr).
    attribute_scale = lr / config.optimizers[FIELDS]["optimizer"].lr
    for name, group in new.optimizers.items():
        rate = code_lr if name == CODES else grid_lr if name == GRIDS and grid_lr is not None else lr
        if name in GAUSSIAN_GROUPS:
            rate = group["optimizer"].lr * attribute_scale
        group["optimizer"].lr = rate
        group["scheduler"].lr_final = rate / 10
    return new


def start_from(source_model, codes_only_iterations: int = 0, report: Callable[[str], None] = print):
    """The hook that readies a personalization trainer before its first step: ``source_model``'s weights copied in,
    and, if ``codes_only_iterations`` > 0, the network frozen until that iteration."""

    def start(trainer) -> None:
        counts = copy_trained_weights(source_model, trainer.pipeline.model)
        report(f"personalizing {', '.join(trainer.pipeline.model.identity_names)}: {counts}")
        if codes_only_iterations > 0:
            trainer.callbacks.append(codes_only_until(trainer.pipeline.model, codes_only_iterations))
            report(f"codes only for {codes_only_iterations} iterations, then codes + network")

    return start
