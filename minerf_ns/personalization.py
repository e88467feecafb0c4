"""Start a personalization run from a trained MI-NeRF (paper sec. 3.4): the shared network (interaction module and
geometry) is copied; identity codes are matched by identity name and latent codes by (identity name, frame number);
a new identity starts from the mean identity code, and frames without a trained latent from their video's mean
latent (the global mean for a new one). Fitting can go in stages: the codes alone first, with the network frozen (the
purest test of whether identity and expression are disentangled), then the network joins at its small rate."""

from __future__ import annotations

from typing import Dict

import torch

from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackLocation


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
            raise ValueError(f"the trained model's {name} does not fit this one: {str(err).splitlines()[-1]}") from None
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
