"""Isobar features (qcdgen.hic.isobars): physics of ε₂², ε₃², d⊥ and the stratified P(N).

Checks against independent results: the linear dependence ⟨ε_n²⟩ = a_n + b_n β_n² in
ultra-central collisions (Giacalone, Jia, Zhang PRL 127 (2021) 242301; Jia PRC 105 (2022) 014905),
exact invariance of the model under a common rescaling of all lengths (d⊥ ∝ 1/λ), the transverse
size of b ≈ 0 collisions from an optical-Glauber quadrature of the Woods–Saxon density, and σ_inel
from an independent minimum-bias Glauber estimate.
"""

import math

import numpy as np
import pytest
from scipy import integrate

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.hic.initial import sigma_inel
from qcdgen.hic.initial.nuclei import Nucleus
from qcdgen.hic.isobars import (
    REFERENCE,
    IsobarModel,
    bin_features,
    isobar_nucleus,
    multiplicity_edges,
    ratio_features,
    simulate_events,
)

CENTRAL = IsobarModel(strata=((0.0, 1.0, 1.0),))      # ultra-central: b < 1 fm


def _mean_err(x):
    return x.mean(), x.std(ddof=1) / math.sqrt(len(x))


def test_eps2_squared_is_linear_in_beta2_squared_with_positive_slope():
    """⟨ε₂²⟩(β₂) at b < 1 fm for β₂ = 0, 0.15, 0.25 (Ru radius and diffuseness): slope b₂ > 0 at
    > 5σ, and the middle point lies on the straight line in β₂² through the outer two."""
    betas = [0.0, 0.15, 0.25]
    m, e = [], []
    for i, b2 in enumerate(betas):
        s = simulate_events(isobar_nucleus(b2, 0.0, 0.46, 5.09), 400, 10 + i, CENTRAL)
        mu, er = _mean_err(s.eps2 ** 2)
        m.append(mu)
        e.append(er)
    x = np.array(betas) ** 2
    slope = (m[2] - m[0]) / (x[2] - x[0])
    slope_err = math.hypot(e[2], e[0]) / (x[2] - x[0])
    print(f"<eps2^2> = {m[0]:.4f} + {slope:.3f} beta2^2 (+- {slope_err:.3f}); points {m} +- {e}")
    assert slope > 5 * slope_err, (slope, slope_err)
    assert 0.05 < slope < 1.0          # O(0.1-0.5): the ε₂ of a randomly oriented deformed nucleus
    mid = m[0] + slope * x[1]
    mid_err = math.sqrt(e[1] ** 2 + ((1 - x[1] / x[2]) * e[0]) ** 2 + (x[1] / x[2] * e[2]) ** 2)
    assert abs(m[1] - mid) < 3.5 * mid_err, (m, mid, mid_err)


def test_eps3_squared_grows_with_beta3_and_eps2_does_not():
    """Octupole deformation raises ⟨ε₃²⟩ in ultra-central collisions, not ⟨ε₂²⟩ (spherical vs β₃ = 0.25)."""
    sph = simulate_events(isobar_nucleus(0.0, 0.0, 0.52, 5.02), 400, 20, CENTRAL)
    octo = simulate_events(isobar_nucleus(0.0, 0.25, 0.52, 5.02), 400, 21, CENTRAL)
    (m0, e0), (m1, e1) = _mean_err(sph.eps3 ** 2), _mean_err(octo.eps3 ** 2)
    assert m1 - m0 > 4 * math.hypot(e0, e1), (m0, m1)
    (a0, f0), (a1, f1) = _mean_err(sph.eps2 ** 2), _mean_err(octo.eps2 ** 2)
    assert abs(a1 - a0) < 0.25 * (m1 - m0) + 3 * math.hypot(f0, f1)


