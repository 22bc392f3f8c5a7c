"""The φ⁴ action against its definition, its analytic force against autograd, and the
bare-parameter map against its inverse."""

import itertools
import math

import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action, bare_to_hopping, hopping_to_bare


def action_by_loops(phi, kappa, lam):
    """S from the textbook formula with explicit site loops (one configuration)."""
    shape = phi.shape
    total = 0.0
    for x in itertools.product(*[range(n) for n in shape]):
        hop = 0.0
        for mu in range(len(shape)):
            y = list(x)
            y[mu] = (y[mu] + 1) % shape[mu]
            hop += phi[x] * phi[tuple(y)]
        total += -2 * kappa * hop + (1 - 2 * lam) * phi[x] ** 2 + lam * phi[x] ** 4
    return float(total)


@pytest.mark.parametrize("dim,size", [(1, 6), (2, 4), (3, 3), (4, 2)])
def test_action_matches_site_loop_definition(dim, size):
    gen = torch.Generator().manual_seed(dim)
    action = Phi4Action(size=size, kappa=0.17, lam=0.3, dim=dim)
    phi = torch.randn((2, *action.site_shape), dtype=torch.float64, generator=gen)
    values = action(phi)
    for b in range(2):
        assert values[b].item() == pytest.approx(action_by_loops(phi[b], 0.17, 0.3), rel=1e-12)


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_force_is_minus_gradient(dim):
    action = Phi4Action(size=4, kappa=0.12, lam=0.7, dim=dim)
    phi = torch.randn((3, *action.site_shape), dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    phi.requires_grad_(True)
    (grad,) = torch.autograd.grad(action(phi).sum(), phi)
    torch.testing.assert_close(action.force(phi.detach()), -grad, rtol=1e-12, atol=1e-12)


def test_quadratic_kernel_is_the_free_action_in_momentum_space():
    """At λ = 0, S = ½ Σ_p A(p) |φ̃(p)|² / V (Parseval)."""
    action = Phi4Action(size=6, kappa=0.2, lam=0.0, dim=2)
    phi = torch.randn((4, 6, 6), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    phi_hat = torch.fft.fftn(phi, dim=(1, 2))
    s_momentum = 0.5 * (action.quadratic_kernel() * phi_hat.abs() ** 2).flatten(1).sum(1) / action.volume
    torch.testing.assert_close(s_momentum, action(phi), rtol=1e-12, atol=1e-12)


def test_bare_parameters_round_trip_and_rescale_the_action():
    for kappa, lam, dim in [(0.21, 0.022, 2), (0.27, 0.022, 2), (0.1, 1.3, 4), (0.3, 0.0, 1)]:
        m0_sq, lambda0 = hopping_to_bare(kappa, lam, dim)
        k2, l2 = bare_to_hopping(m0_sq, lambda0, dim)
        assert k2 == pytest.approx(kappa, rel=1e-12) and l2 == pytest.approx(lam, rel=1e-12, abs=1e-15)
    # the bare action of the rescaled field ϕ = √(2κ) φ equals the hopping-form action
    kappa, lam, dim = 0.18, 0.4, 2
    m0_sq, lambda0 = hopping_to_bare(kappa, lam, dim)
    action = Phi4Action(size=5, kappa=kappa, lam=lam, dim=dim)
    phi = torch.randn((2, 5, 5), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    varphi = math.sqrt(2 * kappa) * phi
    kinetic = sum(0.5 * (torch.roll(varphi, -1, ax) - varphi) ** 2 for ax in (1, 2))
    bare = (kinetic + 0.5 * m0_sq * varphi**2 + lambda0 / 24 * varphi**4).flatten(1).sum(1)
    torch.testing.assert_close(bare, action(phi), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(size=1, kappa=0.2, lam=0.1), "size L"),
    (dict(size=8, kappa=-0.1, lam=0.1), "kappa"),
    (dict(size=8, kappa=0.2, lam=-0.5), "lambda"),
    (dict(size=8, kappa=0.2, lam=0.1, dim=5), "dimension"),
    (dict(size=8, kappa=0.3, lam=0.0, dim=2), "free field"),
])
def test_bad_parameters_are_refused_with_a_named_message(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        Phi4Action(**kwargs)
