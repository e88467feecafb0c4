"""The paper's analysis figures as PNG (matplotlib, numpy inputs): identity codes in 2-D (Fig. 9) and singular values
of the interaction module's learned matrices (Fig. 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np


def pca_2d(codes: np.ndarray) -> np.ndarray:
    """[N, 2] projection of ``codes`` [N, d] on their two leading principal components."""
    centred = codes - codes.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T if vt.shape[0] >= 2 else np.pad(centred @ vt[:1].T, ((0, 0), (0, 1)))


def plot_identity_codes(codes: np.ndarray, names: List[str], path: Path) -> None:
    """Scatter of the identity codes in their 2-D PCA plane, one labelled point per identity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = pca_2d(codes)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=120)
    ax.scatter(points[:, 0], points[:, 1], c=np.arange(len(names)), cmap="tab10")
    for (x, y), name in zip(points, names):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_title("identity codes (PCA)")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_singular_values(matrices: Dict[str, np.ndarray], path: Path) -> None:
    """Normalised singular values (largest = 1) of each named 2-D matrix, one line each, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for name, matrix in matrices.items():
        values = np.linalg.svd(matrix, compute_uv=False)
        ax.plot(np.arange(1, len(values) + 1), values / max(values[0], 1e-12), marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("index")
    ax.set_ylabel("singular value / largest")
    ax.set_title("interaction module: singular values")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