def test_dperp_scales_exactly_as_inverse_length_under_a_common_rescaling():
    """With every length ×λ (R, a, d_min, nucleon width w, hard-disk radius √(σ/π), b strata, grid)
    the model has the same events in units of λ: d⊥ → d⊥/λ, ε_n and S unchanged, σ → λ² σ."""
    lam = 1.25

    def run(f):
        nuc = Nucleus("X", 96, R=5.02 * f, a=0.52 * f, beta2=0.06, beta3=0.2, d_min=0.4 * f)
        model = IsobarModel(sigma_nn=42.0 * f * f, w=0.5 * f, grid_max=10.0 * f,
                            strata=((0.0, 3.0 * f, 0.5), (3.0 * f, None, 0.5)))
        return simulate_events(nuc, 160, 7, model)

    a, b = run(1.0), run(lam)
    np.testing.assert_allclose(b.dperp * lam, a.dperp, rtol=1e-9)
    np.testing.assert_allclose(b.eps2, a.eps2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.eps3, a.eps3, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.S, a.S, rtol=1e-9)
    assert b.sigma_inel == pytest.approx(lam ** 2 * a.sigma_inel, rel=1e-12)


def _optical_r2(R, a, A=96, sigma_fm2=4.2):
    """⟨r⊥²⟩ of the participants of one nucleus at b = 0 (optical Glauber, hard-disk averaged)."""
    rho = lambda r: 1.0 / (1.0 + np.exp((r - R) / a))
    norm = A / integrate.quad(lambda r: 4 * np.pi * r * r * rho(r), 0, R + 30 * a)[0]
    z = np.linspace(0.0, R + 15 * a, 1501)

    rt = np.linspace(0.0, R + 12 * a, 700)
    Tt = 2 * norm * integrate.trapezoid(rho(np.sqrt(rt[:, None] ** 2 + z[None] ** 2)), z, axis=1)

    def T(r):
        return np.interp(r, rt, Tt, right=0.0)

    d = math.sqrt(sigma_fm2 / math.pi)
    u, wu = np.polynomial.legendre.leggauss(12)
    u, wu = 0.5 * d * (u + 1), 0.5 * d * wu
    phi = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    r = np.linspace(0.0, R + 10 * a, 400)
    Td = np.zeros_like(r)
    for ui, wi in zip(u, wu):
        rr = np.sqrt(r[:, None] ** 2 + ui ** 2 + 2 * r[:, None] * ui * np.cos(phi)[None])
        Td += wi * ui * T(rr.ravel()).reshape(rr.shape).mean(axis=1) * 2 * np.pi
    Td /= math.pi * d * d
    part = T(r) * (1.0 - (1.0 - sigma_fm2 * Td / A) ** A)
    return integrate.trapezoid(part * r ** 3, r) / integrate.trapezoid(part * r, r), \
        2 * math.pi * integrate.trapezoid(part * r, r)


def test_transverse_size_of_head_on_collisions_matches_optical_glauber():
    """b < 0.3 fm, p = 1 (s = participant density), k → ∞, d_min = 0: R⊥² = ⟨r⊥²⟩_part + 2w² + dx²/6
    (Gaussian nucleons, cell-centre moments), ⟨r⊥²⟩_part by quadrature of the WS density. Checked for
    R = 5.09 and 4.5 fm, which also checks that d⊥ ≈ 1/R⊥ scales with the nuclear size."""
    model = IsobarModel(p=1.0, k=1e4, strata=((0.0, 0.3, 1.0),))
    dx = 2 * model.grid_max / model.grid_n
    got = {}
    for R in (5.09, 4.5):
        s = simulate_events(Nucleus("X", 96, R=R, a=0.46, d_min=0.0), 300, 3, model)
        r2_part, npart = _optical_r2(R, 0.46)
        expect = r2_part * (1 - 0.5 / npart) + 2 * model.w ** 2 + dx * dx / 6
        mc, err = _mean_err(1.0 / s.dperp ** 2)
        assert abs(mc - expect) < 0.01 * expect + 3 * err, (R, mc, expect, err)
        got[R] = (s.dperp.mean(), 1 / math.sqrt(expect))
    ratio = got[4.5][0] / got[5.09][0]
    assert ratio == pytest.approx(got[4.5][1] / got[5.09][1], rel=0.01)
    assert 1.05 < ratio < 5.09 / 4.5       # d⊥ grows as the nucleus shrinks, less than 1/R (w, a fixed)


