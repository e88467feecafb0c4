"""Interaction modules: shapes, parameter counts, Prop. 1, the N = 2 expansion of Eq. (11), gradients."""

from __future__ import annotations

import pytest
import torch

from minerf_ns.interaction import INTERACTIONS, HighDegree, Multiplicative, make_interaction

D = 53


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", INTERACTIONS)
def test_shapes(name):
    module = make_interaction(name, D)
    out = module(torch.rand(5, 7, D), torch.randn(5, 7, D))
    assert out.shape == (5, 7, module.out_dim) and out.dtype == torch.float32


def test_parameter_counts():
    k = 8
    assert n_params(make_interaction("multiplicative", D, rank=k)) == 2 * k * D + D * k + 2 * D * D
    assert n_params(make_interaction("high-degree", D, degree=2)) == 2 * 2 * D * D + D * D
    assert n_params(make_interaction("concat", D)) == 0 and make_interaction("concat", D).out_dim == 2 * D
    assert n_params(make_interaction("a1", D)) == 2 * D * D
    assert n_params(make_interaction("a3", D)) == D * D
    assert n_params(make_interaction("a6", D)) == 3 * D * D
    assert n_params(make_interaction("a7", D)) == D**3


def test_prop1_multiplicative_equals_cp_factored_trilinear_form():
    torch.manual_seed(0)
    m = Multiplicative(D, rank=8).double()
    e, i = torch.rand(4, D, dtype=torch.float64), torch.randn(4, D, dtype=torch.float64)
    # W[o, a, b] = sum_r C[o, r] U1[r, a] U2[r, b]  (CP decomposition, Eq. 9)
    W = torch.einsum("or,ra,rb->oab", m.C.weight, m.U1.weight, m.U2.weight)
    trilinear = torch.einsum("oab,na,nb->no", W, e, i) + e @ m.W2.weight.T + i @ m.W3.weight.T
    assert torch.allclose(m(e, i), trilinear, atol=1e-10)
    # And it is genuinely multiplicative: not additive in (e, i).
    e2 = torch.rand(4, D, dtype=torch.float64)
    lhs = m(e + e2, i) - m(e, i) - m(e2, i)
    assert lhs.abs().max() > 1e-3


def test_high_degree_n2_equals_eq11_expansion():
    torch.manual_seed(1)
    h = HighDegree(D, degree=2).double()
    e, i = torch.rand(3, D, dtype=torch.float64), torch.randn(3, D, dtype=torch.float64)
    C = h.C
    u11, u12, u21, u22 = h.U_e[0], h.U_i[0], h.U_e[1], h.U_i[1]
    expansion = (
        C(u21(e) * u11(e)) + C(u21(e) * u12(i)) + C(u22(i) * u11(e)) + C(u22(i) * u12(i)) + C(u11(e)) + C(u12(i))
    )
    assert torch.allclose(h(e, i), expansion, atol=1e-10)


@pytest.mark.parametrize("name", ["multiplicative", "high-degree", "a5", "a7"])
def test_gradients_reach_both_sides(name):
    module = make_interaction(name, D)
    e = torch.rand(6, D, requires_grad=True)
    i = torch.randn(6, D, requires_grad=True)
    module(e, i).square().sum().backward()
    assert e.grad is not None and e.grad.abs().sum() > 0 and i.grad is not None and i.grad.abs().sum() > 0
    for pname, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_unknown_interaction_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown interaction 'mult'; choose one of multiplicative"):
        make_interaction("mult", D)
