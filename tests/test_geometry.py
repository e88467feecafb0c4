"""The two geometries and their fields: shapes, the per-ray condition (split weights equal the concatenated input),
the MLP field's positive start, the tri-plane density outside the head box, parameter groups and regularisers, the
expression warp."""

from __future__ import annotations

import pytest
import torch

from minerf_ns.contract import CONDITION, EXPRESSION
from minerf_ns.face.head_model import load_head_model
from minerf_ns.geometry import MlpGeometryConfig, TriplaneGeometryConfig
from minerf_ns.geometry.base import split_linear
from minerf_ns.geometry.mlp import MlpField
from nerfstudio.cameras.rays import Frustums, RayBundle, RaySamples
from nerfstudio.field_components.field_heads import FieldHeadNames

AABB = torch.tensor([[-0.3] * 3, [0.3] * 3])


def samples(num_rays: int, num_samples: int, condition: torch.Tensor, start: float = 0.7) -> RaySamples:
    origins = torch.tensor([0.0, 0.0, 1.0]).expand(num_rays, num_samples, 3)
    directions = torch.nn.functional.normalize(torch.randn(num_rays, 1, 3) * 0.1 + torch.tensor([0, 0, -1.0]), dim=-1)
    starts = torch.linspace(start, start + 0.6, num_samples)[None, :, None].expand(num_rays, num_samples, 1)
    frustums = Frustums(origins, directions.expand(num_rays, num_samples, 3), starts, starts + 0.01,
                        torch.ones(num_rays, num_samples, 1))  # fmt: skip
    return RaySamples(frustums=frustums, metadata={CONDITION: condition[:, None, :].expand(-1, num_samples, -1)})


def rays(num_rays: int, condition: torch.Tensor) -> RayBundle:
    directions = torch.nn.functional.normalize(torch.randn(num_rays, 3) * 0.1 + torch.tensor([0, 0, -1.0]), dim=-1)
    return RayBundle(origins=torch.tensor([0.0, 0.0, 1.0]).expand(num_rays, 3), directions=directions,
                     pixel_area=torch.ones(num_rays, 1), nears=torch.full((num_rays, 1), 0.6),
                     fars=torch.full((num_rays, 1), 1.3), metadata={CONDITION: condition})  # fmt: skip


def test_split_linear_equals_the_layer_on_the_concatenation():
    torch.manual_seed(0)
    layer = torch.nn.Linear(5 + 3, 4)
    per_sample, per_ray = torch.randn(6, 7, 5), torch.randn(6, 1, 3)
    expected = layer(torch.cat([per_sample, per_ray.expand(-1, 7, -1)], -1))
    assert torch.allclose(split_linear(layer, (per_sample, per_ray)), expected, atol=1e-6)
    with pytest.raises(AssertionError):
        split_linear(layer, (per_sample,))  # the parts must cover the input


@pytest.mark.parametrize("seed", range(5))
def test_mlp_density_starts_positive_so_relu_passes_gradients(seed):
    torch.manual_seed(seed)
    field = MlpField(condition_dim=85, num_layers=4, hidden_dim=128, skip_layer=2, color_layers=2, color_dim=64,
                     position_frequencies=8)  # fmt: skip
    condition = torch.randn(64, 85)  # identity codes have std 1, like M(e, i) at init
    density, embedding = field.get_density(samples(64, 16, condition))
    assert density.shape == (64, 16, 1) and embedding.shape == (64, 16, 128)
    # measured on seeds 0-4: 34, 5, 1, 10, 96 % of samples positive with PyTorch's default bias; 91-100 % with ours.
    assert float((density > 0).float().mean()) > 0.5
    density.sum().backward()
    assert float(field.trunk[0].weight.grad.abs().sum()) > 0


def test_mlp_field_sees_its_condition_per_ray():
    torch.manual_seed(0)
    field = MlpField(condition_dim=6, num_layers=3, hidden_dim=16, skip_layer=1, color_layers=1, color_dim=8,
                     position_frequencies=2)  # fmt: skip
    condition = torch.randn(2, 6)
    ray_samples = samples(2, 5, condition)
    rgb = field(ray_samples)[FieldHeadNames.RGB]
    assert rgb.shape == (2, 5, 3)
    # The same samples with the other ray's condition give other colours; with their own, the same.
    swapped = RaySamples(
        frustums=ray_samples.frustums, metadata={CONDITION: condition.flip(0)[:, None].expand(-1, 5, -1)}
    )
    assert not torch.allclose(field(swapped)[FieldHeadNames.RGB], rgb)
    assert torch.equal(field(ray_samples)[FieldHeadNames.RGB], rgb)


