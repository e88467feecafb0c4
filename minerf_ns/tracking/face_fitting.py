"""Fit the ICT-FaceKit head to FaceMesh landmarks of one video, batched over frames in torch.

Per video: identity-shape weights and one focal length; per frame: head pose (AD-NeRF Euler angles and a translation
in metres, camera = OpenGL pinhole with the principal point at the image centre unless given) and the 53 expression
weights in [0, 1]. The loss is a robust (Huber) landmark reprojection error in units of the face size, with a Gaussian
identity prior, a small expression prior and temporal smoothness of pose and expressions. A rigid stage (pose, identity,
focal) runs first, then everything together; expressions are projected back into [0, 1] after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

CHUNK_FRAMES = 512
"""Frames whose data term is computed (and back-propagated) at once."""
PER_FRAME_PARAMS = ("euler", "translation", "expressions")
"""Parameters with one row per frame (the others are shared by the video's frames)."""
FOCAL_CANDIDATES = (1.0, 1.5, 2.0, 3.0, 4.5, 7.0)
"""Focal lengths tried (units of image width) before the joint fit picks up from the best."""


@dataclass
class FitSettings:
    """Weights and schedule of the fit."""

    identity_modes: int = 40
    """Identity-shape modes fitted (of 60 shipped)."""
    rigid_steps: int = 150
    """Adam steps of the rigid stage (pose, identity, focal; expressions held at 0)."""
    full_steps: int = 350
    """Adam steps of the joint stage."""
    focal_search_steps: int = 60
    """Rigid steps per focal candidate on a subset of frames."""
    huber_delta: float = 0.01
    """Residual (fraction of the face size) where the loss turns from quadratic to linear."""
    depth_weight: float = 1.0
    """Weight of FaceMesh's relative landmark depth against the head's (0: image positions only)."""
    identity_prior: float = 2e-6
    """Weight of ``|identity|^2`` (identity weights are ~N(0, 1))."""
    expression_prior: float = 2e-4
    """Weight of ``sum(expressions)`` (an L1 prior: most blendshapes are off most of the time)."""
    pose_smoothness: float = 1.0
    """Weight of squared frame-to-frame changes of the rotation (radians) and translation (per face size)."""
    expression_smoothness: float = 0.02
    """Weight of squared frame-to-frame changes of the expression weights."""
    landmark_weights: Optional[np.ndarray] = field(default=None, repr=False)
    """Per-landmark weights [L] (default: all 1)."""


@dataclass
class FaceFit:
    """The fitted head of one video."""

    euler: Float[np.ndarray, "N 3"]
    """Head rotation, radians, AD-NeRF convention (``minerf_ns.head_pose.euler_to_rotation``)."""
    translation: Float[np.ndarray, "N 3"]
    """Head translation in metres, camera frame (the head sits at ``R X + t``)."""
    expressions: Float[np.ndarray, "N E"]
    identity: Float[np.ndarray, " K"]
    focal: float
    """Focal length in pixels."""
    residual_px: Float[np.ndarray, "N L"]
    """Per-landmark reprojection error in pixels."""
    depth_frame: Float[np.ndarray, " 3"] = field(default_factory=lambda: np.zeros(3, dtype=np.float32))
    """Constant rotation (Euler, radians) between FaceMesh's relative depth and the head's."""
    depth_scale: float = 1.0
    """Scale of FaceMesh's relative depth against the head's."""


def face_size_px(landmarks: Float[np.ndarray, "N L 3"]) -> float:
    """The face's size in pixels: the median over frames of the landmarks' bounding-box diagonal."""
    xy = torch.as_tensor(landmarks[..., :2], dtype=torch.float32)
    return float((xy.amax(1) - xy.amin(1)).norm(dim=-1).median())


def euler_to_rotation_torch(euler: Float[Tensor, "N 3"]) -> Float[Tensor, "N 3 3"]:
    """``minerf_ns.head_pose.euler_to_rotation`` in torch (differentiable)."""
    a, b, c = euler.unbind(-1)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    rot_x = torch.stack([one, zero, zero, zero, a.cos(), -a.sin(), zero, a.sin(), a.cos()], -1)
    rot_y = torch.stack([b.cos(), zero, b.sin(), zero, one, zero, -b.sin(), zero, b.cos()], -1)
    rot_z = torch.stack([c.cos(), c.sin(), zero, -c.sin(), c.cos(), zero, zero, zero, one], -1)
    shape = euler.shape[:-1] + (3, 3)
    return rot_x.reshape(shape) @ rot_y.reshape(shape) @ rot_z.reshape(shape)


def project(
    points: Float[Tensor, "N L 3"], euler: Tensor, translation: Tensor, focal: Tensor, centre: Tensor
) -> Float[Tensor, "N L 2"]:
    """Pixel positions (u right, v down) of head-frame points seen by the OpenGL pinhole camera."""
    cam = points @ euler_to_rotation_torch(euler).transpose(-1, -2) + translation[:, None]
    depth = (-cam[..., 2]).clamp_min(1e-3)
    return torch.stack([centre[0] + focal * cam[..., 0] / depth, centre[1] - focal * cam[..., 1] / depth], -1)


class _Problem:
    """The tensors and loss of one video's fit."""

    def __init__(
        self, landmarks, width, height, basis, settings: FitSettings, segment_starts=(), principal_point=None
    ) -> None:
        neutral, id_delta, expr_delta = basis
        # rows where a segment (a clip, or a shot after a cut) begins: temporal smoothness stops at each
        starts = torch.as_tensor(sorted({0, *[int(r) for r in segment_starts]}), dtype=torch.long)
        self.rigid = False
        """True while only pose, identity and focal are fitted (expressions held at 0)."""
        self.segment_of = torch.searchsorted(starts, torch.arange(landmarks.shape[0]), right=True) - 1
        self.settings = settings
        self.target = torch.as_tensor(landmarks[..., :2], dtype=torch.float32)
        depth = torch.as_tensor(landmarks[..., 2], dtype=torch.float32)
        self.target_depth = depth - depth.mean(1, keepdim=True)
        self.centre = torch.tensor(principal_point or (width / 2.0, height / 2.0), dtype=torch.float32)
        self.log_focal_range = (float(np.log(0.5 * width)), float(np.log(20.0 * width)))
        self.neutral = torch.as_tensor(neutral, dtype=torch.float32)
        self.id_delta = torch.as_tensor(id_delta[: settings.identity_modes], dtype=torch.float32)
        self.expr_delta = torch.as_tensor(expr_delta, dtype=torch.float32)
        self.face_px = face_size_px(landmarks)
        weights = settings.landmark_weights
        self.weights = torch.ones(self.target.shape[1]) if weights is None else torch.as_tensor(weights).float()
        self.weights = self.weights / self.weights.mean()

    def init_params(self, focal_px: float, frames: Tensor) -> dict:
        """Zero rotation, identity and expression; the translation that puts the landmarks' centroid in place."""
        target = self.target[frames]
        n = target.shape[0]
        neutral_px_width = float(self.neutral[:, 0].max() - self.neutral[:, 0].min())
        width_px = (target[..., 0].amax(1) - target[..., 0].amin(1)).clamp_min(1.0)
        depth = focal_px * neutral_px_width / width_px
        centroid = target.mean(1)
        mean3d = self.neutral.mean(0)
        trans = torch.stack(
            [
                (centroid[:, 0] - self.centre[0]) * depth / focal_px - mean3d[0],
                -(centroid[:, 1] - self.centre[1]) * depth / focal_px - mean3d[1],
                -depth - mean3d[2],
            ],
            -1,
        )
        return {
            "euler": torch.zeros(n, 3, requires_grad=True),
            "translation": trans.requires_grad_(True),
            "expressions": torch.zeros(n, self.expr_delta.shape[0], requires_grad=True),
            "identity": torch.zeros(self.id_delta.shape[0], requires_grad=True),
            "log_focal": torch.tensor(float(np.log(focal_px)), requires_grad=True),
            "log_depth_scale": torch.zeros((), requires_grad=True),
            "depth_frame": torch.zeros(1, 3, requires_grad=True),
        }

    def points(self, params: dict) -> Tensor:
        """Landmark positions of every frame's head [N, L, 3]."""
        shape = self.neutral + torch.einsum("k,klc->lc", params["identity"], self.id_delta)
        return shape[None] + torch.einsum("ne,elc->nlc", params["expressions"], self.expr_delta)

    def rotated(self, params: dict, rows: Float[Tensor, "N K 3"]) -> Float[Tensor, "N K L"]:
        """``rows[n, k] . points[n, l]`` for every frame's head, as one matrix product.

        Each frame's head is its shape plus its expressions' deltas, so a row of its rotation applied to it is
        ``sum_e w[n, e] (rows[n, k] . basis[e, l])`` with ``w = [1, expressions]``: a GEMM of [N K, (1 + E) 3] by
        [(1 + E) 3, L] instead of N small batched products on [N, L, 3] tensors (5x faster on long videos).
        """
        shape = self.neutral + torch.einsum("k,klc->lc", params["identity"], self.id_delta)
        expressions = params["expressions"]
        n, k = rows.shape[:2]
        if self.rigid:  # expressions held at 0 and not fitted: their columns would multiply zeros
            return (rows.reshape(n * k, 3) @ shape.T).reshape(n, k, -1)
        basis = torch.cat([shape[None], self.expr_delta]).transpose(1, 2).reshape(-1, shape.shape[0])
        weights = torch.cat([torch.ones_like(expressions[:, :1]), expressions], 1)
        coefficients = (weights[:, None, :, None] * rows[:, :, None, :]).reshape(n * k, -1)
        return (coefficients @ basis).reshape(n, k, -1)

    def residuals(self, params: dict, frames: Tensor, with_depth: bool) -> tuple[Tensor, Optional[Tensor]]:
        """Reprojection error [N, L] (distance in pixels) and, with ``with_depth``, the relative-depth residual [N, L]
        in pixels: FaceMesh's z against the head's depth, up to a fitted scale and a fitted constant rotation
        (FaceMesh's depth has its own notion of an upright face, which differs per person)."""
        rotation = euler_to_rotation_torch(params["euler"])
        rows = rotation
        if with_depth:
            depth_row = (euler_to_rotation_torch(params["depth_frame"]) @ rotation)[:, 2:3]
            rows = torch.cat([rotation, depth_row], 1)
        # unbind, not indexing: each indexed slice's backward would fill a zero tensor of cam's whole size
        cam = self.rotated(params, rows).unbind(1)
        tx, ty, tz = params["translation"][:, :, None].unbind(1)
        focal = params["log_focal"].exp()
        depth = (-(cam[2] + tz)).clamp_min(1e-3)
        target = self.target[frames]
        du = self.centre[0] + focal * (cam[0] + tx) / depth - target[..., 0]
        dv = self.centre[1] - focal * (cam[1] + ty) / depth - target[..., 1]
        distance = (du.square() + dv.square() + 1e-12).sqrt()  # + (1e-6 px)^2: sqrt's gradient at an exact 0 is NaN
        if not with_depth:
            return distance, None
        dist = -cam[3]
        rel = (dist - dist.mean(1, keepdim=True)) * focal / -tz
        return distance, rel * params["log_depth_scale"].exp() - self.target_depth[frames]

    def residual(self, params: dict, frames: Tensor) -> Tensor:
        """Reprojection error [N, L] in pixels."""
        return self.residuals(params, frames, with_depth=False)[0]

    def _huber_sum(self, res: Tensor) -> Tensor:
        delta = self.settings.huber_delta
        return (torch.where(res < delta, 0.5 * res.square(), delta * (res - 0.5 * delta)) * self.weights).sum()

    def data_term(self, params: dict, frames: Tensor, count: int) -> Tensor:
        """The robust landmark (and relative-depth) loss of ``frames``, summed and divided by ``count`` frames."""
        s = self.settings
        distance, rel = self.residuals(params, frames, with_depth=s.depth_weight > 0)
        data = self._huber_sum(distance / self.face_px)
        if rel is not None:
            data = data + s.depth_weight * self._huber_sum(rel.abs() / self.face_px)
        return data / (count * self.target.shape[1])

    def regularisers(self, params: dict, frames: Tensor) -> Tensor:
        """Priors and temporal smoothness (none across a segment start)."""
        s = self.settings
        prior = s.identity_prior * params["identity"].square().sum() / 1000.0
        prior = prior + s.expression_prior * params["expressions"].mean(0).sum() / 1000.0
        smooth = torch.zeros(())
        if params["euler"].shape[0] > 1:
            keep = self.continuous(frames)
            d_rot = (params["euler"].diff(dim=0).square().sum(-1) * keep).mean()
            d_trans = (params["translation"].diff(dim=0).square().sum(-1) * keep).mean() / 0.15**2
            d_expr = (params["expressions"].diff(dim=0).square().sum(-1) * keep).mean()
            smooth = (s.pose_smoothness * (d_rot + d_trans) + s.expression_smoothness * d_expr) * 1e-3
        return prior + smooth

    def loss(self, params: dict, frames: Tensor) -> Tensor:
        """Robust data term plus priors and temporal smoothness."""
        return self.data_term(params, frames, len(frames)) + self.regularisers(params, frames)

    def backward(self, params: dict, frames: Tensor) -> float:
        """``loss(params, frames).backward()`` computed ``CHUNK_FRAMES`` frames at a time (the same gradients: the
        data term is a sum over frames; a long video's [N, L] intermediates would not stay in the CPU's caches).
        Returns the loss."""
        total = 0.0
        for start in range(0, len(frames), CHUNK_FRAMES):
            part = slice(start, start + CHUNK_FRAMES)
            chunk = {k: v[part] if k in PER_FRAME_PARAMS else v for k, v in params.items()}
            data = self.data_term(chunk, frames[part], len(frames))
            data.backward()
            total += float(data.detach())
        rest = self.regularisers(params, frames)
        rest.backward()
        return total + float(rest.detach())

    def continuous(self, frames: Tensor) -> Tensor:
        """1 for each consecutive pair of ``frames`` within one segment, 0 across a segment start (a clip boundary
        or a cut: nothing smooths across it)."""
        return (self.segment_of[frames].diff() == 0).float()


ExtraLoss = Callable[[dict, int], Tensor]
"""An additional loss term ``extra(params, step)`` (e.g. the photometric one) added to the landmark loss."""


def _optimise(
    problem: _Problem,
    params: dict,
    frames: Tensor,
    steps: int,
    rigid: bool,
    lr_scale: float = 1.0,
    extra: Optional[ExtraLoss] = None,
) -> float:
    groups = [
        {"params": [params["euler"]], "lr": 0.02 * lr_scale},
        {"params": [params["translation"]], "lr": 0.005 * lr_scale},
        {"params": [params["identity"]], "lr": 0.05 * lr_scale},
        {"params": [params["log_focal"], params["log_depth_scale"], params["depth_frame"]], "lr": 0.02 * lr_scale},
    ]
    if not rigid:
        groups.append({"params": [params["expressions"]], "lr": 0.02 * lr_scale})
    optimiser = torch.optim.Adam(groups)
    problem.rigid = rigid and not bool(params["expressions"].detach().any())
    loss = 0.0
    for step in range(steps):
        optimiser.zero_grad(set_to_none=True)
        loss = problem.backward(params, frames)
        if extra is not None:
            term = extra(params, step)
            term.backward()
            loss += float(term.detach())
        optimiser.step()
        with torch.no_grad():
            params["expressions"].clamp_(0.0, 1.0)
            params["log_focal"].clamp_(*problem.log_focal_range)
    return loss


def fit_video(
    landmarks: Float[np.ndarray, "N L 3"],
    width: int,
    height: int,
    basis: tuple[np.ndarray, np.ndarray, np.ndarray],
    settings: Optional[FitSettings] = None,
    progress: Optional[Callable[[str], None]] = None,
    segment_starts: Sequence[int] = (),
    principal_point: Optional[tuple[float, float]] = None,
) -> FaceFit:
    """Fit one video's tracked landmarks (frames in time order).

    Args:
        landmarks: FaceMesh landmarks of each tracked frame, image pixels (z is ignored).
        width, height: frame size in pixels.
        basis: neutral [L, 3], identity [I, L, 3] and expression [E, L, 3] landmark bases (``LandmarkMap.basis``).
        settings: weights and schedule.
        progress: called with a short stage name as each stage starts.
        segment_starts: rows where a new clip or shot begins (one person's clips fitted together share the identity
            and focal; temporal smoothness does not reach across a start).
        principal_point: (cx, cy) in pixels (default: the image centre; a face-centred crop moves it).
    """
    settings = settings or FitSettings()
    problem = _Problem(landmarks, width, height, basis, settings, segment_starts, principal_point)
    num_frames = landmarks.shape[0]
    all_frames = torch.arange(num_frames)
    subset = torch.linspace(0, num_frames - 1, min(num_frames, 32)).round().long().unique()
    if progress:
        progress("focal search")
    best = None
    for factor in FOCAL_CANDIDATES:
        params = problem.init_params(factor * width, subset)
        loss = _optimise(problem, params, subset, settings.focal_search_steps, rigid=True)
        if best is None or loss < best[0]:
            best = (loss, float(params["log_focal"].detach().exp()), params["identity"].detach())
    params = problem.init_params(best[1], all_frames)
    with torch.no_grad():
        params["identity"].copy_(best[2])
    if progress:
        progress("rigid fit")
    _optimise(problem, params, all_frames, settings.rigid_steps, rigid=True)
    if progress:
        progress("expression fit")
    _optimise(problem, params, all_frames, settings.full_steps, rigid=False)
    return _to_fit(problem, params, all_frames)


def _to_fit(problem: _Problem, params: dict, frames: Tensor) -> FaceFit:
    with torch.no_grad():
        residual = problem.residual(params, frames)
    return FaceFit(
        euler=params["euler"].detach().numpy().astype(np.float32),
        translation=params["translation"].detach().numpy().astype(np.float32),
        expressions=params["expressions"].detach().numpy().astype(np.float32),
        identity=params["identity"].detach().numpy().astype(np.float32),
        focal=float(params["log_focal"].detach().exp()),
        residual_px=residual.numpy().astype(np.float32),
        depth_frame=params["depth_frame"].detach().numpy()[0].astype(np.float32),
        depth_scale=float(params["log_depth_scale"].detach().exp()),
    )


def params_of(fit: FaceFit) -> dict:
    """The fit's parameters as leaf tensors that require grad (the inverse of what ``fit_video`` returns)."""
    values = {
        "euler": torch.from_numpy(fit.euler.copy()),
        "translation": torch.from_numpy(fit.translation.copy()),
        "expressions": torch.from_numpy(fit.expressions.copy()),
        "identity": torch.from_numpy(fit.identity.copy()),
        "log_focal": torch.tensor(float(np.log(fit.focal))),
        "log_depth_scale": torch.tensor(float(np.log(fit.depth_scale))),
        "depth_frame": torch.from_numpy(fit.depth_frame.copy())[None],
    }
    return {name: value.float().requires_grad_(True) for name, value in values.items()}


def refine_video(
    fit: FaceFit,
    landmarks: Float[np.ndarray, "N L 3"],
    width: int,
    height: int,
    basis: tuple[np.ndarray, np.ndarray, np.ndarray],
    extra: ExtraLoss,
    steps: int,
    settings: Optional[FitSettings] = None,
    lr_scale: float = 0.1,
    segment_starts: Sequence[int] = (),
    principal_point: Optional[tuple[float, float]] = None,
) -> FaceFit:
    """Continue a fit with an extra loss term beside the landmark loss, at smaller step sizes.

    Args:
        fit: the result of ``fit_video`` on the same landmarks.
        extra: called as ``extra(params, step)`` with the parameter dict (``params_of``); returns a scalar loss.
        steps: Adam steps.
        lr_scale: step sizes relative to ``fit_video``'s.
    """
    settings = settings or FitSettings()
    problem = _Problem(landmarks, width, height, basis, settings, segment_starts, principal_point)
    params = params_of(fit)
    all_frames = torch.arange(landmarks.shape[0])
    _optimise(problem, params, all_frames, steps, rigid=False, lr_scale=lr_scale, extra=extra)
    return _to_fit(problem, params, all_frames)
