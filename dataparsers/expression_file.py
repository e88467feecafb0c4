"""Read an expression sequence that drives a render: ``.npy`` [T, d] or the ``exp`` of a ``track_params.pt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dataparsers.adnerf import load_track_params
from dataparsers.dataset_error import DatasetError

TOOL = "expressions"


def _error(path: Path, problem: str, fix: str) -> DatasetError:
    return DatasetError(path, problem, fix, tool=TOOL)


def read_expressions(path: Path, expression_dim: int) -> np.ndarray:
    """Float32 [T, expression_dim] from ``path``; a clear one-line error for a missing, empty or wrong-sized file.

    Args:
        path: a ``.npy`` array [T, d], or a ``.pt`` file holding a tensor [T, d] or a dict with ``exp`` [T, d]
            (AD-NeRF's ``track_params.pt``).
        expression_dim: d of the model the sequence drives.
    """
    path = Path(path)
    if not path.is_file():
        raise _error(path, "file not found", "pass an existing .npy [T, d] or track_params.pt")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".pt", ".pth"):
        raise _error(path, f"unknown expression file type {path.suffix!r}", "use .npy or .pt")
    if path.stat().st_size == 0:
        raise _error(path, "the file is empty (0 bytes)", "write the sequence with numpy.save or torch.save")
    if suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except Exception as err:  # numpy raises several types for broken or pickled files
            raise _error(path, f"unreadable ({type(err).__name__})", "write it with numpy.save") from None
    else:
        loaded = load_track_params(path, tool=TOOL)
        values = loaded.get("exp") if isinstance(loaded, dict) else loaded
        if values is None:
            raise _error(path, "no 'exp' entry", "save the expressions as {'exp': tensor [T, d]}")
        values = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values
    try:
        values = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise _error(path, f"expressions are a {type(values).__name__} that is not numeric", "save numbers") from None
    if values.ndim != 2 or values.shape[0] == 0:
        raise _error(path, f"expressions have shape {values.shape}", "give a non-empty [T, d] array")
    if values.shape[1] != expression_dim:
        raise _error(
            path,
            f"expressions are {values.shape[1]}-d but the model takes {expression_dim}-d",
            f"use expressions of the basis the model was trained with ({expression_dim} values per frame)",
        )
    if not np.isfinite(values).all():
        raise _error(path, "expressions contain NaN or inf", "clean the sequence")
    return values
