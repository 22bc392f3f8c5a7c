"""Schrödinger bridge ([SF]²M bridge matching): the Sinkhorn plan reproduces the closed-form entropic-OT
covariance of two Gaussians (Janati et al. 2020), the closed-form Gaussian bridge carries N(0, I) to the
exact free-field density, and the Metropolis-corrected sampler reproduces the exact <phi^2> and log Z."""

import math

import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.diffusion.flow_matching import VelocityModel, cfm_loss, transport_sample
from qcdgen.diffusion.schrodinger_bridge import BrownianBridgePath, sample_coupling, sinkhorn_plan
from qcdgen.errors import InputError
from qcdgen.io import read_ensemble
from test_flow_matching import KAPPA, L, check_free_field, exact_gaussian_model, free_covariance

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("sigma", [0.5, 1.5])
def test_sinkhorn_plan_has_the_closed_form_entropic_covariance(sigma):
    """Between N(0, 1) and N(0, c) with eps = 2 sigma^2: Cov(x0, x1) = (sqrt(4c + sigma^4) - sigma^2)/2
    (Janati, Muzellec, Peyre & Cuturi, NeurIPS 2020). 400 quantile points of each: the empirical
    measures are close to the Gaussians (0.3-0.5% off at n = 400), and the plan's covariance to the formula."""
    c, n = 4.0, 400
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    q = math.sqrt(2) * torch.erfinv(2 * u - 1)  # standard normal quantiles
    x0, x1 = q[torch.randperm(n, generator=torch.Generator().manual_seed(0))], math.sqrt(c) * q
    plan = sinkhorn_plan(x0[:, None], x1[:, None], 2 * sigma ** 2, iters=2000, tol=1e-8).exp()
    assert torch.allclose(plan.sum(0), torch.full((n,), 1 / n, dtype=torch.float64), rtol=1e-6)
    assert torch.allclose(plan.sum(1), torch.full((n,), 1 / n, dtype=torch.float64), rtol=1e-5)
    cov = float(x0 @ plan @ x1)
    exact = 0.5 * (math.sqrt(4 * c + sigma ** 4) - sigma ** 2)
    assert cov == pytest.approx(exact, rel=0.01), (cov, exact)


@pytest.mark.parametrize("coupling", ["sinkhorn", "independent"])
def test_closed_form_bridge_gives_the_exact_free_field_density(coupling):
    """The bridge's probability-flow ODE for Gaussian data, 50 Heun steps: log q = log N(x; 0, C)."""
    cov, _ = free_covariance()
    model = exact_gaussian_model(BrownianBridgePath(0.7, coupling))
    fs = transport_sample(model, (32, L, L), 50, torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), cov)
    assert torch.allclose(fs.log_q, exact.log_prob(fs.x.flatten(1)), atol=3e-3)


def test_bridge_marginal_variance_matches_simulation():
    """Sigma_t of the independent-coupling bridge against the empirical variance of simulated x_t."""
    path = BrownianBridgePath(0.8, "independent")
    gen = torch.Generator().manual_seed(3)
    n, c = 200_000, 2.5
    x0 = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    x1 = math.sqrt(c) * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    z = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    for t in (0.2, 0.5, 0.9):
        xt, _ = path.interpolate(x0, x1, torch.full((n,), t, dtype=torch.float64), z)
        var, _ = path.gaussian_variance(torch.tensor(t, dtype=torch.float64), torch.tensor(c, dtype=torch.float64))
        assert float(xt.var()) == pytest.approx(float(var), rel=0.02)


class _MLP(torch.nn.Module):
    """v(x, t) for one-dimensional x [batch, 1]."""

    def __init__(self, width=64):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.SiLU(), torch.nn.Linear(width, width),
                                       torch.nn.SiLU(), torch.nn.Linear(width, 1))

    def forward(self, x, t):
        return self.net(torch.cat([x, t[:, None].to(x.dtype)], 1))


