"""One camera's image of a set of 3D Gaussians: gsplat's CUDA rasterizer on a GPU, ours on the CPU."""

from __future__ import annotations

from typing import Tuple

from jaxtyping import Float
from torch import Tensor

from minerf_ns.splatting.compositing import composite_gaussians
from minerf_ns.splatting.projection import project


def render_gaussians(
    means: Float[Tensor, "N 3"],
    quats: Float[Tensor, "N 4"],
    scales: Float[Tensor, "N 3"],
    opacities: Float[Tensor, " N"],
    colors: Float[Tensor, "N D"],
    viewmat: Float[Tensor, "4 4"],
    intrinsics: Float[Tensor, "3 3"],
    width: int,
    height: int,
    near: float = 0.01,
    far: float = 1e10,
) -> Tuple[Float[Tensor, "H W D"], Float[Tensor, "H W 1"]]:
    """Composite the Gaussians front to back: colours weighted by alpha * transmittance [H, W, D] (put a
    background behind with ``+ (1 - alpha) * background``) and the accumulated alpha [H, W, 1].

    Args:
        means, quats, scales, opacities, colors: the Gaussians (quaternions w, x, y, z; scales as standard deviations;
            opacities in [0, 1]; any number D of colour channels, e.g. RGB + depth).
        viewmat: world-to-camera transform in OpenCV axes; intrinsics: the pinhole matrix K.
    """
    if means.is_cuda:
        from minerf_ns.splatting.gsplat_kernels import use_prebuilt

        use_prebuilt()  # kernels built once (MINERF_GSPLAT_KERNELS); else gsplat compiles them on first use
        from gsplat import rasterization

        out, alpha, _ = rasterization(
            means, quats, scales, opacities, colors, viewmat[None], intrinsics[None], width, height,
            near_plane=near, far_plane=far, packed=False,
        )  # fmt: skip
        return out[0], alpha[0]
    screen = project(means, quats, scales, viewmat, intrinsics, width, height, near, far)
    return composite_gaussians(
        screen.means2d, screen.conics, colors, opacities, screen.depths, screen.radii, width, height
    )
