"""Interaction modules that mix an expression vector e and an identity code i (pure torch, no nerfstudio).

- ``multiplicative``: M(e, i) = C[(U1 e) * (U2 i)] + W2 e + W3 i            (paper Eq. 1, rank k)
- ``high-degree``:    H(e, i) = C x_N, x_n = x_{n-1} + (U(n,1) e + U(n,2) i) * x_{n-1}, x_1 = U(1,1) e + U(1,2) i
                                                                             (paper Eq. 2, degree N, k = o = d)
- ``concat``:         [e; i], the paper's "Baseline NeRF" (no module)
- ``a1`` .. ``a7``:   the ablations of the paper's Table 1.
All linear maps are bias-free, as in the equations.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor, nn

InteractionName = Literal["multiplicative", "high-degree", "concat", "a1", "a2", "a3", "a4", "a5", "a6", "a7"]
INTERACTIONS: tuple[str, ...] = ("multiplicative", "high-degree", "concat", "a1", "a2", "a3", "a4", "a5", "a6", "a7")


def _linear(n_in: int, n_out: int) -> nn.Linear:
    return nn.Linear(n_in, n_out, bias=False)


class Interaction(nn.Module):
    """Base class: maps (e [.., d], i [.., d]) to a condition vector [.., out_dim]."""

    out_dim: int

    def forward(self, e: Float[Tensor, "*bs d"], i: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        raise NotImplementedError


class Multiplicative(Interaction):
    """Eq. (1): M(e, i) = C[(U1 e) * (U2 i)] + W2 e + W3 i."""

    def __init__(self, dim: int, rank: int = 8, out_dim: int | None = None) -> None:
        super().__init__()
        self.out_dim = out_dim or dim
        self.U1, self.U2 = _linear(dim, rank), _linear(dim, rank)
        self.C = _linear(rank, self.out_dim)
        self.W2, self.W3 = _linear(dim, self.out_dim), _linear(dim, self.out_dim)

    def forward(self, e: Float[Tensor, "*bs d"], i: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        return self.C(self.U1(e) * self.U2(i)) + self.W2(e) + self.W3(i)


class HighDegree(Interaction):
    """Eq. (2): H(e, i) = C x_N with x_n = x_{n-1} + (U(n,1) e + U(n,2) i) * x_{n-1}."""

    def __init__(self, dim: int, degree: int = 2, rank: int | None = None, out_dim: int | None = None) -> None:
        super().__init__()
        rank = rank or dim
        self.out_dim = out_dim or dim
        self.U_e = nn.ModuleList(_linear(dim, rank) for _ in range(degree))
        self.U_i = nn.ModuleList(_linear(dim, rank) for _ in range(degree))
        self.C = _linear(rank, self.out_dim)

    def forward(self, e: Float[Tensor, "*bs d"], i: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        x = self.U_e[0](e) + self.U_i[0](i)
        for u_e, u_i in zip(self.U_e[1:], self.U_i[1:]):
            x = x + (u_e(e) + u_i(i)) * x
        return self.C(x)


class Concat(Interaction):
    """The paper's Baseline NeRF: e and i concatenated into the field input."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = 2 * dim

    def forward(self, e: Float[Tensor, "*bs d"], i: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        return torch.cat([e, i], dim=-1)


class Ablation(Interaction):
    """Table 1 ablations A1-A7 (output dimension d)."""

    def __init__(self, dim: int, variant: str) -> None:
        super().__init__()
        self.variant = variant
        self.out_dim = dim
        if variant in ("a1", "a2", "a5", "a6"):
            self.W2, self.W3 = _linear(dim, dim), _linear(dim, dim)
        if variant in ("a3", "a4", "a6"):
            self.W1 = _linear(dim, dim)
        if variant == "a7":
            self.W = nn.Parameter(torch.randn(dim, dim, dim) / dim)

    def forward(self, e: Float[Tensor, "*bs d"], i: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        v = self.variant
        if v == "a1":
            return self.W2(e) + self.W3(i)
        if v == "a2":
            return e * i + self.W2(e) + self.W3(i)
        if v == "a3":
            return self.W1(e * i) + self.W1(e) + self.W1(i)
        if v == "a4":
            return self.W1(e * i)
        if v == "a5":
            w2e, w3i = self.W2(e), self.W3(i)
            return w2e * w3i + w2e + w3i
        if v == "a6":
            return self.W1(e * i) + self.W2(e) + self.W3(i)
        return torch.einsum("oab,...a,...b->...o", self.W, e, i)  # a7: W x2 e x3 i


def make_interaction(name: str, dim: int, rank: int = 8, degree: int = 2) -> Interaction:
    """Build an interaction module by name (see ``INTERACTIONS``)."""
    if name == "multiplicative":
        return Multiplicative(dim, rank)
    if name == "high-degree":
        return HighDegree(dim, degree)
    if name == "concat":
        return Concat(dim)
    if name in ("a1", "a2", "a3", "a4", "a5", "a6", "a7"):
        return Ablation(dim, name)
    raise ValueError(f"unknown interaction {name!r}; choose one of {', '.join(INTERACTIONS)}")
