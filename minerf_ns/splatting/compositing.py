"""Front-to-back compositing of projected Gaussians into an image: the tiled CPU kernel with its backward pass, and
a dense reference that applies the same rules to every pixel (for tests, and where the kernel cannot be built)."""

from __future__ import annotations

from typing import Any, Tuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

from minerf_ns.splatting.cpu_kernel import load as load_kernel
from minerf_ns.splatting.tiles import TILE_SIZE, bin_tiles, tile_grid, tile_ranges

MIN_ALPHA = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4


class _CompositeCpu(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, means2d, conics, colors, opacities, offsets, ids, width: int, height: int):  # type: ignore
        kernel = load_kernel()
        inputs = [t.detach().float().contiguous() for t in (means2d, conics, colors, opacities)]
        out_colors, out_alphas, last, transmittance = kernel.forward(*inputs, offsets, ids, width, height, TILE_SIZE)
        ctx.save_for_backward(*inputs, offsets, ids, transmittance, last)
        ctx.size = (width, height)
        return out_colors, out_alphas

    @staticmethod
    def backward(ctx: Any, v_colors, v_alphas):  # type: ignore
        means2d, conics, colors, opacities, offsets, ids, transmittance, last = ctx.saved_tensors
        width, height = ctx.size
        grads = load_kernel().backward(
            means2d, conics, colors, opacities, offsets, ids, width, height, TILE_SIZE, transmittance, last,
            v_colors.contiguous(), v_alphas.contiguous(),
        )  # fmt: skip
        return (*grads, None, None, None, None)


def composite_gaussians(
    means2d: Float[Tensor, "N 2"],
    conics: Float[Tensor, "N 3"],
    colors: Float[Tensor, "N D"],
    opacities: Float[Tensor, " N"],
    depths: Float[Tensor, " N"],
    radii: Int[Tensor, " N"],
    width: int,
    height: int,
) -> Tuple[Float[Tensor, "H W D"], Float[Tensor, "H W 1"]]:
    """Composite Gaussians front to back on the CPU: premultiplied colours [H, W, D] and alpha [H, W, 1]."""
    offsets, ids = bin_tiles(
        means2d.detach(), radii, depths.detach(), width, height, conics.detach(), opacities.detach()
    )
    if load_kernel() is None:
        return composite_dense(means2d, conics, colors, opacities, depths, radii, width, height)
    out_colors, out_alphas = _CompositeCpu.apply(means2d, conics, colors, opacities, offsets, ids, width, height)
    return out_colors, out_alphas[..., None]


def composite_dense(
    means2d: Float[Tensor, "N 2"],
    conics: Float[Tensor, "N 3"],
    colors: Float[Tensor, "N D"],
    opacities: Float[Tensor, " N"],
    depths: Float[Tensor, " N"],
    radii: Int[Tensor, " N"],
    width: int,
    height: int,
    opacity_bounds: bool = True,
) -> Tuple[Float[Tensor, "H W D"], Float[Tensor, "H W 1"]]:
    """The same image as ``composite_gaussians`` computed for every (pixel, Gaussian) pair in plain torch (autograd
    gives its gradients): a Gaussian reaches the pixels of its tiles (``tile_ranges``), as in the kernel; without
    ``opacity_bounds``, every tile of its 3-sigma square (gsplat's rule)."""
    tiles_x, tiles_y = tile_grid(width, height)
    bounds = (conics.detach(), opacities.detach()) if opacity_bounds else (None, None)
    low, high = tile_ranges(means2d.detach(), radii, tiles_x, tiles_y, *bounds)
    order = torch.argsort(depths.detach())
    means2d, conics, colors, opacities, low, high = (t[order] for t in (means2d, conics, colors, opacities, low, high))
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    pixels = torch.stack([xs, ys], -1).reshape(-1, 2).to(means2d)
    pixel_tile = (pixels // TILE_SIZE).int()
    reaches = ((pixel_tile[:, None] >= low[None]) & (pixel_tile[:, None] < high[None])).all(-1)  # [P, N]
    delta = means2d[None] - (pixels[:, None] + 0.5)
    dx, dy = delta[..., 0], delta[..., 1]
    power = -0.5 * (conics[:, 0] * dx * dx + conics[:, 2] * dy * dy) - conics[:, 1] * dx * dy
    alpha = torch.clamp(opacities * torch.exp(power), max=MAX_ALPHA)
    used = reaches & (power <= 0) & (alpha >= MIN_ALPHA)
    alpha = torch.where(used, alpha, torch.zeros_like(alpha))
    # A pixel stops before the Gaussian that would take its transmittance to 1e-4 or below.
    after = torch.cumprod(1 - alpha, dim=1)
    alpha = torch.where(after > MIN_TRANSMITTANCE, alpha, torch.zeros_like(alpha))
    before = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1]], 1), dim=1)
    weights = alpha * before
    out_colors = (weights @ colors).view(height, width, -1)
    out_alpha = weights.sum(1).view(height, width, 1)
    return out_colors, out_alpha
