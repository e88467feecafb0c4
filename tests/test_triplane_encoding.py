"""The tri-plane encoding (pure torch): shapes, exact texel lookup, product of planes, smoothness prior, gradients."""

from __future__ import annotations

import torch

from minerf_ns.encodings import TriPlaneEncoding


def test_shapes_and_parameter_count():
    enc = TriPlaneEncoding(resolutions=(8, 16), channels=4)
    assert enc.out_dim == 8
    assert sum(p.numel() for p in enc.parameters()) == 3 * 4 * (8 * 8 + 16 * 16)
    out = enc(torch.rand(5, 7, 3) * 2 - 1)
    assert out.shape == (5, 7, 8) and out.dtype == torch.float32


def test_a_corner_point_reads_the_corner_texels_and_multiplies_the_planes():
    enc = TriPlaneEncoding(resolutions=(4,), channels=2)
    with torch.no_grad():
        enc.planes[0].copy_(torch.arange(3 * 2 * 16, dtype=torch.float32).reshape(3, 2, 4, 4) + 1)
    out = enc(torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]))
    planes = enc.planes[0].detach()
    # (u, v) = (first axis, second axis) of each plane: [-1, -1] is texel [0, 0], [1, 1] is texel [-1, -1].
    assert torch.allclose(out[0], planes[:, :, 0, 0].prod(dim=0))
    assert torch.allclose(out[1], planes[:, :, -1, -1].prod(dim=0))


def test_planes_start_near_one_and_total_variation_of_constant_planes_is_zero():
    enc = TriPlaneEncoding(resolutions=(8,), channels=3, init_range=0.1)
    out = enc(torch.rand(100, 3) * 2 - 1)
    assert 0.7 < float(out.min()) and float(out.max()) < 1.34  # (1 +- 0.1)^3
    assert float(enc.total_variation()) > 0
    with torch.no_grad():
        enc.planes[0].fill_(0.5)
    assert float(enc.total_variation()) == 0.0


def test_gradients_reach_every_level():
    enc = TriPlaneEncoding(resolutions=(4, 8), channels=2)
    enc(torch.rand(64, 3) * 2 - 1).sum().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in enc.planes)
