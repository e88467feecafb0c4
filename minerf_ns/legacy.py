"""Runs trained before the one-model redesign (minerf_ns 0.1.0 up to commit 1a73cfe) keep loading.

Their ``config.yml`` names classes that moved (``minerf_ns.fast_model``, ``minerf_ns.trainer``,
``minerf_ns.trainer_config``) and a flat model config whose MLP or tri-plane options are now a geometry config; their
checkpoints name parameters that moved (``identity_codes`` -> ``conditioning.codes.identity``, ``field_coarse`` ->
``geometry.coarse``, ...). This module is the one place that knows the old names:

- ``install()`` (run by ``minerf_ns/__init__.py``) lets Python import the old module names, which resolve to the
  current classes (a legacy tri-plane config class turns itself into the current config while loading);
- ``upgrade_model_config`` turns an old model config's fields into the current ones (a ``geometry`` config);
- ``upgrade_state_dict`` renames an old checkpoint's model keys, as a ``load_state_dict`` pre-hook of the model.

Only the standard library is imported at module level: ``minerf_ns/__init__.py`` runs this on every import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import types
from typing import Any, Callable, Dict, List, Tuple

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


def upgrade_model_config(state: Dict[str, Any], geometry: str = "mlp") -> Dict[str, Any]:
    """The fields of a model config loaded from ``config.yml``: old flat geometry options become a geometry config.

    Args:
        state: the fields as stored.
        geometry: which geometry an old config meant ("mlp" for ``MiNerfModelConfig``, "triplane" for the old
            ``MiNerfFastModelConfig``).
    """
    if "geometry" in state:
        return state
    from minerf_ns.geometry import MlpGeometryConfig, TriplaneGeometryConfig

    state = dict(state)
    old = {name: state.pop(name) for name in set(MLP_OPTIONS + TRIPLANE_OPTIONS) if name in state}
    if geometry == "mlp":
        state["geometry"] = MlpGeometryConfig(**{k: v for k, v in old.items() if k in MLP_OPTIONS})
    else:
        state["geometry"] = TriplaneGeometryConfig(**{k: v for k, v in old.items() if k in TRIPLANE_OPTIONS})
    return state


def upgrade_state_dict(module, state_dict: Dict[str, Any], prefix: str, *args) -> None:
    """``load_state_dict`` pre-hook: rename an old checkpoint's keys (below ``prefix``) in place, and give buffers
    added since then the values ``module`` (the model being loaded) starts with."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        local = key[len(prefix) :]
        for pattern, new in STATE_DICT_RENAMES:
            if re.match(pattern, local):
                state_dict[prefix + re.sub(pattern, new, local)] = state_dict.pop(key)
                break
    if module is not None:
        current = module.state_dict()
        for key in current:
            if key.startswith(ADDED_KEYS) and prefix + key not in state_dict:
                state_dict[prefix + key] = current[key]


def _fast_model_module() -> Dict[str, Any]:
    from minerf_ns.model import MiNerfModel, MiNerfModelConfig

    class MiNerfFastModelConfig(MiNerfModelConfig):
        """Loads an old ``mi-nerf-fast`` model config as the current config with a tri-plane geometry."""

        def __setstate__(self, state: Dict[str, Any]) -> None:
            self.__dict__.update(upgrade_model_config(state, geometry="triplane"))
            self.__class__ = MiNerfModelConfig  # saved again, it is an ordinary current config

    return {"MiNerfFastModelConfig": MiNerfFastModelConfig, "MiNerfFastModel": MiNerfModel}


def _training_module() -> Dict[str, Any]:
    from minerf_ns.training import MiNerfTrainer, MiNerfTrainerConfig

    return {"MiNerfTrainer": MiNerfTrainer, "MiNerfTrainerConfig": MiNerfTrainerConfig}


LEGACY_MODULES: Dict[str, Callable[[], Dict[str, Any]]] = {
    "minerf_ns.fast_model": _fast_model_module,
    "minerf_ns.trainer": _training_module,
    "minerf_ns.trainer_config": _training_module,
}
"""Old module names and what they held."""


class _LegacyLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return types.ModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(LEGACY_MODULES[module.__name__]())


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
