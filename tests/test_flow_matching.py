"""Flow matching (linear interpolant) on the free field: the analytic Gaussian velocity carries N(0, I) to
the exact free-field density (dense covariance from the action's Hessian), the exact log q is that of
the discrete map, a trained network learns the closed-form velocity, and the Metropolis-corrected
sampler reproduces the exact <phi^2> and log Z."""

import json
import math

import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.diffusion import StationaryGaussian
from qcdgen.diffusion.flow_matching import LinearPath, VelocityModel, cfm_loss, transport_sample
from qcdgen.io import read_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.stats import gamma_method

pytestmark = pytest.mark.usefixtures("one_thread")

L, KAPPA = 4, 0.2  # free field, m^2 = 1/kappa - 4 = 1


class Zero(torch.nn.Module):
    def forward(self, x, t):
        return torch.zeros_like(x)


def free_covariance(size=L, kappa=KAPPA):
    """C = M^{-1} with M the Hessian of S (dense, from autograd: independent of the FFT formulas)."""
    action = Phi4Action(size=size, kappa=kappa, lam=0.0)
    phi = torch.zeros(size * size, dtype=torch.float64)
    hess = torch.autograd.functional.hessian(lambda p: action(p.view(1, size, size)).sum(), phi)
    return torch.linalg.inv(hess), action


def exact_gaussian_model(path):
    _, action = free_covariance()
    power = (1.0 / action.quadratic_kernel()).float()
    return VelocityModel(Zero(), path, StationaryGaussian(power))


def test_gaussian_velocity_gives_the_exact_free_field_density():
    """Heun with 50 steps on v = 1/2 (dSigma/dt) Sigma^{-1} x: log q equals log N(x; 0, C) at every sample."""
    cov, _ = free_covariance()
    model = exact_gaussian_model(LinearPath())
    gen = torch.Generator().manual_seed(0)
    fs = transport_sample(model, (32, L, L), 50, gen, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), cov)
    assert torch.allclose(fs.log_q, exact.log_prob(fs.x.flatten(1)), atol=3e-3)  # O(h^2) = O(4e-4) per mode


def test_log_q_is_exact_for_the_discrete_map():
    """Three Euler steps of the linear field: x = A x0 with A read off by pushing basis vectors, so
    q = N(0, A A^T) exactly, whatever the discretisation error against the continuous flow."""
    model = exact_gaussian_model(LinearPath())
    gen = torch.Generator().manual_seed(1)
    fs = transport_sample(model, (16, L, L), 3, gen, solver="euler", dtype=torch.float64)
    basis = torch.eye(L * L, dtype=torch.float64).view(-1, L, L)
    a = basis
    for k in range(3):  # t = 0, 1/3, 2/3, h = 1/3
        t = torch.full((L * L,), k / 3, dtype=torch.float64)
        a = a + model(a, t) / 3
    a = a.flatten(1).T  # columns: images of the basis vectors
    q = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), a @ a.T)
    assert torch.allclose(fs.log_q, q.log_prob(fs.x.flatten(1)), atol=1e-8)


def test_trained_velocity_matches_the_closed_form():
    """A network trained by conditional flow matching on exact free-field samples approaches
    v*(x, t) = (tC - (1-t)I) Sigma_t^{-1} x, Sigma_t = (1-t)^2 I + t^2 C (Gaussian x0, x1 independent)."""
    cov, _ = free_covariance()
    data_dist = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), cov)
    torch.manual_seed(0)
    data = data_dist.sample((20000,)).float().view(-1, L, L)
    net = PeriodicScoreCNN(dim=2, channels=16, blocks=1, odd=True)
    model = VelocityModel(net, LinearPath())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    steps = 400
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        batch = data[torch.randint(0, len(data), (256,), generator=gen)]
        loss = cfm_loss(model, batch, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    eye = torch.eye(L * L, dtype=torch.float64)
    for t in (0.25, 0.5, 0.75):
        sigma_t = (1 - t) ** 2 * eye + t ** 2 * cov
        x = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), sigma_t).sample((512,))
        exact = x @ torch.linalg.solve(sigma_t, t * cov - (1 - t) * eye).T
        with torch.no_grad():
            learned = model(x.float().view(-1, L, L), torch.full((512,), t)).double().flatten(1)
        rel = float((learned - exact).norm() / exact.norm())
        print(t, rel)
        assert rel < 0.1, (t, rel)


@pytest.fixture(scope="module")
def hmc_free(tmp_path_factory):
    out = tmp_path_factory.mktemp("fm") / "hmc.h5"
    assert main(["lattice", "hmc", "--size", str(L), "--kappa", str(KAPPA), "--lam", "0", "--configs", "400",
                 "--out", str(out), "--seed", "3", "--no-progress"]) == 0
    return out


def check_free_field(ensemble, result, volume=L * L):
    """<phi^2> of the corrected ensemble (Gamma-method error) and log Z against the exact free field."""
    ens = read_ensemble(ensemble)
    phi2 = (ens.phi.astype(np.float64) ** 2).reshape(len(ens.phi), -1).mean(1)
    est = gamma_method(phi2)
    assert abs(est.value - free_phi2(L, KAPPA, 2)) < 4 * est.error, (est, free_phi2(L, KAPPA, 2))
    exact_log_z = free_log_partition(L, KAPPA, 2)
    assert result.exact and result.exact_log_z == pytest.approx(exact_log_z)
    assert abs(result.log_z.value - exact_log_z) < 4 * result.log_z.error, (result.log_z, exact_log_z)
    assert math.isfinite(result.log_z_pull) and abs(result.log_z_pull) < 4