def test_trained_bridge_has_the_velocity_of_the_analytic_gaussian_schrodinger_bridge():
    """N(0, 1) -> N(0, c), reference sigma dW: the Schroedinger bridge's marginals are Gaussian with
    Sigma_t = (1-t)^2 + t^2 c + 2t(1-t) rho + sigma^2 t(1-t), rho = (sqrt(4c + sigma^4) - sigma^2)/2 the
    entropic-OT covariance (Janati et al. 2020; Bunne et al. 2023), so the probability-flow velocity is
    v = Sigma_t' / (2 Sigma_t) x. Bridge matching with minibatch Sinkhorn pairs learns it (within 10%);
    the independent-coupling bridge (rho = 0), a different process, is far from it (> 30%)."""
    c, sigma, steps, batch = 4.0, 0.5, 400, 128
    torch.manual_seed(0)
    model = VelocityModel(_MLP(), BrownianBridgePath(sigma, "sinkhorn"))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x1 = math.sqrt(c) * torch.randn(batch, 1, generator=gen)
        x0 = sample_coupling(torch.randn(batch, 1, generator=gen), x1, 2 * sigma ** 2, gen)
        loss = cfm_loss(model, x1, gen, x0=x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    for t in (0.25, 0.5, 0.75):
        errors = {}
        for name, rho in (("bridge", 0.5 * (math.sqrt(4 * c + sigma ** 4) - sigma ** 2)), ("independent", 0.0)):
            var = (1 - t) ** 2 + t ** 2 * c + 2 * t * (1 - t) * rho + sigma ** 2 * t * (1 - t)
            dvar = -2 * (1 - t) + 2 * t * c + 2 * (1 - 2 * t) * rho + sigma ** 2 * (1 - 2 * t)
            x = math.sqrt(var) * torch.linspace(-2, 2, 41)[:, None]  # +-2 standard deviations of the marginal
            with torch.no_grad():
                learned = model(x, torch.full((41,), t))
            exact = 0.5 * dvar / var * x
            errors[name] = float((learned - exact).norm() / exact.norm())
        assert errors["bridge"] < 0.1 and errors["independent"] > 0.3, (t, errors)


def test_bad_bridge_parameters_are_refused():
    with pytest.raises(InputError, match="sigma"):
        BrownianBridgePath(0.0)
    with pytest.raises(InputError, match="coupling"):
        BrownianBridgePath(0.5, "optimal")


@pytest.fixture(scope="module")
def hmc_free(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb") / "hmc.h5"
    assert main(["lattice", "hmc", "--size", str(L), "--kappa", str(KAPPA), "--lam", "0", "--configs", "400",
                 "--out", str(out), "--seed", "4", "--no-progress"]) == 0
    return out


def test_metropolis_corrected_bridge_reproduces_the_free_field(hmc_free, tmp_path, capsys):
    """Trained with the minibatch Sinkhorn coupling and without the analytic Gaussian part, corrected by
    independence Metropolis with the exact log q: <phi^2> = G(0) and log Z exact within 4 sigma."""
    from qcdgen.lattice.samplers import sample_lattice_sampler

    model, out = tmp_path / "sb.pt", tmp_path / "sb.h5"
    assert main(["lattice", "sb-train", str(hmc_free), "--out", str(model), "--steps", "200", "--channels", "8",
                 "--blocks", "1", "--batch-size", "64", "--sigma", "0.5", "--no-gaussian", "--no-progress"]) == 0
    result = sample_lattice_sampler(model, out, dict(configs=1500, ode_steps=8), sampler="schrodinger-bridge",
                                    progress=False)
    assert 0.3 < result.acceptance <= 1.0
    check_free_field(out, result)
    assert read_ensemble(out).attrs["sampler"] == "schrodinger-bridge+imh"
    assert main(["lattice", "sb-sample", str(model), "--configs", "10", "--out", str(tmp_path / "c.h5"),
                 "--ode-steps", "2", "--no-progress"]) == 0
    assert "Metropolis acceptance" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value", [("--sigma", "-1"), ("--t-min", "0.7"), ("--sinkhorn-iters", "0")])
def test_cli_bad_input_is_one_line_and_exit_2(flag, value, hmc_free, tmp_path, capsys):
    assert main(["lattice", "sb-train", str(hmc_free), "--out", str(tmp_path / "m.pt"), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err
