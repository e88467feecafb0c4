"""Temporal smoothing of the condition: a learned attention over a window of neighbouring frames (pure torch).

The paper (appendix E) learns "a self-attention, similarly to Guo et al. (2021) [AD-NeRF], that is applied to both the
output of the multiplicative module and the latent codes after the first 200k iterations", against the jitter of the
3DMM tracking. AD-NeRF's attention over its 8-frame window of audio features: a stack of 1-D convolutions along the
channels reduces each frame of the window to one score, a linear layer mixes the W scores, a softmax turns them into
weights, and the output is the weighted sum of the window. Here the window holds [M(e, i), l] of the frames around the
rendered one (``window_rows``); a window whose frames are all equal (a still expression, the viewer) comes out
unchanged, whatever the weights.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn

from minerf_ns.contract import CENTRE, WINDOW

CENTRE_WEIGHT = 0.75
"""The frame's own weight when the attention is switched on: close enough to the unsmoothed condition the field was
trained on until then that the switch does not undo training, far enough from 1 that the softmax still learns."""


class TemporalAttention(nn.Module):
    """Attention over a window of per-frame vectors (AD-NeRF's AudioAttNet shape).

    Args:
        dim: size of each frame's vector.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        widths = (dim, 16, 8, 4, 2, 1)
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv1d(n_in, n_out, kernel_size=3, padding=1), nn.LeakyReLU(0.02)]
        self.scores = nn.Sequential(*layers)
        self.mix = nn.Linear(WINDOW, WINDOW)
        with torch.no_grad():
            # Start from nearly fixed weights: the convolutions' scores barely move them until ``mix`` learns to read
            # them (small, not zero, so that the convolutions get a gradient from the first step).
            nn.init.normal_(self.mix.weight, std=0.01)
            self.mix.bias.zero_()
            self.mix.bias[CENTRE] = math.log(CENTRE_WEIGHT * (WINDOW - 1) / (1.0 - CENTRE_WEIGHT))
        # Whether the attention is used: switched on part-way through training and saved with the weights; mirrored
        # in a Python bool so that a forward pass does not wait for the GPU to read it.
        self.register_buffer("active", torch.tensor(False))
        self.is_active = False

    def switch_on(self) -> None:
        """Use the attention from now on (and in every render of the saved weights)."""
        self.active.fill_(True)
        self.is_active = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.is_active = bool(self.active)

    def weights(self, window: Float[Tensor, "R W C"]) -> Float[Tensor, "R W"]:
        """Each window's attention weights (sum 1)."""
        scores = self.scores(window.transpose(1, 2))[:, 0]
        return torch.softmax(self.mix(scores), dim=-1)

    def forward(self, window: Float[Tensor, "R W C"]) -> Float[Tensor, "R C"]:
        """The weighted sum of each window; its centre frame while inactive."""
        if not self.is_active:
            return window[:, CENTRE]
        return torch.einsum("rw,rwc->rc", self.weights(window), window)
