"""Runs trained before the one-model redesign (minerf_ns 0.1.0 up to commit 1a73cfe) keep loading.

Their ``config.yml`` names classes that moved (``minerf_ns.fast_model``, ``minerf_ns.trainer``,
``minerf_ns.trainer_config``) and a flat model config whose MLP or tri-plane options are now a geometry config; their
checkpoints name parameters that moved (``identity_codes`` -> ``conditioning.codes.identity``, ``field_coarse`` ->
``geometry.coarse``, ...). This module is the one place that knows the old names, as tables; it imports nothing of
the model (the model applies them: ``minerf_ns/model.py``'s config ``__setstate__`` and ``load_state_dict`` hook):

- ``install()`` (run by ``minerf_ns/__init__.py``) lets Python import the old module names, which resolve to the
  current classes named in ``LEGACY_MODULES``;
- ``split_old_model_config`` separates an old flat model config's geometry options;
- ``renamed_key`` gives an old checkpoint key its current name.

Only the standard library is imported: ``minerf_ns/__init__.py`` runs this on every import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
import types
from typing import Any, Dict, List, Tuple

MLP_OPTIONS = ("num_coarse_samples", "num_importance_samples", "num_layers", "hidden_dim", "skip_layer",
               "color_layers", "color_dim", "position_frequencies", "direction_frequencies")  # fmt: skip
"""The MLP geometry's options, which the old model config held itself."""
TRIPLANE_OPTIONS = ("num_proposal_samples", "num_samples", "plane_resolutions", "plane_channels", "decoder_dim",
                    "decoder_layers", "plane_tv_mult", "direction_frequencies")  # fmt: skip
"""The tri-plane geometry's options, which the old fast model config held itself (beside the MLP ones)."""

STATE_DICT_RENAMES: Tuple[Tuple[str, str], ...] = (
    (r"^identity_codes\.", "conditioning.codes.identity."),
    (r"^latent_codes\.", "conditioning.codes.latent."),
    (r"^interaction\.", "conditioning.interaction."),
    (r"^field_coarse\.color_branch\.", "geometry.coarse.color_head."),
    (r"^field_fine\.color_branch\.", "geometry.fine.color_head."),
    (r"^field_coarse\.", "geometry.coarse."),
    (r"^field_fine\.", "geometry.fine."),
    (r"^field\.color_decoder\.0\.", "geometry.field.color_head."),
    (r"^field\.", "geometry.field."),
)
"""(old key pattern, new prefix) of the model's state dict, first match wins."""
ADDED_KEYS = ("geometry.occupancy.", "conditioning.smoothing.")
"""Prefixes of model weights and buffers added since 0.1: an old checkpoint without them loads them as the model starts
them (the occupancy grid: not computed yet, so it is computed from the loaded weights before the first render; the
temporal smoothing: off)."""


LEGACY_MODULES: Dict[str, Dict[str, str]] = {
    "minerf_ns.fast_model": {
        "MiNerfFastModelConfig": "minerf_ns.model:LegacyFastModelConfig",
        "MiNerfFastModel": "minerf_ns.model:MiNerfModel",
    },
    "minerf_ns.trainer": {
        "MiNerfTrainer": "minerf_ns.training:MiNerfTrainer",
        "MiNerfTrainerConfig": "minerf_ns.training:MiNerfTrainerConfig",
    },
    "minerf_ns.trainer_config": {
        "MiNerfTrainer": "minerf_ns.training:MiNerfTrainer",
        "MiNerfTrainerConfig": "minerf_ns.training:MiNerfTrainerConfig",
    },
}
"""Old module names, and the ``module:name`` of what each of their names is now (imported only when an old run's
``config.yml`` names it)."""


def renamed_key(key: str) -> str:
    """A model state-dict key of an old checkpoint under its current name (unchanged if it did not move)."""
    for pattern, new in STATE_DICT_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, new, key)
    return key


def split_old_model_config(state: Dict[str, Any], geometry: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """An old flat model config's fields, split into (the model's own, its geometry's): ``geometry`` is "mlp" for the
    old ``MiNerfModelConfig``, "triplane" for the old ``MiNerfFastModelConfig``."""
    options = MLP_OPTIONS if geometry == "mlp" else TRIPLANE_OPTIONS
    model = {k: v for k, v in state.items() if k not in MLP_OPTIONS + TRIPLANE_OPTIONS}
    return model, {k: v for k, v in state.items() if k in options}


class _LegacyLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return types.ModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        for old, target in LEGACY_MODULES[module.__name__].items():
            where, name = target.split(":")
            setattr(module, old, getattr(importlib.import_module(where), name))


class _LegacyFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname in LEGACY_MODULES:
            return importlib.machinery.ModuleSpec(fullname, _LegacyLoader())
        return None


def install() -> None:
    """Let the old module names import (once per process)."""
    finders: List[Any] = sys.meta_path
    if not any(isinstance(f, _LegacyFinder) for f in finders):
        finders.append(_LegacyFinder())
