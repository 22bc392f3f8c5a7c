"""The XY continuous autoregressive network: an exact, normalised, O(2)-invariant autoregressive density,
and the shared sampler pipeline (train by reverse KL, independence Metropolis) reproducing Wolff."""

import math
import warnings

import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.lattice.xy import XYAction
from qcdgen.lattice.xy.can import CAN, sample_von_mises
from qcdgen.mcmc import log_partition_estimate


def _random_can(size=4, seed=1, scale=0.3):
    """A CAN with a random (non-zero) head, so the conditionals are far from flat."""
    net = CAN(size, channels=8, depth=2, kernel_size=3, components=3, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen))
    return net


def test_von_mises_draws_have_the_exact_moments():
    gen = torch.Generator().manual_seed(0)
    n = 100_000
    for kappa in (0.05, 1.5, 20.0):
        x = sample_von_mises(torch.full((n,), 0.4, dtype=torch.float64), torch.full((n,), kappa, dtype=torch.float64), gen)
        c = torch.cos(x - 0.4)
        from scipy.special import ive
        truth = ive(1, kappa) / ive(0, kappa)
        assert abs(float(c.mean()) - truth) < 4 * float(c.std()) / math.sqrt(n)
        assert abs(float(torch.sin(x - 0.4).mean())) < 4 * float(torch.sin(x - 0.4).std()) / math.sqrt(n)


def test_density_is_invariant_under_global_rotation_and_2pi_shifts():
    net = _random_can()
    gen = torch.Generator().manual_seed(2)
    theta, log_q = net.sample(64, gen)
    torch.testing.assert_close(net.log_prob(theta), log_q, rtol=0, atol=1e-6)
    rotated = theta + 1.234
    shifted = theta + 2 * math.pi * torch.randint(-2, 3, theta.shape, generator=gen)
    # float32 networks: other representatives of the same angles move the inputs by an ulp
    torch.testing.assert_close(net.log_prob(rotated), log_q, rtol=0, atol=1e-5)
    torch.testing.assert_close(net.log_prob(shifted), log_q, rtol=0, atol=1e-5)


def test_conditionals_depend_only_on_earlier_sites():
    """Every site, seams included: moving the sites from i on leaves q_i unchanged, and the periodic
    neighbours (a, 0) of (a, L−1) and (0, b) of (L−1, b) do enter q_i."""
    size = 5
    net = _random_can(size=size)
    gen = torch.Generator().manual_seed(3)
    theta, _ = net.sample(8, gen)
    rel = theta - theta[:, :1, :1]
    params = lambda r, a, b: [p[:, :, a, b] for p in net.params(r)]  # noqa: E731
    for site in range(1, size * size):
        a, b = divmod(site, size)
        later = rel.clone().flatten(1)
        later[:, site:] += torch.rand(later[:, site:].shape, generator=gen, dtype=torch.float64)
        for before, after in zip(params(rel, a, b), params(later.view_as(rel), a, b)):
            torch.testing.assert_close(after, before)
    for (a, b), (na, nb) in (((2, size - 1), (2, 0)), ((size - 1, 2), (0, 2))):
        moved = rel.clone()
        moved[:, na, nb] += 1.0
        assert not torch.allclose(params(moved, a, b)[1], params(rel, a, b)[1])


@pytest.mark.parametrize("size, depth", [(3, 2), (4, 1)], ids=["whole-lattice", "row-windows"])
def test_density_is_normalised_and_matches_the_draws(size, depth):
    """E_q[1/q] = (2π)^V (Z of the flat target): fails if log q is not normalised or the draws do not follow it.
    On 4×4 with one 3×3 layer the draws of rows 2, 3 run on row windows and the last row/column use the
    periodic inputs."""
    net = CAN(size, channels=8, depth=depth, kernel_size=3, components=3, seed=1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    assert net.rows_needed < size - 1 or size == 3
    gen = torch.Generator().manual_seed(4)
    _, log_q = net.sample(20_000, gen)
    log_z, error = log_partition_estimate((-log_q).numpy())
    exact = size * size * math.log(2 * math.pi)
    assert error < 0.05
    assert abs(log_z - exact) < 4 * error


def test_receptive_field_refuses_a_small_lattice():
    with pytest.raises(InputError, match="--size 4 is smaller than the CAN's masked kernel"):
        CAN(4, kernel_size=5)


def test_can_plus_metropolis_reproduces_wolff(tmp_path):
    """Train briefly at T = 2 on 6×6, correct by independence Metropolis, and compare with a Wolff ensemble."""
    from qcdgen.lattice.samplers import sample_lattice_sampler, train_lattice_sampler
    from qcdgen.lattice.validation import validate_ensembles
    from qcdgen.lattice.xy.wolff import WolffSettings, generate_wolff_ensemble

    torch.set_num_threads(1)
    action = XYAction(size=6, temperature=2.0)
    model = train_lattice_sampler("xy-can", action, tmp_path / "can.pt",
                                  dict(channels=8, depth=2, kernel_size=3, components=2, steps=60, batch_size=64,
                                       lr=1e-2, warmup=5, eval_samples=256), progress=False)
    assert model.loss_values[-1] < model.loss_values[0]  # F_q = KL − log Z decreases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sample_lattice_sampler(tmp_path / "can.pt", tmp_path / "gen.h5",
                                        dict(configs=3000, batch_size=1000, seed=5), sampler="xy-can", progress=False)
        generate_wolff_ensemble(tmp_path / "ref.h5", WolffSettings(size=6, temperature=2.0, configs=3000, chains=4,
                                                                   seed=6, thermalize=100, separation=2, clusters=1),
                                progress=False)
        report = validate_ensembles(tmp_path / "gen.h5", tmp_path / "ref.h5", max_abs_pull=4.0)
    assert result.exact and 0.05 < result.acceptance < 1.0
    rows = {row.observable: row for row in report.table.rows}
    assert set(rows) == {"energy", "magnetisation", "helicity_modulus", "vortex_density"}
    for row in rows.values():
        assert abs(row.pull) < 4.0, row
