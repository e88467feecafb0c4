"""The Gaussian splatting math (pure torch + our CPU kernel): the kernel equals a dense reference, its gradients
match finite differences, the projection matches gsplat's own pure-torch reference, one Gaussian renders as the
formula says."""

from __future__ import annotations

import math

import pytest
import torch

from minerf_ns.splatting import cpu_kernel, project, render_gaussians
from minerf_ns.splatting.compositing import composite_dense, composite_gaussians
from minerf_ns.splatting.tiles import bin_tiles


def random_scene(seed: int, count: int, channels: int = 4):
    generator = torch.Generator().manual_seed(seed)
    means = torch.randn(count, 3, generator=generator) * 0.3 + torch.tensor([0.0, 0.0, 3.0])
    quats = torch.randn(count, 4, generator=generator)
    scales = torch.rand(count, 3, generator=generator) * 0.08 + 0.01
    opacities = torch.rand(count, generator=generator) * 0.9 + 0.05
    colors = torch.rand(count, channels, generator=generator)
    return means, quats, scales, opacities, colors


def camera(width: int, height: int, focal: float = 50.0):
    intrinsics = torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    return torch.eye(4), intrinsics


def screen_inputs(seed: int, count: int, width: int, height: int):
    means, quats, scales, opacities, colors = random_scene(seed, count)
    screen = project(means, quats, scales, *camera(width, height), width, height)
    return screen, colors, opacities


@pytest.fixture(scope="module")
def kernel():
    built = cpu_kernel.load()
    assert built is not None, "the CPU compositor did not build (.ci/setup builds it with the machine's compiler)"
    return built


@pytest.mark.parametrize("seed,count,width,height", [(0, 300, 40, 33), (1, 1000, 64, 64), (2, 50, 17, 70)])
def test_the_kernel_equals_the_dense_reference(kernel, seed, count, width, height):
    screen, colors, opacities = screen_inputs(seed, count, width, height)
    args = (screen.means2d, screen.conics, colors, opacities, screen.depths, screen.radii, width, height)
    tiled_colors, tiled_alpha = composite_gaussians(*args)
    dense_colors, dense_alpha = composite_dense(*args)
    assert tiled_colors.shape == (height, width, 4) and tiled_alpha.shape == (height, width, 1)
    assert 0.1 < float(dense_alpha.mean()) < 0.99  # a scene with overlap and with holes
    assert torch.allclose(tiled_colors, dense_colors, atol=1e-5)
    assert torch.allclose(tiled_alpha, dense_alpha, atol=1e-5)


def test_tiles_bounded_by_visible_alpha_change_no_pixel_and_drop_most_pairs(kernel):
    # Faint, elongated Gaussians: gsplat's 3-sigma squares reach many tiles where their alpha is under 1/255.
    width, height = 96, 80
    means, quats, scales, opacities, colors = random_scene(5, 400)
    scales[:, 0] *= 4.0
    opacities = opacities * 0.1
    screen = project(means, quats, scales, *camera(width, height, focal=120.0), width, height)
    args = (screen.means2d, screen.conics, colors, opacities, screen.depths, screen.radii, width, height)
    ours, ours_alpha = composite_gaussians(*args)
    squares, squares_alpha = composite_dense(*args, opacity_bounds=False)
    assert 0.1 < float(squares_alpha.mean()) < 0.95
    assert torch.allclose(ours, squares, atol=1e-5) and torch.allclose(ours_alpha, squares_alpha, atol=1e-5)
    pairs = len(bin_tiles(screen.means2d, screen.radii, screen.depths, width, height, screen.conics, opacities)[1])
    square_pairs = len(bin_tiles(screen.means2d, screen.radii, screen.depths, width, height)[1])
    assert pairs < 0.6 * square_pairs


def test_the_kernel_gradients_equal_the_dense_reference_in_double_precision(kernel):
    width, height = 40, 33
    screen, colors, opacities = screen_inputs(0, 300, width, height)
    leaves = [t.detach() for t in (screen.means2d, screen.conics, colors, opacities)]
    weight_c, weight_a = torch.rand(height, width, 4), torch.rand(height, width, 1)

    def gradients(fn, dtype):
        inputs = [t.detach().to(dtype).clone().requires_grad_(True) for t in leaves]
        out_c, out_a = fn(*inputs, screen.depths, screen.radii, width, height)
        ((out_c * weight_c.to(dtype)).sum() + (out_a * weight_a.to(dtype)).sum()).backward()
        return [t.grad.float() for t in inputs]

    for ours, exact in zip(gradients(composite_gaussians, torch.float32), gradients(composite_dense, torch.float64)):
        assert float(exact.abs().max()) > 1.0
        assert torch.allclose(ours, exact, atol=2e-5, rtol=1e-5)


