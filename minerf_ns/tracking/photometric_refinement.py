"""Photometric refinement of a landmark fit: the face's colour should stay put on the mesh from frame to frame.

Every sampled face vertex, projected with the current fit, reads the (slightly blurred) frame's colour; the loss is
each vertex's colour difference from its mean over the frames where it is visible (photo-consistency, no albedo or
lighting model). Visibility comes from rasterising the fitted head (z-buffer) and is refreshed once half-way. The
gradient moves pose, identity and expressions wherever texture (brows, lips, eyes, the face outline against the
background) slides on the surface, which landmarks alone do not see. It runs after ``fit_video``, beside the
landmark loss, with small step sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
import torch
from jaxtyping import Bool, Float, UInt8
from torch import Tensor

from minerf_ns.face.head_model import HeadModel
from minerf_ns.face.rasterizer import project as project_points
from minerf_ns.face.rasterizer import rasterize
from minerf_ns.tracking.face_fitting import FaceFit, FitSettings, project, refine_video
from minerf_ns.tracking.fitted_head import FittedHead

VISIBLE_DEPTH_TOLERANCE_M = 0.004
"""A vertex is visible when it lies within this distance of the z-buffer's nearest surface at its pixel."""


@dataclass
class PhotometricSettings:
    """Schedule and weights of the photometric refinement."""

    steps: int = 200
    """Adam steps (landmark loss + photometric loss)."""
    weight: float = 0.1
    """Weight of the photometric loss (mean squared RGB difference in [0, 1] units) against the landmark loss."""
    num_vertices: int = 2000
    """Face vertices sampled (fixed seed) to carry colour."""
    max_size: int = 256
    """Frames are downsampled so that their longer side is at most this many pixels."""
    blur_px: float = 1.0
    """Gaussian blur (pixels at the working size) that widens the basin of the colour alignment."""
    batch_frames: int = 128
    """Videos up to this many frames use all of them every step (the mean colours inside the graph); longer ones a
    random batch this large against mean colours recomputed over all frames every ``mean_every`` steps."""
    mean_every: int = 25
    """Steps between refreshes of the per-vertex mean colours (long videos only)."""
    visibility_size: int = 128
    """Longer side of the z-buffer used for visibility."""
    lr_scale: float = 0.1
    """Step sizes relative to the landmark fit's."""


