"""The paper's positional encoding (pure torch): gamma(x) = [x, sin(2^k x), cos(2^k x)], k = 0..L-1.

MI-NeRF follows NeRFace/AD-NeRF, whose embedder uses frequencies 2^k with no 2*pi factor and includes the input.
nerfstudio's ``NeRFEncoding`` multiplies by 2*pi and has no sin/cos pairing of the same kind, so we keep our own.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn


class PaperPositionalEncoding(nn.Module):
    """gamma(x) with ``num_frequencies`` octaves starting at 2^0, the input included."""

    def __init__(self, in_dim: int, num_frequencies: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.register_buffer("freqs", 2.0 ** torch.arange(num_frequencies, dtype=torch.float32), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.in_dim * (1 + 2 * self.freqs.numel())

    def forward(self, x: Float[Tensor, "*bs d"]) -> Float[Tensor, "*bs out"]:
        scaled = (x[..., None, :] * self.freqs[:, None]).flatten(-2)
        return torch.cat([x, torch.sin(scaled), torch.cos(scaled)], dim=-1)
