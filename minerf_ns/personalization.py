"""Start a personalization run from a trained MI-NeRF (paper sec. 3.4): every network weight is copied; identity codes
are matched by identity name and latent codes by (identity name, frame number); a new identity starts from the mean
identity code, and frames without a trained latent from their video's mean latent (the global mean for a new one)."""

from __future__ import annotations

from typing import Dict

import torch

from minerf_ns.model import CODE_MODULES


@torch.no_grad()
def copy_trained_weights(source, target) -> Dict[str, int]:
    """Copy ``source``'s weights into ``target`` (MiNerfModels of one method; ``target`` may hold other videos).

    Returns:
        counts: identities and latent codes copied or newly initialised.
    """
    own = target.state_dict()
    for name, value in source.state_dict().items():
        if name.split(".")[0] in CODE_MODULES or name not in own:
            continue
        if own[name].shape != value.shape:
            raise ValueError(f"{name}: shape {tuple(value.shape)} in the trained model, {tuple(own[name].shape)} here")
        own[name].copy_(value)
    old_ids, old_latents = source.identity_codes.weight, source.latent_codes.weight
    video_means = source.video_mean_latents()
    counts = {"identities_copied": 0, "identities_new": 0, "latents_copied": 0, "latents_new": 0}
    for v, name in enumerate(target.identity_names):
        new_table = target.video_train_frame_idx[v]
        if name in source.identity_names:
            s = source.identity_index(name)
            target.identity_codes.weight[v] = old_ids[s]
            old_table = source.video_train_frame_idx[s]
            fallback = video_means[s]
            counts["identities_copied"] += 1
        else:
            target.identity_codes.weight[v] = old_ids.mean(dim=0)
            old_table, fallback = None, old_latents.mean(dim=0)
            counts["identities_new"] += 1
        for frame, index in enumerate(new_table.tolist()):
            if index < 0:
                continue
            old = int(old_table[frame]) if old_table is not None and frame < len(old_table) else -1
            target.latent_codes.weight[index] = old_latents[old] if old >= 0 else fallback
            counts["latents_copied" if old >= 0 else "latents_new"] += 1
    return counts