def working_frame(rgb: UInt8[np.ndarray, "H W 3"], max_size: int) -> UInt8[np.ndarray, "h w 3"]:
    """A frame downsampled (area filter) so that its longer side is at most ``max_size``."""
    scale = max_size / max(rgb.shape[:2])
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class PhotoConsistency:
    """The photometric loss of one video, called by ``refine_video`` as ``loss(params, step)``.

    Args:
        frames: the tracked frames at working size, uint8 RGB, in fit-row order.
        full_width: width of the frames the fit was made on (pixels are rescaled to the working size).
        model: the head model.
        identity_delta: the identity modes the fit used, as many as it has weights [I, V, 3].
        settings: the schedule.
    """

    def __init__(
        self,
        frames: Sequence[UInt8[np.ndarray, "h w 3"]],
        full_width: int,
        model: HeadModel,
        identity_delta: Float[np.ndarray, "I V 3"],
        settings: PhotometricSettings,
        principal_point: Optional[tuple[float, float]] = None,
    ) -> None:
        self.settings = settings
        self.height, self.width = frames[0].shape[:2]
        self.scale = self.width / full_width
        # the principal point at working size (a face-centred crop moves it off the centre)
        pp = (self.width / 2.0, self.height / 2.0) if principal_point is None else \
            (principal_point[0] * self.scale, principal_point[1] * self.scale)  # fmt: skip
        self.centre = torch.tensor(pp, dtype=torch.float32)
        stack = np.stack(frames)
        if settings.blur_px > 0:
            for k in range(len(stack)):
                stack[k] = cv2.GaussianBlur(stack[k], (0, 0), settings.blur_px)
        # Short videos keep float frames (converted once); long ones uint8, converted batch by batch.
        self.frames = torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous()  # N 3 h w
        if len(frames) <= settings.batch_frames:
            self.frames = self.frames.float() / 255.0
        self.model = model
        face = np.nonzero(model.part_mask("face"))[0]
        rng = np.random.default_rng(0)
        self.vertices = np.sort(rng.choice(face, min(settings.num_vertices, len(face)), replace=False))
        self.identity_delta = identity_delta
        self.neutral = torch.from_numpy(model.neutral[self.vertices]).float()
        self.id_delta = torch.from_numpy(identity_delta[:, self.vertices]).float()
        self.expr_delta = torch.from_numpy(model.expr_delta[:, self.vertices]).float()
        self.visible: Optional[Bool[Tensor, "N S"]] = None
        self.mean: Optional[Float[Tensor, "S 3"]] = None
        self.generator = torch.Generator().manual_seed(0)

    def _colours(self, params: dict, rows: Tensor) -> Float[Tensor, "B S 3"]:
        """Colours (0-1) the sampled vertices read in frames ``rows``."""
        shape = self.neutral + torch.einsum("k,kvc->vc", params["identity"], self.id_delta)
        points = shape[None] + torch.einsum("ne,evc->nvc", params["expressions"][rows], self.expr_delta)
        focal = params["log_focal"].exp() * self.scale
        uv = project(points, params["euler"][rows], params["translation"][rows], focal, self.centre)
        # Pixel k's centre is at k + 0.5 in the fit's continuous coordinates.
        grid = torch.stack([uv[..., 0] / self.width, uv[..., 1] / self.height], -1) * 2.0 - 1.0
        images = self.frames[rows]
        images = images.float() / 255.0 if images.dtype == torch.uint8 else images
        return torch.nn.functional.grid_sample(images, grid[:, :, None], align_corners=False).squeeze(-1).mT

    @torch.no_grad()
    def update_visibility(self, params: dict) -> None:
        """Rasterise the fitted head in every frame and mark the sampled vertices the z-buffer sees."""
        values = {name: value.detach().numpy() for name, value in params.items()}
        head = FittedHead(self.model, self.identity_delta, values["identity"])
        vis_scale = min(1.0, self.settings.visibility_size / max(self.width, self.height))
        width, height = max(1, round(self.width * vis_scale)), max(1, round(self.height * vis_scale))
        focal = float(np.exp(values["log_focal"])) * self.scale * width / self.width
        cx, cy = (float(c) * width / self.width for c in self.centre)
        visible = np.zeros((len(values["euler"]), len(self.vertices)), dtype=bool)
        for row in range(len(values["euler"])):
            cam = head.camera_vertices(values["expressions"][row], values["euler"][row], values["translation"][row])
            frags = rasterize(cam, self.model.triangles, focal, focal, cx, cy, height, width)
            uv, depth = project_points(cam[self.vertices], focal, focal, cx, cy)
            u, v = uv[:, 0], uv[:, 1]
            inside = (u >= 1) & (u < width - 1) & (v >= 1) & (v < height - 1)
            cols = np.clip(u.astype(int), 0, width - 1)
            rows = np.clip(v.astype(int), 0, height - 1)
            visible[row] = inside & (np.abs(frags.depth[rows, cols] - depth) < VISIBLE_DEPTH_TOLERANCE_M)
        self.visible = torch.from_numpy(visible)

    @torch.no_grad()
    def update_mean(self, params: dict) -> None:
        """Each vertex's mean colour over the frames where it is visible."""
        total = torch.zeros(len(self.vertices), 3)
        count = torch.zeros(len(self.vertices), 1)
        for start in range(0, self.frames.shape[0], self.settings.batch_frames):
            rows = torch.arange(start, min(start + self.settings.batch_frames, self.frames.shape[0]))
            weight = self.visible[rows].float()[..., None]
            total += (self._colours(params, rows) * weight).sum(0)
            count += weight.sum(0)
        self.mean = total / count.clamp_min(1.0)

    def __call__(self, params: dict, step: int) -> Tensor:
        """The weighted photometric loss of one step."""
        if step == 0 or step == self.settings.steps // 2:
            self.update_visibility(params)
        num = self.frames.shape[0]
        if num <= self.settings.batch_frames:
            rows = torch.arange(num)
            weight = self.visible.float()[..., None]
            colours = self._colours(params, rows)
            mean = (colours * weight).sum(0) / weight.sum(0).clamp_min(1.0)
        else:
            if step % self.settings.mean_every == 0 or self.mean is None:
                self.update_mean(params)
            rows = torch.randperm(num, generator=self.generator)[: self.settings.batch_frames]
            weight = self.visible[rows].float()[..., None]
            colours, mean = self._colours(params, rows), self.mean
        diff = (colours - mean).square() * weight
        return self.settings.weight * diff.sum() / (3.0 * weight.sum().clamp_min(1.0))


def refine_photometric(
    fit: FaceFit,
    landmarks: Float[np.ndarray, "N L 3"],
    frames: Sequence[UInt8[np.ndarray, "h w 3"]],
    width: int,
    height: int,
    basis: tuple[np.ndarray, np.ndarray, np.ndarray],
    model: HeadModel,
    identity_delta: Float[np.ndarray, "I V 3"],
    fit_settings: Optional[FitSettings] = None,
    settings: Optional[PhotometricSettings] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    segment_starts: Sequence[int] = (),
    principal_point: Optional[tuple[float, float]] = None,
) -> FaceFit:
    """Refine ``fit`` (from ``fit_video`` on ``landmarks``) with photo-consistency on ``frames``.

    Args:
        frames: the tracked frames (fit-row order) at working size (``working_frame``).
        width, height: the size of the frames the landmarks were found on.
        basis: the landmark basis the fit used.
        identity_delta: the vertex identity basis the fit used (``rigid_free_identity``; its first modes are used).
        progress: called as ``progress(step, steps)``.
        segment_starts, principal_point: as ``fit_video`` took them.
    """
    settings = settings or PhotometricSettings()
    loss = PhotoConsistency(frames, width, model, identity_delta[: len(fit.identity)], settings, principal_point)

    def extra(params: dict, step: int) -> Tensor:
        if progress:
            progress(step, settings.steps)
        return loss(params, step)

    return refine_video(
        fit, landmarks, width, height, basis, extra, settings.steps, fit_settings, lr_scale=settings.lr_scale,
        segment_starts=segment_starts, principal_point=principal_point,
    )  # fmt: skip
