"""qcdgen.inverse.tov: TOV solver against exact results, gradients, neural EoS constraints, pipeline I/O."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.tables import read_columns
from qcdgen.inverse.tov import (MEV_FM3_TO_KM2, MSUN_KM, Incompressible, NeuralEoS, Polytrope, TabulatedEoS,
                                mass_radius_curve, read_sly_pp, solve_tov, solve_tov_pc)
from qcdgen.inverse.tov import inference
from qcdgen.inverse.tov.inference import FitConfig, Observations
from qcdgen.inverse.tov.pipeline import mr_path_for, run_tov
from qcdgen.report.pipelines import run_tov as run_tov_and_plot

F64 = torch.float64
SLY = (34.384, 3.005, 2.988, 2.851)


# ---------------------------------------------------------------- exact references
def scipy_tov(eps_of_p, deps_dh_of_p, p_c, rtol=1e-11):
    """Standard TOV (Oppenheimer-Volkoff dP/dr form) + Hinderer y-equation with solve_ivp.

    Geometric units (km); integrates (m, ln P, y) in r until P = 1e-18 P_c.  Returns M [M_sun], R, y(R).
    """
    def f(r, s):
        m, lp, y = s
        p = math.exp(lp)
        e, de = eps_of_p(p), deps_dh_of_p(p)
        g = 1 / (1 - 2 * m / r)
        n = m + 4 * math.pi * r**3 * p
        dp = -(e + p) * n * g / r**2
        F = (1 - 4 * math.pi * r**2 * (e - p)) * g
        r2q = 4 * math.pi * r**2 * (5 * e + 9 * p + de) * g - 6 * g - 4 * (n * g / r) ** 2
        return [4 * math.pi * r**2 * e, dp / p, -(y * y + y * F + r2q) / r]

    r0 = 1e-5
    stop = lambda r, s: s[1] - (math.log(p_c) - 18 * math.log(10))  # noqa: E731
    stop.terminal = True
    sol = solve_ivp(f, (r0, 500.0), [4 / 3 * math.pi * eps_of_p(p_c) * r0**3, math.log(p_c), 2.0],
                    rtol=rtol, atol=1e-30, events=stop, method="DOP853")
    m, _, y = sol.y_events[0][0]
    return m / MSUN_KM, sol.t_events[0][0], y


def k2_from(M, R, y):
    from qcdgen.inverse.tov.solver import love_number_k2

    C = torch.tensor(M * MSUN_KM / R, dtype=F64)
    return float(love_number_k2(C, torch.tensor(y, dtype=F64))), float(C)


# ---------------------------------------------------------------- incompressible star
def test_incompressible_matches_schwarzschild_interior():
    eps0 = 600.0                                    # MeV/fm³
    e_geo = eps0 * MEV_FM3_TO_KM2
    C = torch.tensor([0.05, 0.15, 0.25, 0.32], dtype=F64)   # compactness M/R
    s = torch.sqrt(1 - 2 * C)
    p_c = eps0 * (1 - s) / (3 * s - 1)              # Schwarzschild interior central pressure
    sol = solve_tov_pc(Incompressible(eps0), p_c, n_steps=120)
    R_exact = torch.sqrt(3 * C / (4 * math.pi * e_geo))     # from M = (4π/3) ε0 R³ and M = C R
    M_exact = C * R_exact / MSUN_KM
    assert sol.ok.all()
    torch.testing.assert_close(sol.radius, R_exact, rtol=1e-6, atol=0)
    torch.testing.assert_close(sol.mass, M_exact, rtol=1e-6, atol=0)


def _newtonian_limit(eos, h_small, what="k2"):
    """k2 (or R) extrapolated to compactness C -> 0 by a quadratic through three small stars."""
    sol = solve_tov(eos, torch.tensor(h_small, dtype=F64), n_steps=200)
    C, y = sol.compactness.numpy(), getattr(sol, what).numpy()
    return float(np.polyfit(C, y, 2)[-1]), sol


def test_love_number_newtonian_limits():
    # homogeneous incompressible body: k2 = 3/4 (needs the surface density-jump term)
    h = [0.0015, 0.003, 0.006]
    k2_0, sol = _newtonian_limit(Incompressible(300.0), h)
    assert float(sol.compactness.min()) > 0.0025   # the k2 formula cancels to O(C⁵): keep C ≳ 0.003
    assert k2_0 == pytest.approx(0.75, rel=5e-4)
    # n = 1 polytrope: k2 = (15 - π²)/(2π²) (Hinderer 2008), radius sqrt(π K/2) (Lane-Emden n = 1)
    K = 1e-4
    h = [0.003, 0.006, 0.012]
    k2_1, _ = _newtonian_limit(Polytrope(K, 2.0), h)
    assert k2_1 == pytest.approx((15 - math.pi**2) / (2 * math.pi**2), rel=5e-4)
    R0, _ = _newtonian_limit(Polytrope(K, 2.0), h, "radius")
    assert R0 == pytest.approx(math.sqrt(math.pi * K / MEV_FM3_TO_KM2 / 2), rel=5e-4)


# ---------------------------------------------------------------- polytropes vs scipy
def test_polytrope_matches_scipy_tov():
    K, G = 1e-4, 2.0
    eos = Polytrope(K, G)
    # geometric: P = K_g ρ² with K_g = K / k; ρ = sqrt(P/K_g); dε/dh = (ε+P)²/(Γ P)
    Kg = K / MEV_FM3_TO_KM2
    eps_of_p = lambda p: math.sqrt(p / Kg) + p / (G - 1)  # noqa: E731
    deps = lambda p: (eps_of_p(p) + p) ** 2 / (G * p)     # noqa: E731
    h_c = torch.tensor([0.1, 0.25, 0.4], dtype=F64)
    sol = solve_tov(eos, h_c, n_steps=200)
    p_c = eos.evaluate(h_c).pressure.numpy() * MEV_FM3_TO_KM2
    for i, pc in enumerate(p_c):
        M, R, y = scipy_tov(eps_of_p, deps, float(pc))
        k2, C = k2_from(M, R, y)
        assert float(sol.mass[i]) == pytest.approx(M, rel=2e-7)
        assert float(sol.radius[i]) == pytest.approx(R, rel=2e-7)
        assert float(sol.tidal_deformability[i]) == pytest.approx(2 / 3 * k2 / C**5, rel=2e-6)


def test_piecewise_polytrope_sly_matches_scipy_and_literature():
    eos = read_sly_pp(*SLY)
    g, K, a = eos._g.numpy(), eos._K.numpy(), eos._a.numpy()
    p_div = eos._p_div.numpy() * MEV_FM3_TO_KM2

    def piece(p):
        i = int(np.searchsorted(p_div, p, side="right"))
        return g[i], K[i] / MEV_FM3_TO_KM2 ** (g[i] - 1), a[i]

    def eps_of_p(p):   # Read et al. (2009) eqs. 2-4 in geometric units
        gi, Ki, ai = piece(p)
        rho = (p / Ki) ** (1 / gi)
        return (1 + ai) * rho + p / (gi - 1)

    deps = lambda p: (eps_of_p(p) + p) ** 2 / (piece(p)[0] * p)  # noqa: E731
    h_c = torch.tensor([0.15, 0.45], dtype=F64)
    sol = solve_tov(eos, h_c, n_steps=240)
    p_c = eos.evaluate(h_c).pressure.numpy() * MEV_FM3_TO_KM2
    for i, pc in enumerate(p_c):
        M, R, y = scipy_tov(eps_of_p, deps, float(pc), rtol=1e-10)
        k2, C = k2_from(M, R, y)
        assert float(sol.mass[i]) == pytest.approx(M, rel=3e-5)
        assert float(sol.radius[i]) == pytest.approx(R, rel=3e-5)
        assert float(sol.tidal_deformability[i]) == pytest.approx(2 / 3 * k2 / C**5, rel=3e-4)
    # SLy: M_max = 2.05 M_sun (Douchin & Haensel 2001; Read et al. 2009 Table III)
    curve = mass_radius_curve(eos, 0.3, 1.1, 24, n_steps=120)
    assert not bool(curve.max_at_edge)
    assert float(curve.m_max) == pytest.approx(2.05, abs=0.01)


def test_tabulated_eos_reproduces_its_source():
    eos = read_sly_pp(*SLY)
    tab = TabulatedEoS(*eos.table(3000.0, per_piece=48))
    h_c = torch.tensor([0.1, 0.4, 0.8], dtype=F64)
    a, b = solve_tov(eos, h_c), solve_tov(tab, h_c)
    torch.testing.assert_close(b.mass, a.mass, rtol=3e-5, atol=0)
    torch.testing.assert_close(b.radius, a.radius, rtol=3e-5, atol=0)
    torch.testing.assert_close(b.tidal_deformability, a.tidal_deformability, rtol=3e-4, atol=0)
    p = torch.tensor([2.0, 40.0, 400.0], dtype=F64)
    torch.testing.assert_close(tab.enthalpy(p), eos.enthalpy(p), rtol=1e-6, atol=0)


def test_failed_star_is_flagged_not_fatal():
    tab = TabulatedEoS(*read_sly_pp(*SLY).table(1000.0))
    h_top = float(tab.h_max)
    sol = solve_tov(tab, torch.tensor([0.3, h_top * 1.5, -1.0], dtype=F64))
    assert sol.ok.tolist() == [True, False, False]
    assert math.isfinite(float(sol.mass[0])) and math.isnan(float(sol.mass[1])) and math.isnan(float(sol.radius[2]))


# ---------------------------------------------------------------- gradients
def _fd_check(fn, x0, step):
    x = torch.tensor(x0, dtype=F64, requires_grad=True)
    out = fn(x)
    (grad,) = torch.autograd.grad(out, x)
    fd = (fn(torch.tensor(x0 + step, dtype=F64)) - fn(torch.tensor(x0 - step, dtype=F64))) / (2 * step)
    return float(grad), float(fd)


@pytest.mark.parametrize("what", ["mass", "radius", "tidal_deformability"])
def test_gradient_through_solver_matches_finite_differences(what):
    h_c = torch.tensor([0.4], dtype=F64)
    fn = lambda g1: getattr(solve_tov(read_sly_pp(SLY[0], g1, SLY[2], SLY[3]), h_c, n_steps=48), what)[0]  # noqa: E731
    g, fd = _fd_check(fn, SLY[1], 1e-5)
    assert g == pytest.approx(fd, rel=1e-5)
    fn = lambda lp: getattr(solve_tov(read_sly_pp(lp, *SLY[1:]), h_c, n_steps=48), what)[0]  # noqa: E731
    g, fd = _fd_check(fn, SLY[0], 1e-6)
    assert g == pytest.approx(fd, rel=1e-5)


def test_gradient_of_m_max_for_neural_eos():
    torch.manual_seed(0)
    nn = NeuralEoS(2, n_grid=64, seed=3)
    w = nn.net.biases[-1]
    base = w.detach().clone()

    def m_max(delta):
        with torch.no_grad():
            w.copy_(base)
            w[0, 0, 0] += delta
        return mass_radius_curve(nn(), 0.05, None, 24, n_steps=32).m_max[0]

    out = m_max(0.0)
    (grad,) = torch.autograd.grad(out, w)
    step = 1e-6
    with torch.no_grad():
        fd = (float(m_max(step)) - float(m_max(-step))) / (2 * step)
    assert float(grad[0, 0, 0]) == pytest.approx(fd, rel=1e-4)


# ---------------------------------------------------------------- neural EoS
@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 5.0), (2, 20.0)])
def test_neural_eos_causal_monotone_continuous(seed, scale):
    nn = NeuralEoS(16, seed=seed, n_grid=128)
    with torch.no_grad():
        for p in nn.parameters():
            p.mul_(scale)
        tab = nn()
        cs2 = nn.cs2()
    assert bool(((cs2 > 0) & (cs2 <= 1)).all())
    core = slice(tab.n_crust, None)
    e, p, h = tab.eps_tab[:, core], tab.p_tab[:, core], tab.h_tab[:, core]
    assert bool((torch.diff(p, dim=-1) > 0).all()) and bool((torch.diff(h, dim=-1) > 0).all())
    assert bool((torch.diff(tab.p_tab, dim=-1) > 0).all())       # through the crust junction too
    dpde = torch.diff(p, dim=-1) / torch.diff(e, dim=-1)
    assert bool((dpde > 0).all()) and bool((dpde <= 1).all())    # causal, stable: 0 < dP/dε ≤ 1
    # continuity of P and ε at the matching point: crust EoS at h_match equals the core's first node
    crust = nn.crust.evaluate(torch.tensor([nn.h_match], dtype=F64))
    torch.testing.assert_close(e[:, 0], crust.energy_density.expand(16), rtol=1e-9, atol=0)
    torch.testing.assert_close(p[:, 0], crust.pressure.expand(16), rtol=1e-9, atol=0)


# ---------------------------------------------------------------- inference / pipeline
def _write_obs(path, rows, header="mass,mass_error,radius,radius_error"):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


TINY = dict(n_grid=48, n_central=10, n_steps=16, final_central=16, final_steps=32)


def _obs():
    m = np.array([1.1, 1.4, 1.7, 1.9])
    return Observations(m, np.full(4, 0.1), np.array([11.9, 11.7, 11.5, 11.2]), np.full(4, 0.5))


@pytest.mark.parametrize("rows,header,match", [
    ([(1.4, 0.1, 12.0, 0.5)], "mass,mass_error,radius", "missing column"),
    ([(1.4, -0.1, 12.0, 0.5)], None, "must be > 0"),
    ([(1.4, 0.1, 12.0, "x")], None, "not a number"),
    ([(7.0, 0.1, 12.0, 0.5)], None, "mass must be in"),
    ([(1.4, 0.1, 45.0, 0.5)], None, "radius must be in"),
])
def test_bad_observations_raise_input_error(tmp_path, rows, header, match):
    obs = _write_obs(tmp_path / "obs.csv", rows, header or "mass,mass_error,radius,radius_error")
    with pytest.raises(InputError, match=match):
        run_tov(obs, out=tmp_path / "eos.csv", progress=False)
    assert not (tmp_path / "eos.csv").exists()


def test_bad_parameters_raise_input_error(tmp_path):
    obs = _write_obs(tmp_path / "obs.csv", [(1.4, 0.1, 12.0, 0.5)])
    for kw, match in [(dict(ensemble=1), "--ensemble"), (dict(epochs=0), "--epochs"), (dict(seed=-1), "--seed"),
                      (dict(device="tpu"), "--device")]:
        with pytest.raises(InputError, match=match):
            run_tov(obs, out=tmp_path / "eos.csv", progress=False, config=FitConfig(**TINY), **kw)
    with pytest.raises(InputError, match="does not exist"):
        run_tov(tmp_path / "nope.csv", out=tmp_path / "eos.csv", progress=False)
    with pytest.raises(InputError, match="directory"):
        run_tov(obs, out=tmp_path / "missing" / "eos.csv", progress=False)


def test_run_tov_writes_files_and_is_deterministic(tmp_path):
    obs = _write_obs(tmp_path / "obs.csv", [(1.2, 0.1, 12.0, 0.5), (1.6, 0.1, 11.8, 0.5), (1.9, 0.1, 11.4, 0.5)])
    runs = []
    for k in range(2):
        out = tmp_path / f"eos{k}.csv"
        # the domain pipeline draws nothing; report.pipelines.run_tov is the same with plot=
        plain = run_tov(obs, out=out, ensemble=2, epochs=3, seed=7, progress=False, config=FitConfig(**TINY))
        assert plain.plot_path is None and set(plain.eos) == {"energy_density", "pressure", "pressure_lo",
                                                              "pressure_hi"}
        res = run_tov_and_plot(obs, out=out, plot=tmp_path / f"p{k}.png", ensemble=2, epochs=3, seed=7,
                               progress=False, config=FitConfig(**TINY))
        assert res.eos_path == out and res.mr_path == mr_path_for(out) == tmp_path / f"eos{k}_mr.csv"
        assert res.plot_path == tmp_path / f"p{k}.png" and res.plot_path.stat().st_size > 1000
        assert out.read_text() == res.eos_path.read_text() and res.m_max == plain.m_max
        runs.append((out.read_text(), res.mr_path.read_text()))
        lines = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
        assert lines[0] == "energy_density,pressure,pressure_lo,pressure_hi"
        d = read_columns(out, ["energy_density", "pressure", "pressure_lo", "pressure_hi"])
        assert np.all(d["pressure_lo"] <= d["pressure"]) and np.all(d["pressure"] <= d["pressure_hi"])
        assert np.all(np.diff(d["energy_density"]) > 0) and np.all(d["pressure_lo"] > 0)
        mr = [ln for ln in res.mr_path.read_text().splitlines() if not ln.startswith("#")]
        assert mr[0] == "mass,radius,radius_lo,radius_hi,members"
        assert 0 < res.m_max_lo <= res.m_max <= res.m_max_hi
    assert runs[0] == runs[1]


def test_failed_members_are_dropped_or_fatal(monkeypatch):
    real = inference.profile_chi2

    def poisoned(*args):
        out = real(*args)
        return torch.cat([out[:1], torch.full_like(out[1:2], math.nan), out[2:]], 0)

    monkeypatch.setattr(inference, "profile_chi2", poisoned)
    with pytest.warns(RuntimeWarning, match="member 1"):
        fit = inference.fit_ensemble(_obs(), members=3, config=FitConfig(epochs=2, **TINY), progress=False)
    assert fit.members.tolist() == [0, 2] and fit.failed[0][0] == 1
    assert np.all(np.isfinite(fit.pressure)) and np.all(np.isfinite(fit.m_max))
    with pytest.raises(NaNError, match="member 1"):
        inference.fit_ensemble(_obs(), members=2, config=FitConfig(epochs=2, **TINY), progress=False)


def test_profile_chi2_is_distance_to_polyline():
    # straight curve R = 12 km for M in [1, 2]; obs at (1.5, 12.5) with σ = (0.1, 0.5): χ² = 1 exactly
    M = torch.linspace(1.0, 2.0, 5, dtype=F64).reshape(1, -1)
    R = torch.full_like(M, 12.0)
    chi2 = inference.profile_chi2(M, R, torch.ones_like(M, dtype=torch.bool), *(torch.tensor([[x]], dtype=F64)
                                  for x in (1.5, 0.1, 12.5, 0.5)))
    assert float(chi2) == pytest.approx(1.0, rel=1e-12)
    # above the maximum mass the closest point is the top of the stable branch
    chi2 = inference.profile_chi2(M, R, torch.ones_like(M, dtype=torch.bool), *(torch.tensor([[x]], dtype=F64)
                                  for x in (2.3, 0.1, 12.0, 0.5)))
    assert float(chi2) == pytest.approx(9.0, rel=1e-12)


@pytest.mark.slow
def test_fit_recovers_sly_mass_radius():
    truth = mass_radius_curve(read_sly_pp(*SLY), 0.05, 1.1, 200, n_steps=120)
    m, r = truth.mass[truth.stable].numpy(), truth.radius[truth.stable].numpy()
    mt = np.linspace(1.0, 2.0, 11)
    obs = Observations(mt, np.full(11, 0.05), np.interp(mt, m, r), np.full(11, 0.3))   # noiseless centres
    fit = inference.fit_ensemble(obs, members=4, config=FitConfig(epochs=150), progress=False)
    lo, med, hi, _ = inference.mass_radius_band(fit, mt[:-1])
    assert np.nanmax(np.abs(med - np.interp(mt[:-1], m, r))) < 0.3
    assert abs(np.median(fit.m_max) - float(truth.m_max)) < 0.15
