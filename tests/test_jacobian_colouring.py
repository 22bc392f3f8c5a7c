"""Exact Jacobians of local networks from one VJP per colour: against the full autograd Jacobian, for plain
periodic convolutions and for the lattice diffusion model's score inside the probability-flow drift."""

from __future__ import annotations

import itertools

import pytest
import torch

from qcdgen.diffusion import VESDE, VPSDE, ScoreModel, StationaryGaussian, flow_sample
from qcdgen.diffusion.flow import drift_and_jacobian, local_radius
from qcdgen.diffusion.jacobian_colouring import axis_colours, local_jacobian, probe_count, site_colours
from qcdgen.errors import InputError
from qcdgen.nn.periodic_cnn import PeriodicScoreCNN


def full_jacobian(fn, x):
    """[batch, V, V] by dense autograd (the reference)."""
    n = len(x)
    jac = torch.autograd.functional.jacobian(lambda y: fn(y).reshape(n, -1), x).reshape(n, -1, n, x[0].numel())
    return torch.stack([jac[b, :, b] for b in range(n)])


def conv_map(dim, layers, seed=0):
    """A local nonlinear map with receptive radius = layers (3-wide circular kernels)."""
    conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dim]
    g = torch.Generator().manual_seed(seed)
    convs = [conv(1, 1, 3, padding=1, padding_mode="circular", bias=True).double() for _ in range(layers)]
    with torch.no_grad():
        for c in convs:
            c.weight.copy_(torch.randn(c.weight.shape, generator=g, dtype=torch.float64))

    def fn(x):
        h = x.unsqueeze(1)
        for c in convs:
            h = torch.tanh(c(h))
        return h.squeeze(1)
    return fn


@pytest.mark.parametrize("shape, layers", [((23,), 2), ((10, 12), 2), ((7, 6, 5), 1), ((9, 9), 4)])
def test_coloured_jacobian_equals_the_dense_autograd_jacobian(shape, layers):
    fn = conv_map(len(shape), layers)
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out, jac = local_jacobian(fn, x, layers)
    ref = full_jacobian(fn, x)
    assert torch.allclose(out, fn(x).reshape(3, -1))
    assert torch.allclose(jac, ref, atol=1e-12, rtol=0)
    assert ref.abs().max() > 0.1


def test_too_small_a_radius_gives_a_wrong_jacobian():
    """The colouring trusts the declared radius: a map of radius 2 read with radius 1 mixes rows."""
    fn = conv_map(2, 2)
    x = torch.randn(2, 12, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert not torch.allclose(local_jacobian(fn, x, 1)[1], full_jacobian(fn, x), atol=1e-6)


def test_colour_counts():
    # 2r + 1 divides L: exactly (2r + 1)^d probes; same colours at least 2r + 1 apart on the circle
    assert site_colours((15, 15), 2)[1] == 25 and site_colours((15, 15, 15), 2)[1] == 125
    for length, radius in itertools.product(range(3, 40), range(0, 6)):
        colours = axis_colours(length, radius)
        for c in colours.unique():
            where = (colours == c).nonzero().flatten()
            if len(where) > 1:
                gaps = torch.diff(torch.cat([where, where[:1] + length]))
                assert gaps.min() >= 2 * radius + 1, (length, radius)
        assert len(colours.unique()) <= length
    assert probe_count((8, 8), 6) == 64  # the box covers the lattice: no saving
    assert probe_count((32, 32), 4) == 144  # m = 10: 10 + 32 mod 10 = 12 colours per axis
    with pytest.raises(InputError):
        site_colours((8,), -1)


def test_score_network_declares_its_true_receptive_radius():
    net = PeriodicScoreCNN(dim=2, channels=4, blocks=1, embed_dim=8).double()
    assert net.receptive_radius == 4
    x = torch.randn(1, 12, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    c = torch.zeros(1, dtype=torch.float64)
    jac = full_jacobian(lambda y: net(y, c.expand(len(y))), x)[0].reshape(12, 12, 12, 12)
    dist = torch.zeros(12, 12, 12, 12, dtype=torch.long)
    for i0, i1, j0, j1 in itertools.product(range(12), repeat=4):
        d0, d1 = abs(i0 - j0), abs(i1 - j1)
        dist[i0, i1, j0, j1] = max(min(d0, 12 - d0), min(d1, 12 - d1))
    assert jac[dist > 4].abs().max() == 0
    assert jac[dist == 4].abs().max() > 1e-8  # the radius is reached, not overstated


@pytest.mark.parametrize("sde", [VESDE(), VPSDE()])
def test_drift_jacobian_with_gaussian_part_matches_the_dense_path(sde):
    """F = f − ½g²(s_G + net/s): colouring for the network, the circulant built directly for s_G."""
    size = 20  # blocks = 1, r = 4: 10 colours per axis, 100 VJPs instead of 400
    torch.manual_seed(0)
    net = PeriodicScoreCNN(dim=2, channels=4, blocks=1, embed_dim=8).double()
    power = 0.5 + torch.rand(size, size, dtype=torch.float64)
    power = 0.5 * (power + torch.roll(torch.flip(power, (0, 1)), (1, 1), (0, 1)))  # P(k) = P(−k): a real field
    score = ScoreModel(net, sde, StationaryGaussian(power))
    assert local_radius(score, (size, size)) == 4
    x = torch.randn(2, size, size, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    t = torch.full((2,), 0.3, dtype=torch.float64)
    f_fast, j_fast = drift_and_jacobian(score, sde, x, t)
    f_ref, j_ref = drift_and_jacobian(score, sde, x, t, colouring=False)
    assert torch.allclose(f_fast, f_ref, atol=1e-12)
    assert torch.allclose(j_fast, j_ref, atol=1e-9 * float(j_ref.abs().max()))


def test_flow_sample_log_q_is_unchanged_by_colouring():
    torch.manual_seed(1)
    net = PeriodicScoreCNN(dim=2, channels=4, blocks=1, embed_dim=8).double()
    score = ScoreModel(net, VESDE(), StationaryGaussian(torch.ones(20, 20, dtype=torch.float64)))
    a = flow_sample(score, score.sde, (2, 20, 20), 3, torch.Generator().manual_seed(5), dtype=torch.float64)
    b = flow_sample(score, score.sde, (2, 20, 20), 3, torch.Generator().manual_seed(5), dtype=torch.float64,
                    colouring=False)
    assert torch.allclose(a.x, b.x) and torch.allclose(a.log_q, b.log_q, atol=1e-8, rtol=0)