@pytest.mark.parametrize("kind", ["mlp", "triplane"])
def test_each_geometry_renders_named_passes_over_the_background(kind):
    torch.manual_seed(0)
    if kind == "mlp":
        config = MlpGeometryConfig(num_coarse_samples=8, num_importance_samples=8, num_layers=2, hidden_dim=16,
                                   skip_layer=1, color_layers=1, color_dim=8, position_frequencies=2)  # fmt: skip
    else:
        config = TriplaneGeometryConfig(num_proposal_samples=8, num_samples=8, plane_resolutions=(8, 16),
                                        plane_channels=2, decoder_dim=16)  # fmt: skip
    geometry = config.setup(condition_dim=6, aabb=AABB)
    background = torch.rand(5, 3)
    passes = geometry(rays(5, torch.randn(5, 6)), background)
    assert tuple(passes) == geometry.pass_names and set(geometry.supervised_passes) <= set(passes)
    final = passes[geometry.pass_names[-1]]
    assert final.rgb.shape == (5, 3) and final.accumulation.shape == (5, 1) and final.depth.shape == (5, 1)
    # Every ray ends on its opaque background sample: the weights sum to 1 and the colour is a convex mix.
    assert torch.allclose(final.weights.sum(dim=1), torch.ones(5, 1), atol=1e-5)
    head = final.weights[:, :-1].sum(dim=1)
    assert torch.allclose(head, final.accumulation, atol=1e-6) and bool((head < 1).all())
    groups = geometry.parameter_groups()
    assert sum(len(g) for g in groups.values()) == len(list(geometry.parameters()))
    if kind == "triplane":
        assert len(groups["grids"]) == 2 and float(geometry.regularizers()["plane_tv"]) > 0
    else:
        assert set(groups) == {"fields"} and geometry.regularizers() == {}


def test_triplane_density_is_zero_outside_the_head_box():
    torch.manual_seed(0)
    geometry = TriplaneGeometryConfig(plane_resolutions=(8,), plane_channels=2, decoder_dim=8).setup(
        condition_dim=4, aabb=AABB
    )
    inside = samples(3, 6, torch.randn(3, 4), start=0.8)  # z from 0.2 to -0.4 ... crossing the box
    outside = samples(3, 6, torch.randn(3, 4), start=-1.0)  # z from 2.0 to 1.4: behind the camera's side
    density_out, _ = geometry.field.get_density(outside)
    density_in, _ = geometry.field.get_density(inside)
    assert float(density_out.abs().max()) == 0.0 and float(density_in.max()) > 0.0


@pytest.mark.parametrize("plane_gains", [False, True])
def test_sparse_rendering_with_nothing_to_skip_equals_the_dense_passes(plane_gains):
    torch.manual_seed(0)
    config = TriplaneGeometryConfig(num_proposal_samples=8, num_samples=8, plane_resolutions=(8, 16), plane_channels=2,
                                    decoder_dim=16, min_render_weight=0.0, plane_gains=plane_gains)  # fmt: skip
    geometry = config.setup(condition_dim=6, aabb=AABB).eval()
    if plane_gains:  # gains that differ per ray, so the sparse path's indexing of them is exercised
        torch.nn.init.normal_(geometry.field.plane_gain.weight, std=0.5)
    bundle, background = rays(7, torch.randn(7, 6)), torch.rand(7, 3)
    dense = geometry(bundle, background)["fine"]
    geometry.occupancy.computed_at.fill_(0)  # a "computed" grid with every cell occupied
    assert geometry.renders_sparsely
    sparse = geometry(bundle, background)["fine"]
    for key in ("rgb", "accumulation", "depth", "weights"):
        assert torch.allclose(getattr(sparse, key), getattr(dense, key), atol=1e-5), key


def test_plane_gains_start_at_one_and_learn_per_condition():
    """With plane gains the field starts exactly as without them; the gains then get gradients and differ per ray."""
    torch.manual_seed(0)
    sizes = dict(plane_resolutions=(8,), plane_channels=2, decoder_dim=8)
    plain = TriplaneGeometryConfig(**sizes).setup(condition_dim=4, aabb=AABB)
    gained = TriplaneGeometryConfig(**sizes, plane_gains=True).setup(condition_dim=4, aabb=AABB)
    missing, _ = gained.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["field.plane_gain.weight", "field.plane_gain.bias"]
    ray_samples = samples(5, 6, torch.randn(5, 4), start=0.8)
    density, _ = gained.field.get_density(ray_samples)
    assert torch.equal(density, plain.field.get_density(ray_samples)[0])
    density.sum().backward()
    assert float(gained.field.plane_gain.weight.grad.abs().sum()) > 0
    torch.nn.init.normal_(gained.field.plane_gain.weight)
    terms = gained.field.condition_term(torch.randn(2, 4))
    assert terms.shape == (2, 8 + 2) and not torch.allclose(terms[0, 8:], terms[1, 8:])


