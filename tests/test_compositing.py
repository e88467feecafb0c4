"""The background rule: compositing puts every ray's head over its opaque background sample (also when float
rounding makes the last interval negative: the source of the NaN), and backgrounds are resized by one rule."""

from __future__ import annotations

import torch

from minerf_ns.catalogue import VideoCatalogue, resize_background
from minerf_ns.compositing import composite
from minerf_ns.contract import UNSEEN_FRAME, VideoIntrinsics
from nerfstudio.cameras.rays import Frustums, RaySamples


def ray_samples(deltas: torch.Tensor) -> RaySamples:
    """Samples of rays along -z with the given intervals [R, S]."""
    num_rays, num_samples = deltas.shape
    starts = torch.cat([torch.zeros(num_rays, 1), deltas.cumsum(1)[:, :-1]], 1)[..., None] + 0.5
    directions = torch.tensor([0.0, 0, -1]).expand(num_rays, num_samples, 3)
    origins, area = torch.zeros(num_rays, num_samples, 3), torch.ones(num_rays, num_samples, 1)
    frustums = Frustums(origins, directions, starts, starts + deltas[..., None], area)
    return RaySamples(frustums=frustums, deltas=deltas[..., None])


def test_the_last_sample_is_the_opaque_background():
    num_rays, num_samples = 4, 6
    samples = ray_samples(torch.full((num_rays, num_samples), 0.1))
    background = torch.tensor([[0.2, 0.4, 0.6]]).expand(num_rays, 3)
    rgb = torch.full((num_rays, num_samples, 3), 0.9)
    empty = composite(samples, torch.zeros(num_rays, num_samples, 1), rgb, background)
    assert torch.allclose(empty.rgb, background) and float(empty.accumulation.max()) == 0.0  # nothing: background
    solid = composite(samples, torch.full((num_rays, num_samples, 1), 1e4), rgb, background)
    assert torch.allclose(solid.rgb, torch.full((num_rays, 3), 0.9)) and torch.allclose(
        solid.accumulation, torch.ones(num_rays, 1)
    )
    half = composite(samples, torch.full((num_rays, num_samples, 1), 1.0), rgb, background)
    alpha = half.accumulation
    assert torch.allclose(half.rgb, alpha * 0.9 + (1 - alpha) * background, atol=1e-6)
    assert torch.allclose(half.weights.sum(1), torch.ones(num_rays, 1), atol=1e-6)  # the background takes the rest
    assert float(half.resampling_weights()[:, -1].abs().max()) == 0.0
    depth_only = composite(samples, torch.full((num_rays, num_samples, 1), 1.0))
    assert depth_only.rgb is None and torch.equal(depth_only.weights, half.weights)


def test_the_background_resize_rule_is_the_area_average():
    image = torch.arange(16, dtype=torch.uint8).reshape(4, 4, 1).expand(4, 4, 3).contiguous()
    small = resize_background(image, 2, 2)
    assert small[..., 0].tolist() == [[3, 5], [11, 13]]  # means of 2x2 blocks (2.5 -> 3 with OpenCV's rounding)
    assert resize_background(image, 4, 4) is image
    catalogue = VideoCatalogue(["a"], [torch.zeros(2, 1)], [torch.tensor([0, -1])], [torch.zeros(2, 3, 4)],
                               [VideoIntrinsics(1, 1, 2, 2, 4, 4)], [image], near=0.1, far=1.0)  # fmt: skip
    assert torch.equal(catalogue.background(0, 2, 2), small) and catalogue.background(0, 2, 2) is catalogue.background(
        0, 2, 2
    )
    assert catalogue.frame_condition(0, 1).frame == UNSEEN_FRAME and catalogue.frame_condition(0, 0).frame == 0
    assert catalogue.frame_condition(0, 0, identity=1).frame == UNSEEN_FRAME  # another identity: not its latent


def test_a_negative_last_interval_keeps_the_background_opaque_and_finite():
    """The case that made mi-nerf-fast's loss inf (seed 0, step 52 of tests/test_training.py's run): the PDF sampler's
    last interval was -1 ulp (-1.19e-7); with the old background density of 1e10 its alpha was -inf."""
    deltas = torch.tensor(
        [[6.3e-3, 3.1e-3, 4.2e-3, -1.1921e-07], [6.3e-3, 3.1e-3, 4.2e-3, 0.0], [0.1, 0.1, -1e-7, 0.1]]
    )
    density = torch.tensor([0.53, 0.54, 0.98, 0.99])[None, :, None].expand(3, -1, 1).clone().requires_grad_()
    rgb = torch.full((3, 4, 3), 0.7, requires_grad=True)
    background = torch.tensor([0.1, 0.2, 0.3]).expand(3, 3)
    result = composite(ray_samples(deltas), density, rgb, background)
    assert torch.isfinite(result.weights).all() and torch.allclose(result.weights.sum(1), torch.ones(3, 1))
    assert bool((result.weights >= 0).all())
    # Rays 0 and 1 (negative and zero last interval) composite identically: the background takes what the head leaves.
    assert torch.allclose(result.rgb[0], result.rgb[1]) and float(result.weights[0, -1]) > 0.98
    (result.rgb.sum() + result.depth.sum()).backward()
    assert torch.isfinite(density.grad).all() and torch.isfinite(rgb.grad).all()
    assert float(result.weights[2, 2]) == 0.0  # a negative head interval is empty, not negative
