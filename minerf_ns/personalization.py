"""Start a personalization run from a trained MI-NeRF (paper sec. 3.4): the shared network (interaction module and
geometry) is copied; identity codes are matched by identity name and latent codes by (identity name, frame number);
a new identity starts from the mean identity code, and frames without a trained latent from their video's mean
latent (the global mean for a new one)."""

from __future__ import annotations

from typing import Dict

import torch


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