def test_metropolis_corrected_flow_matching_reproduces_the_free_field(hmc_free, tmp_path):
    """Trained without the analytic Gaussian part (the network does all the work), corrected by
    independence Metropolis with the exact log q: <phi^2> = G(0) and log Z exact within 4 sigma."""
    from qcdgen.lattice.samplers import sample_lattice_sampler, train_lattice_sampler

    model, out = tmp_path / "fm.pt", tmp_path / "fm.h5"
    train_lattice_sampler("flow-matching", hmc_free, model, dict(steps=300, channels=8, blocks=1, batch_size=128,
                                                                 gaussian=False), progress=False)
    result = sample_lattice_sampler(model, out, dict(configs=1500, ode_steps=8), sampler="flow-matching",
                                    progress=False)
    assert 0.3 < result.acceptance <= 1.0
    check_free_field(out, result)


def test_cli_train_and_sample(hmc_free, tmp_path, capsys):
    model, out = tmp_path / "m.pt", tmp_path / "s.h5"
    assert main(["lattice", "fm-train", str(hmc_free), "--out", str(model), "--steps", "5", "--channels", "2",
                 "--blocks", "1", "--no-progress"]) == 0
    assert main(["lattice", "fm-sample", str(model), "--configs", "20", "--out", str(out), "--ode-steps", "2",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Metropolis acceptance" in text and "exact log Z (free field)" in text
    assert read_ensemble(out).attrs["sampler"] == "flow-matching+imh"


@pytest.mark.parametrize("args, flag", [
    (["fm-sample", "MODEL", "--configs", "10", "--ode-steps", "0"], "--ode-steps"),
    (["fm-train", "ENS", "--steps", "10", "--heldout-fraction", "1.5"], "--heldout-fraction"),
])
def test_bad_input_is_one_line_and_exit_2(args, flag, hmc_free, tmp_path, capsys):
    if args[0] == "fm-sample":
        model = tmp_path / "m.pt"
        assert main(["lattice", "fm-train", str(hmc_free), "--out", str(model), "--steps", "2", "--channels", "2",
                     "--blocks", "1", "--no-progress"]) == 0
        capsys.readouterr()
        args = [a.replace("MODEL", str(model)) for a in args]
    args = [a.replace("ENS", str(hmc_free)) for a in args]
    assert main(["lattice", *args, "--out", str(tmp_path / "o.x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err


def test_compare_samplers_cli_has_rows_of_both_transport_samplers(tmp_path, capsys):
    """Named in --samplers (they are not in the default set), both transport samplers get a row of the study:
    trained on the HMC-FA ensemble, Metropolis-corrected with exact log q (16 sites) and validated."""
    out = tmp_path / "study"
    assert main(["lattice", "compare-samplers", "--size", str(L), "--kappa", str(KAPPA), "--lam", "0",
                 "--samplers", "hmc,hmc-fa,flow-matching,schrodinger-bridge", "--hmc-configs", "80",
                 "--proposals", "64", "--diffusion-steps", "5", "--out-dir", str(out), "--json", "--no-progress"]) == 0
    rows = {r["sampler"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert list(rows) == ["hmc", "hmc-fa", "flow-matching", "schrodinger-bridge"]
    for name in ("flow-matching", "schrodinger-bridge"):
        r = rows[name]
        assert r["exact"] is True and r["configs"] == 64 and r["passed"] in (True, False) and r["log_z"] is not None
        assert "trained on hmc-fa" in r["note"]
    assert main(["lattice", "compare-samplers", "--size", str(L), "--kappa", str(KAPPA), "--samplers", "hmc,nope",
                 "--out-dir", str(out)]) == 2


@pytest.mark.slow
def test_compare_samplers_rows_of_both_transport_samplers(tmp_path):
    """The quick sampler study on the free field with flow matching and the Schroedinger bridge named:
    both rows are exact (log q exact at 16 sites), pass validation against HMC and give the exact log Z."""
    from statistics import NormalDist

    from qcdgen.lattice.compare_samplers import CompareSettings, compare_samplers
    from qcdgen.lattice.observables import derived_names

    names = ("flow-matching", "schrodinger-bridge")
    max_pull = NormalDist().inv_cdf(1 - 0.01 / (2 * len(derived_names(L, 2))))  # as test_compare_samplers
    settings = CompareSettings(sizes=(L,), kappas=(KAPPA,), lam=0.0, preset="quick", max_abs_pull=max_pull,
                               samplers=("hmc", "hmc-fa", *names))
    study = compare_samplers(settings, tmp_path, progress=False)
    rows = {r.sampler: r for r in study.rows}
    exact = free_log_partition(L, KAPPA, 2)
    for name in names:
        r = rows[name]
        assert r.exact and r.passed, (name, r.max_abs_pull, r.note)
        assert abs(r.log_z - exact) < 4 * r.log_z_error, (name, r.log_z, r.log_z_error, exact)