def test_occupancy_grid_marks_dilated_cells_of_a_density_and_skips_the_rest():
    from minerf_ns.occupancy import OccupancyGrid

    grid = OccupancyGrid(resolution=8)
    assert not grid.ready and bool(grid.lookup(torch.zeros(1, 3)).all())  # uncomputed: everything occupied
    grid.update(lambda x: (x.norm(dim=-1) < 0.3).float(), threshold=0.5, step=7, dilation=0)
    assert grid.ready and int(grid.computed_at) == 7
    assert int(grid.occupied.sum()) == 8  # the 8 cells whose centres are within 0.3 of the origin
    points = torch.tensor([[0.1, 0.1, 0.1], [0.9, 0.9, 0.9], [1.5, 0.0, 0.0]])
    assert grid.lookup(points).tolist() == [True, False, False]  # inside, empty cell, outside the box
    grid.update(lambda x: (x.norm(dim=-1) < 0.3).float(), threshold=0.5, step=8, dilation=1)
    assert int(grid.occupied.sum()) == 4**3  # grown by one cell on every side


def test_sparse_rendering_of_a_shape_skips_empty_space_and_matches_the_dense_render():
    torch.manual_seed(0)
    config = TriplaneGeometryConfig(num_proposal_samples=16, num_samples=16, plane_resolutions=(16,), plane_channels=2,
                                    decoder_dim=16)  # fmt: skip
    geometry = config.setup(condition_dim=4, aabb=AABB).eval()
    with torch.no_grad():  # density only in a ball of radius 0.1 m: the grid's x in [-1/3, 1/3]
        last = geometry.field.density_decoder[-1]
        last.weight.zero_()
        last.bias.fill_(-30.0)
    decode = geometry.field.decode

    evaluated = [0]

    def ball(x, term):
        evaluated[0] += x.shape[:-1].numel()
        density, features = decode(x, term)
        return torch.where(x.norm(dim=-1, keepdim=True) < 1 / 3, torch.full_like(density, 50.0), density), features

    geometry.field.decode = ball
    condition = torch.randn(64, 4)
    bundle = rays(64, condition)
    bundle.directions = torch.nn.functional.normalize(torch.randn(64, 3) * 0.15 + torch.tensor([0, 0, -1.0]), dim=-1)
    background = torch.rand(64, 3)
    dense = geometry(bundle, background)["fine"]
    dense_count = evaluated[0]
    geometry.update_occupancy(condition[:4], step=0)
    assert 0.0 < geometry.occupancy.occupied_fraction < 0.1
    evaluated[0] = 0
    sparse = geometry(bundle, background)["fine"]
    assert evaluated[0] < 0.2 * dense_count  # measured: 373 of 3,136
    print(f"field evaluations: dense {dense_count}, sparse {evaluated[0]}")
    hit = dense.accumulation[:, 0] > 0.5
    assert 5 < int(hit.sum()) < 60  # some rays meet the ball, some miss it
    assert torch.allclose(sparse.rgb, dense.rgb, atol=2e-3) and torch.allclose(
        sparse.accumulation, dense.accumulation, atol=2e-3
    )


@pytest.mark.parametrize("kind", ["mlp", "triplane"])
def test_the_expression_warp_moves_what_the_field_sees_at_the_mouth_only(kind):
    head = load_head_model()
    jaw = torch.zeros(head.num_expressions)
    jaw[head.expression_index("jawOpen")] = 0.5
    renders = {}
    for warp in (False, True):
        torch.manual_seed(0)  # the same weights with and without the warp (it draws no random numbers)
        if kind == "mlp":
            config = MlpGeometryConfig(num_coarse_samples=8, num_importance_samples=8, num_layers=2, hidden_dim=16,
                                       skip_layer=1, color_layers=1, color_dim=8, position_frequencies=2,
                                       expression_warp=warp)  # fmt: skip
        else:
            config = TriplaneGeometryConfig(num_proposal_samples=8, num_samples=8, plane_resolutions=(8, 16),
                                            plane_channels=2, decoder_dim=16, expression_warp=warp)  # fmt: skip
        geometry = config.setup(condition_dim=6, aabb=AABB, expression_dim=head.num_expressions)
        lip = torch.tensor(head.neutral[head.landmark68[57]])
        bundle = rays(4, torch.randn(4, 6))
        bundle.directions = torch.nn.functional.normalize(lip - bundle.origins, dim=-1)  # through the lower lip
        for name, expression in (("neutral", torch.zeros(head.num_expressions)), ("open", jaw)):
            bundle.metadata[EXPRESSION] = expression.expand(4, -1)
            torch.manual_seed(1)  # the same stratified samples
            renders[warp, name] = geometry(bundle, torch.zeros(4, 3))[geometry.pass_names[-1]].rgb
    assert torch.equal(renders[True, "neutral"], renders[False, "neutral"])  # no expression: no warp
    assert torch.equal(renders[False, "open"], renders[False, "neutral"])  # unwarped: the expression is not read
    assert not torch.allclose(renders[True, "open"], renders[True, "neutral"])  # warped: an open jaw moves the lip
    # Another expression basis has no mesh: no warp, whatever the option says.
    other_basis = TriplaneGeometryConfig(expression_warp=True).setup(condition_dim=6, aabb=AABB, expression_dim=79)
    assert other_basis.field.warp is None
