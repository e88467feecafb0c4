"""Compositing: volume rendering of a ray's samples over the ray's background (the one owner of the background rule).

The last sample of every ray is the background pixel with opacity 1 (NeRFace/AD-NeRF's rule, paper appendix E): the
head is composited over the frame's real background, so the network never models the background itself.
``accumulation`` and ``depth`` exclude that background sample. Resampling (PDF samples placed by a previous pass)
ignores the background sample's weight, so new samples land on the head, not on the far plane.

The background's opacity is exactly 1 by construction, not through a huge density: NeRFace's density of 1e10 (what
this module used until 0.2) turns a last interval of -1 ulp into alpha = 1 - exp(+1192) = -inf, and nerfstudio's PDF
sampler makes such intervals: it maps sorted bins back to depths with ``x * far + (1 - x) * near``, which is not
monotone in float32 (measured: a -1.19e-7 interval on 1 ray of 256 at step 52 of a seeded mi-nerf-fast run, loss inf,
every gradient NaN). Negative intervals are clamped to zero for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from jaxtyping import Float
from torch import Tensor

from nerfstudio.cameras.rays import RaySamples


@dataclass
class Composite:
    """One rendering pass of a batch of rays."""

    weights: Float[Tensor, "R S 1"]
    """Volume-rendering weights of every sample, the background sample last."""
    accumulation: Float[Tensor, "R 1"]
    """Opacity of the head (the background sample excluded)."""
    depth: Float[Tensor, "R 1"]
    """Expected depth of the head along the ray (the background sample excluded)."""
    rgb: Optional[Float[Tensor, "R 3"]] = None
    """Colour over the background; None for a density-only pass (a proposal)."""

    def resampling_weights(self) -> Float[Tensor, "R S 1"]:
        """The weights with the background sample's set to zero, for placing the next pass's samples."""
        return torch.cat([self.weights[:, :-1], torch.zeros_like(self.weights[:, -1:])], dim=1)


def composite(
    samples: RaySamples,
    density: Float[Tensor, "R S 1"],
    rgb: Optional[Float[Tensor, "R S 3"]] = None,
    background: Optional[Float[Tensor, "R 3"]] = None,
) -> Composite:
    """Volume-render ``samples`` whose last sample is replaced by the opaque ``background``.

    Args:
        samples: the ray samples (the last one is the background's place).
        density: the field's density at every sample (the last value is ignored: the background is opaque).
        rgb: the field's colour at every sample (the last value is ignored); None: weights, opacity and depth only.
        background: the background colour of every ray (needed with ``rgb``).
    """
    assert samples.deltas is not None
    # Optical depth of each head interval; the background sample (last) is opaque whatever its interval.
    optical = samples.deltas[:, :-1].clamp(min=0.0) * density[:, :-1]
    alphas = 1.0 - torch.exp(-optical)
    travelled = torch.cumsum(optical, dim=1)
    transmittance = torch.exp(-torch.cat([torch.zeros_like(travelled[:, :1]), travelled], dim=1))  # [R, S, 1]
    head_weights = alphas * transmittance[:, :-1]
    weights = torch.cat([head_weights, transmittance[:, -1:]], dim=1)
    accumulation = head_weights.sum(dim=1)
    steps = (samples.frustums.starts + samples.frustums.ends)[:, :-1] / 2
    depth = (head_weights * steps).sum(dim=1) / accumulation.clamp(min=1e-6)
    colour = None
    if rgb is not None:
        assert background is not None, "compositing colour needs the rays' background"
        colour = composite_colour(weights, rgb, background)
    return Composite(weights=weights, accumulation=accumulation, depth=depth, rgb=colour)


def composite_colour(
    weights: Float[Tensor, "R S 1"], rgb: Float[Tensor, "R S 3"], background: Float[Tensor, "R 3"]
) -> Float[Tensor, "R 3"]:
    """The colour of rays from their samples' weights and colours, the last sample's colour being the background."""
    return (weights[:, :-1] * rgb[:, :-1]).sum(dim=1) + weights[:, -1] * background.to(rgb)


def over_background(
    colour: Float[Tensor, "*bs 3"], alpha: Float[Tensor, "*bs 1"], background: Float[Tensor, "*bs 3"]
) -> Float[Tensor, "*bs 3"]:
    """A splatted head (colour already weighted by its opacity, alpha its coverage) over the frame's background: the
    same rule as the background sample above, for geometries that render whole images."""
    return colour + (1.0 - alpha) * background.to(colour)