def test_stratified_weights_sum_to_the_inelastic_cross_section():
    """Σ weights of b-stratified events = σ_inel of an independent minimum-bias Glauber estimate."""
    nuc = isobar_nucleus(**REFERENCE["Zr"])
    s = simulate_events(nuc, 800, 5, IsobarModel(grid_n=8))
    ref, ref_err = sigma_inel(nuc, nuc, 200.0, 3000, rng=6)
    assert s.sigma_inel == pytest.approx(ref, abs=4 * ref_err + 0.02 * ref)
    assert 3.5 < ref < 5.0      # barn: ~ π (2 R)² × O(1) for A = 96 at 200 GeV


@pytest.mark.slow
def test_ru_over_zr_ratios_have_the_signs_of_the_structure_differences():
    """Central Ru/Zr: ⟨ε₂²⟩ ratio > 1 (β₂ 0.16 vs 0.06), ⟨ε₃²⟩ ratio < 1 (β₃ 0 vs 0.20) — the
    ordering STAR measured for v₂², v₃² (PRC 105 (2022) 014901)."""
    ru = simulate_events(isobar_nucleus(**REFERENCE["Ru"]), 1500, 30, CENTRAL)
    zr = simulate_events(isobar_nucleus(**REFERENCE["Zr"]), 1500, 31, CENTRAL)
    edges = np.array([0.0, np.inf])
    r = ratio_features(bin_features(ru, edges), bin_features(zr, edges))
    e2, e2e = r.get("eps2sq_ratio")
    e3, e3e = r.get("eps3sq_ratio")
    assert np.all(e2 - 1 > 2.5 * e2e), (e2, e2e)
    assert np.all(1 - e3 > 2.5 * e3e), (e3, e3e)


def test_bin_features_are_weighted_means_and_open_last_bin():
    edges = np.array([0.0, 1.0, 2.0, np.inf])
    from qcdgen.hic.isobars import EventSample

    s = EventSample(S=np.array([0.5, 0.5, 1.5, 5.0] * 5), eps2=np.array([0.1, 0.3, 0.2, 0.4] * 5),
                    eps3=np.full(20, 0.1), dperp=np.full(20, 0.5), weight=np.array([1.0, 3.0, 1.0, 1.0] * 5),
                    sigma_inel=30.0)
    f = bin_features(s, edges, min_count=5)
    v, _ = f.get("eps2sq")
    assert v[0] == pytest.approx((0.01 + 3 * 0.09) / 4) and v[2] == pytest.approx(0.16)
    p, _ = f.get("logP")
    assert np.exp(p) == pytest.approx([20 / 30, 5 / 30, 5 / 30])
    edges2 = multiplicity_edges(s, 3, central=0.9, top=0.1)
    assert len(edges2) == 4 and edges2[-1] == np.inf


@pytest.mark.parametrize("args, match", [
    (["--beta2", "4"], "vanish"),
    (["--events", "8"], "enough events"),
    (["--bins", "1"], "--bins"),
    (["--a", "-0.1"], "a must be > 0"),
])
def test_cli_bad_input_is_one_line_exit_2(args, match, tmp_path, capsys):
    out = tmp_path / "f.csv"
    assert main(["infer", "isobars", "features", "--events", "40", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]
    assert not out.exists()


@pytest.mark.parametrize("args, match", [
    (["--points", "3"], "points"),
    (["--bins", "1"], "--bins"),
    (["--events", "0"], "--events"),
])
def test_cli_closure_bad_input_fails_before_any_work(args, match, tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["infer", "isobars", "closure", "--quick", "--work", str(work), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]
    assert not work.exists()


def test_cli_features_writes_calibration_data(tmp_path, capsys):
    out = tmp_path / "zr.csv"
    assert main(["infer", "isobars", "features", "--nucleus", "Zr", "--events", "400", "--bins", "3",
                 "--out", str(out), "--ratio"]) == 0
    printed = capsys.readouterr().out
    assert "eps3sq_ratio" in printed and "N03" in printed
    from qcdgen.inference.data import read_data

    d = read_data(out)
    assert ("dperp", "N01") in d.keys and np.all(d.errors > 0)


def test_model_validation():
    with pytest.raises(InputError):
        simulate_events(isobar_nucleus(**REFERENCE["Ru"]), 2, 0)   # fewer events than strata