def test_the_kernel_gradients_match_finite_differences(kernel):
    # Central differences of the same image in double precision (the dense reference, equal to the kernel's forward
    # pass above) with a step small enough not to cross the alpha and transmittance thresholds.
    width, height = 24, 20
    screen, colors, opacities = screen_inputs(3, 40, width, height)
    leaves = [t.detach().clone() for t in (screen.means2d, screen.conics, colors, opacities)]
    weight = torch.rand(height, width, 4, dtype=torch.float64)

    def loss(fn, values):
        out_c, out_a = fn(*values, screen.depths, screen.radii, width, height)
        return (out_c.double() * weight).sum() + out_a.double().sum()

    inputs = [t.clone().requires_grad_(True) for t in leaves]
    loss(composite_gaussians, inputs).backward()
    generator = torch.Generator().manual_seed(0)
    checked = 0
    for which, leaf in enumerate(leaves):
        for flat in torch.randperm(leaf.numel(), generator=generator)[:12].tolist():
            step = 1e-6 * max(1.0, abs(float(leaf.view(-1)[flat])))
            shifted = []
            for sign in (1.0, -1.0):
                values = [t.double() for t in leaves]
                values[which].view(-1)[flat] += sign * step
                shifted.append(float(loss(composite_dense, values)))
            numeric = (shifted[0] - shifted[1]) / (2 * step)
            analytic = float(inputs[which].grad.view(-1)[flat])
            assert abs(numeric - analytic) <= 1e-4 * max(1.0, abs(analytic)), (which, flat, numeric, analytic)
            checked += abs(analytic) > 1e-3
    assert checked >= 24  # most of the probed entries have a gradient


def test_the_projection_matches_gsplats_torch_reference():
    from gsplat.cuda._torch_impl import _fully_fused_projection, _quat_scale_to_covar_preci

    width, height = 64, 48
    means, quats, scales, _, _ = random_scene(4, 500)
    means[:5, 2] = torch.tensor([-1.0, 0.005, 0.2, 30.0, 3.0])  # behind, before the near plane, close, far, ...
    means[4, 0] = 40.0  # ... and far off-screen
    angle = 0.3
    viewmat = torch.eye(4)
    viewmat[:3, :3] = torch.tensor(
        [[math.cos(angle), 0.0, math.sin(angle)], [0.0, 1.0, 0.0], [-math.sin(angle), 0.0, math.cos(angle)]]
    )
    viewmat[:3, 3] = torch.tensor([0.1, -0.2, 0.5])
    intrinsics = torch.tensor([[60.0, 0.0, 30.0], [0.0, 62.0, 25.0], [0.0, 0.0, 1.0]])
    ours = project(means, quats, scales, viewmat, intrinsics, width, height)
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False, triu=False)
    radii, means2d, depths, conics, _ = _fully_fused_projection(means, covars, viewmat[None], intrinsics[None], width,
                                                                 height)  # fmt: skip
    visible = radii[0] > 0
    assert 100 < int(visible.sum()) < 500
    assert torch.equal(ours.radii, radii[0])
    assert torch.allclose(ours.depths, depths[0], atol=1e-6)
    assert torch.allclose(ours.means2d[visible], means2d[0][visible], atol=1e-4)
    assert torch.allclose(ours.conics[visible], conics[0][visible], rtol=1e-4, atol=1e-6)


def test_one_gaussian_renders_as_the_formula_says(kernel):
    width = height = 32
    focal, depth, sigma, opacity = 40.0, 2.0, 0.05, 0.8
    means = torch.tensor([[0.0, 0.0, depth]])
    out, alpha = render_gaussians(
        means, torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.full((1, 3), sigma), torch.tensor([opacity]),
        torch.tensor([[0.2, 0.4, 0.6]]), *camera(width, height, focal), width, height,
    )  # fmt: skip
    variance = (focal * sigma / depth) ** 2 + 0.3  # projected variance in pixels^2, plus the low-pass
    for x, y in [(16, 16), (18, 16), (16, 13)]:
        dx, dy = x + 0.5 - 16.0, y + 0.5 - 16.0
        expected = opacity * math.exp(-0.5 * (dx * dx + dy * dy) / variance)
        assert float(alpha[y, x, 0]) == pytest.approx(expected, rel=1e-5)
        assert torch.allclose(out[y, x], torch.tensor([0.2, 0.4, 0.6]) * expected, rtol=1e-5)
    # At (19, 17) the formula gives an alpha under 1/255: skipped, so nothing at all.
    assert 0 < opacity * math.exp(-0.5 * (3.5**2 + 1.5**2) / variance) < 1 / 255
    assert float(alpha[17, 19, 0]) == 0.0 and float(out[17, 19].abs().sum()) == 0.0


def test_tiles_list_each_gaussian_once_per_touched_tile_nearest_first():
    means2d = torch.tensor([[8.0, 8.0], [20.0, 8.0], [8.0, 8.0]])
    radii = torch.tensor([3, 10, 0], dtype=torch.int32)  # the third is culled
    depths = torch.tensor([2.0, 1.0, 0.5])
    offsets, ids = bin_tiles(means2d, radii, depths, 32, 32)
    assert offsets.tolist() == [0, 2, 3, 4, 5]  # tile 0: both; tile 1: the second; tiles 2, 3 (row 2): the second
    assert ids.tolist() == [1, 0, 1, 1, 1]  # the nearer Gaussian (depth 1) first
