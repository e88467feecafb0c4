"""Image metrics on the whole frame and on the head box: PSNR, SSIM, and LPIPS only when its weights exist.

LPIPS needs torchvision's AlexNet weights (``alexnet-owt-7be5be79.pth`` in ``$TORCH_HOME/hub/checkpoints``), which
cannot be downloaded here. It is built lazily on first use, and reported as unavailable when the file is missing:
never built from random weights, never a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import torch
from jaxtyping import Bool, Float
from torch import Tensor
from torchmetrics.functional import structural_similarity_index_measure

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def alexnet_weights_path() -> Path:
    """Where torchvision looks for the AlexNet weights LPIPS needs."""
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


def box_bounds(box: Bool[Tensor, "H W 1"]) -> Optional[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of the box's bounding rectangle (the whole image when the box covers it); None if empty."""
    ys, xs = torch.nonzero(box[..., 0], as_tuple=True)
    if ys.numel() == 0:
        return None
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    return y0, y1, x0, x1


class ImageMetrics:
    """PSNR / SSIM (/ LPIPS) of a rendered image against the ground truth."""

    def __init__(self) -> None:
        self._lpips = None
        self._lpips_checked = False

    @staticmethod
    def psnr(pred: Float[Tensor, "*bs 3"], target: Float[Tensor, "*bs 3"]) -> Tensor:
        """PSNR for images in [0, 1]."""
        mse = torch.mean((pred.float().clamp(0, 1) - target.float()) ** 2)
        return -10.0 * torch.log10(mse.clamp(min=1e-10))

    @staticmethod
    def ssim(pred: Float[Tensor, "H W 3"], target: Float[Tensor, "H W 3"]) -> Tensor:
        """SSIM (torchmetrics, Gaussian window 11, sigma 1.5) for images in [0, 1]."""
        p = pred.float().clamp(0, 1).permute(2, 0, 1)[None]
        t = target.float().permute(2, 0, 1)[None]
        kernel = min(11, (min(p.shape[-2:]) // 2) * 2 - 1)
        # torchmetrics sizes its Gaussian window from sigma alone: narrow it with the window on crops under 11 px
        # (a mouth box at 32-64 px), so the window fits; 11 px and more keep the standard sigma 1.5.
        return structural_similarity_index_measure(p, t, data_range=1.0, kernel_size=kernel,
                                                   sigma=1.5 * kernel / 11)  # fmt: skip

    @staticmethod
    def masked_psnr(pred: Float[Tensor, "H W 3"], target: Float[Tensor, "H W 3"], mask: Bool[Tensor, "H W"]) -> Tensor:
        """PSNR over the pixels of ``mask`` only (images in [0, 1])."""
        mse = torch.mean((pred.float().clamp(0, 1)[mask] - target.float()[mask]) ** 2)
        return -10.0 * torch.log10(mse.clamp(min=1e-10))

    def lpips_model(self):
        """The LPIPS metric, or None when its AlexNet weights are missing."""
        if not self._lpips_checked:
            self._lpips_checked = True
            if alexnet_weights_path().is_file():
                from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

                self._lpips = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True)
        return self._lpips

    def image_metrics(
        self,
        pred: Float[Tensor, "H W 3"],
        target: Float[Tensor, "H W 3"],
        box: Optional[Tensor] = None,
        mouth: Optional[Tensor] = None,
    ) -> Dict[str, float]:
        """psnr, ssim (, lpips) on the whole frame; with a head box, head_psnr, head_ssim (, head_lpips); with a mouth
        box, mouth_psnr, mouth_ssim (, mouth_lpips)."""
        out = {"psnr": float(self.psnr(pred, target)), "ssim": float(self.ssim(pred, target))}
        lpips = self.lpips_model()
        if lpips is not None:
            lpips = lpips.to(pred.device)
            out["lpips"] = float(lpips(pred.clamp(0, 1).permute(2, 0, 1)[None], target.permute(2, 0, 1)[None]))
        for region, region_box in (("head", box), ("mouth", mouth)):
            bounds = box_bounds(region_box) if region_box is not None else None
            if bounds is None:
                continue
            y0, y1, x0, x1 = bounds
            crop_p, crop_t = pred[y0:y1, x0:x1], target[y0:y1, x0:x1]
            out[f"{region}_psnr"] = float(self.psnr(crop_p, crop_t))
            if min(y1 - y0, x1 - x0) >= 3:  # SSIM needs a 3x3 window
                out[f"{region}_ssim"] = float(self.ssim(crop_p, crop_t))
            if lpips is not None and min(y1 - y0, x1 - x0) >= 32:
                out[f"{region}_lpips"] = float(
                    lpips(crop_p.clamp(0, 1).permute(2, 0, 1)[None], crop_t.permute(2, 0, 1)[None])
                )
        return out
