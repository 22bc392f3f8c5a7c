"""The independent-plaquette prior of the U(1) flow: exact lift, normalisation against the exact torus Z,
von Mises marginals, gauge invariance, and an exact independence-Metropolis chain at β = 6 where HMC freezes.

Exact inputs: Z(β) = (2π)^{2V} Σ_n I_n(β)^V, ⟨cos θ_P⟩ and χ_t on the torus (:mod:`qcdgen.lattice.u1.exact`),
and the von Mises mean I₁(κ)/I₀(κ).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.lattice.u1 import exact
from qcdgen.lattice.u1.action import U1Action, plaquettes, wrap_angle
from qcdgen.lattice.u1.flow import U1GaugeFlow
from qcdgen.lattice.u1.plaquette_prior import IndependentPlaquettes, link_shift


def gauge_transform(theta, alpha):
    """θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂); direction 0 is tensor axis −2, direction 1 axis −1."""
    t0 = theta[:, 0] + alpha - torch.roll(alpha, -1, -2)
    t1 = theta[:, 1] + alpha - torch.roll(alpha, -1, -1)
    return torch.stack([t0, t1], dim=1)


@pytest.mark.parametrize("size", [2, 4, 5])
def test_link_shift_produces_any_plaquette_field_with_zero_sum(size):
    g = torch.Generator().manual_seed(size)
    delta = 3 * torch.randn(7, size, size, generator=g, dtype=torch.float64)
    delta = delta - delta.mean(dim=(-2, -1), keepdim=True)
    shift = link_shift(delta)
    assert shift.shape == (7, 2, size, size)
    assert torch.allclose(plaquettes(shift), delta, atol=1e-12)


@pytest.mark.parametrize("size, beta", [(4, 3.0), (8, 6.0)])
def test_importance_weights_recover_the_exact_partition_function(size, beta):
    """log ⟨e^{−S}/q₀⟩_{q₀} = log Z: checks the normalisation, the measure (2π)^{2V} and the sampler at once."""
    prior = IndependentPlaquettes(size, beta)
    z = prior.sample(40_000, torch.Generator().manual_seed(1))
    log_w = -U1Action(size=size, beta=beta)(z) - prior.log_prob(z)
    w = torch.exp(log_w - log_w.max())
    estimate = float(torch.log(w.mean()) + log_w.max())
    error = float(w.std() / w.mean()) / math.sqrt(len(w))  # delta method for log of a mean
    assert abs(estimate - exact.log_partition(beta, size)) < 4 * error, (estimate, error)
    assert error < 0.02  # the weights are well behaved: e^{β cos θ_P0} is bounded


def test_free_plaquettes_are_von_mises_and_uncorrelated():
    beta, size = 4.0, 8
    z = IndependentPlaquettes(size, beta).sample(20_000, torch.Generator().manual_seed(2))
    cos = torch.cos(wrap_angle(plaquettes(z)))
    free = cos.flatten(1)[:, :-1]  # every plaquette except P0 = (L-1, L-1)
    n = free.numel()
    mean = float(free.mean())
    truth = exact.plaquette_infinite_volume(beta)
    assert abs(mean - truth) < 4 * float(free.std()) / math.sqrt(n)
    # neighbouring free plaquettes are independent: their cos correlation vanishes
    a, b = cos[:, 1:-1, 0].flatten(), cos[:, 1:-1, 1].flatten()
    corr = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    assert abs(corr) < 4 / math.sqrt(len(a))


def test_prior_density_is_gauge_invariant_and_samples_are_not_gauge_fixed():
    prior = IndependentPlaquettes(4, 2.5)
    g = torch.Generator().manual_seed(3)
    z = prior.sample(64, g)
    alpha = 2 * math.pi * torch.rand(64, 4, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(prior.log_prob(gauge_transform(z, alpha)), prior.log_prob(z), atol=1e-10)
    # the gauge part stays Haar-uniform: single links are flat on the circle, <cos θ_l> = 0
    links = torch.cos(wrap_angle(prior.sample(20_000, g))).flatten()
    assert abs(float(links.mean())) < 4 / math.sqrt(2 * len(links))


def test_flow_with_plaquette_prior_reports_its_prior_and_refuses_bad_beta():
    flow = U1GaugeFlow(4, layers=2, prior="plaquette", beta=2.0)
    assert flow.config["prior"] == "plaquette" and flow.config["prior_beta"] == 2.0
    theta, log_q = flow.sample(16, torch.Generator().manual_seed(4))
    assert torch.allclose(flow.log_prob(theta), log_q, atol=1e-9)
    for beta in (0.0, -1.0, None, float("nan")):
        with pytest.raises(InputError, match="beta > 0"):
            U1GaugeFlow(4, layers=2, prior="plaquette", beta=beta)
    with pytest.raises(InputError, match="--prior"):
        U1GaugeFlow(4, layers=2, prior="gaussian", beta=1.0)


@pytest.mark.parametrize("beta", [1.0, 3.0, 6.0])
def test_plaquette_prior_flow_with_metropolis_matches_the_torus(tmp_path, capsys, beta):
    """L = 8, β = 1, 3, 6: at β = 6 HMC's τ_int(Q) is ~10³ trajectories; the corrected chain decorrelates Q in a
    few proposals at every β."""
    model, out = tmp_path / "f.pt", tmp_path / "f.h5"
    assert main(["--threads", "1", "lattice", "u1-train", "--size", "8", "--beta", f"{beta}", "--prior", "plaquette",
                 "--layers", "2", "--steps", "5", "--batch-size", "16", "--eval-samples", "256",
                 "--out", str(model), "--no-progress"]) == 0
    assert main(["--threads", "1", "lattice", "u1-sample", str(model), "--configs", "30000", "--batch-size", "2000",
                 "--seed", "7", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["lattice", "observe", str(out), "--json"]) == 0
    est = json.loads(capsys.readouterr().out)["observables"]
    for name, truth in (("plaquette", exact.plaquette(beta, 8)),
                        ("topological_susceptibility", exact.topological_susceptibility(beta, 8))):
        value, error = est[name]["value"], est[name]["error"]
        assert abs(value - truth) < 3 * error, (name, value, error, truth)
    assert est["topological_charge"]["tau_int"] < 5  # HMC: about 1.4e3 trajectories (RESULTS.md)


def test_cli_refuses_an_unknown_prior(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's usage error, one line
        main(["lattice", "u1-train", "--size", "8", "--beta", "6", "--prior", "gaussian",
              "--out", str(tmp_path / "m.pt")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prior" in err[0]


def test_untrained_flow_is_refused_on_the_uniform_prior(tmp_path, capsys):
    assert main(["lattice", "u1-train", "--size", "8", "--beta", "2", "--steps", "0",
                 "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prior plaquette" in err[0] and not (tmp_path / "m.pt").exists()
