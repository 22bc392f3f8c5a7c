"""Physics tests of the heavy-ion initial state (qcdgen.hic.initial).

Every assertion compares against an independent number: a quadrature of the density, an
analytic moment, a measured or published cross section, or an exact identity of the model.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from qcdgen.errors import InputError
from qcdgen.hic.initial import (
    CentralityCalibration,
    Grid,
    Nucleus,
    b_range_for_centrality,
    eccentricities,
    eccentricities_points,
    parse_centrality,
    parse_system,
    participant_thickness,
    r_rms,
    reduced_thickness,
    sample_glauber,
    sample_initial_states,
    sigma_inel,
    sigma_nn_inel,
    total_entropy,
    trento_profiles,
)
from qcdgen.hic.initial.nuclei import HULTHEN_ALPHA, HULTHEN_BETA


# ---------------------------------------------------------------------------- helpers
def _ws(r, R, a, c=None, beta2=0.0, beta3=0.0, beta4=0.0):
    """Deformed Woods–Saxon written out independently of the library."""
    if c is not None:
        y20 = math.sqrt(5 / (16 * math.pi)) * (3 * c**2 - 1)
        y30 = math.sqrt(7 / (16 * math.pi)) * (5 * c**3 - 3 * c)
        y40 = 3 / (16 * math.sqrt(math.pi)) * (35 * c**4 - 30 * c**2 + 3)
        R = R * (1 + beta2 * y20 + beta3 * y30 + beta4 * y40)
    return 1.0 / (1.0 + np.exp((r - R) / a))


def _radial_moment(k, R, a, c=None, **betas):
    return integrate.quad(lambda r: r**k * _ws(r, R, a, c, **betas), 0, R + 30 * a,
                          limit=200, epsabs=0, epsrel=1e-11)[0]


def _wrap(angle, n):
    """Map an angle into [−π/n, π/n)."""
    p = 2 * math.pi / n
    return (angle + p / 2) % p - p / 2


def _angle_diff(a, b, n):
    return np.abs(_wrap(np.asarray(a) - np.asarray(b), n))


# ---------------------------------------------------------------------------- nuclei
def test_woods_saxon_radial_distribution_matches_quadrature():
    pb = Nucleus.from_name("Pb", d_min=0.0)
    x = pb.sample(1000, np.random.default_rng(11), recenter=False)
    assert x.shape == (1000, 208, 3)
    r2 = np.sum(x**2, axis=-1).ravel()
    R, a = 6.62, 0.546
    mean_r2 = _radial_moment(4, R, a) / _radial_moment(2, R, a)
    err = r2.std() / math.sqrt(r2.size)
    assert abs(r2.mean() - mean_r2) < 4 * err, (r2.mean(), mean_r2, err)

    # Kolmogorov–Smirnov against the quadrature CDF of r² ρ(r)
    edges = np.linspace(0, R + 25 * a, 1201)
    pieces = [integrate.quad(lambda r: r * r * _ws(r, R, a), lo, hi, epsabs=0, epsrel=1e-12)[0]
              for lo, hi in zip(edges[:-1], edges[1:])]
    cdf = np.concatenate([[0], np.cumsum(pieces)])
    cdf /= cdf[-1]
    res = stats.kstest(np.sqrt(r2), lambda r: np.interp(r, edges, cdf))
    assert res.pvalue > 1e-3, res


def test_recentering_shrinks_r2_by_one_minus_one_over_A():
    # harmonic-oscillator ¹⁶O (a = 1.833 fm, α = 1.544): ⟨r²⟩ = a²(3/2)(1 + 5α/2)/(1 + 3α/2);
    # subtracting the centre of mass of A iid nucleons multiplies it by (1 − 1/A)
    o16 = Nucleus.from_name("O", d_min=0.0)
    x = o16.sample(20000, np.random.default_rng(3))
    assert np.allclose(x.mean(axis=1), 0.0, atol=1e-12)
    r2 = np.sum(x**2, axis=-1)
    per_nucleus = r2.mean(axis=1)
    a, alpha = 1.833, 1.544
    num = integrate.quad(lambda r: r**4 * (1 + alpha * r * r / a**2) * math.exp(-r * r / a**2), 0, 30)[0]
    den = integrate.quad(lambda r: r**2 * (1 + alpha * r * r / a**2) * math.exp(-r * r / a**2), 0, 30)[0]
    expect = (1 - 1 / 16) * num / den
    err = per_nucleus.std() / math.sqrt(per_nucleus.size)
    assert abs(per_nucleus.mean() - expect) < 4 * err, (per_nucleus.mean(), expect, err)
    assert abs(num / den - a * a * 1.5 * (1 + 2.5 * alpha) / (1 + 1.5 * alpha)) < 1e-8


@pytest.mark.parametrize("name, harmonic", [("U", 2), ("Zr", 3)])
def test_deformed_body_frame_multipole_matches_quadrature(name, harmonic):
    """⟨r^l P_l(cos θ)⟩ in the body frame (fixed orientation) vs quadrature of ρ(r, θ)."""
    nuc = Nucleus.from_name(name, d_min=0.0)
    betas = dict(beta2=nuc.beta2, beta3=nuc.beta3, beta4=nuc.beta4)
    x = nuc.sample(600, np.random.default_rng(5), random_orientation=False, recenter=False)
    x = x.reshape(-1, 3)
    r = np.linalg.norm(x, axis=1)
    c = x[:, 2] / r
    leg = np.polynomial.legendre.Legendre.basis(harmonic)
    q = r**harmonic * leg(c)
    nodes, weights = np.polynomial.legendre.leggauss(64)
    top = sum(w * leg(t) * _radial_moment(2 + harmonic, nuc.R, nuc.a, t, **betas)
              for t, w in zip(nodes, weights))
    norm = sum(w * _radial_moment(2, nuc.R, nuc.a, t, **betas) for t, w in zip(nodes, weights))
    expect = top / norm
    err = q.std() / math.sqrt(q.size)
    assert expect > 20 * err  # prolate U (β2 > 0), pear-shaped Zr (β3 > 0): clearly non-zero
    assert abs(q.mean() - expect) < 4 * err, (q.mean(), expect, err)


def test_random_orientation_is_isotropic():
    u = Nucleus.from_name("U", d_min=0.0)
    x = u.sample(600, np.random.default_rng(8), recenter=False).reshape(-1, 3)
    q = x[:, 2] ** 2 - 0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2)
    assert abs(q.mean()) < 4 * q.std() / math.sqrt(q.size)


def test_minimum_distance_is_enforced():
    pb = Nucleus.from_name("Pb")  # d_min = 0.4 fm
    x = pb.sample(150, np.random.default_rng(2))
    d = np.linalg.norm(x[:, :, None] - x[:, None, :], axis=-1)
    d[:, np.arange(208), np.arange(208)] = np.inf
    assert d.min() >= 0.4
    # without the constraint such close pairs are common (~3 per nucleus)
    y = pb.sample(150, np.random.default_rng(2), d_min=0.0)
    dy = np.linalg.norm(y[:, :, None] - y[:, None, :], axis=-1)
    dy[:, np.arange(208), np.arange(208)] = np.inf
    assert (dy < 0.4).sum() / 2 / 150 > 1.0


def test_deuteron_hulthen_separation_and_proton():
    d = Nucleus.from_name("d").sample(200000, np.random.default_rng(4))
    assert d.shape == (200000, 2, 3)
    assert np.allclose(d[:, 0], -d[:, 1])
    sep = np.linalg.norm(d[:, 0] - d[:, 1], axis=1)
    al, be = HULTHEN_ALPHA, HULTHEN_BETA
    m1 = 1 / (4 * al**2) - 2 / (al + be) ** 2 + 1 / (4 * be**2)   # ∫ r (e^{-αr} − e^{-βr})² dr
    m0 = 1 / (2 * al) - 2 / (al + be) + 1 / (2 * be)
    assert abs(sep.mean() - m1 / m0) < 4 * sep.std() / math.sqrt(sep.size)
    p = Nucleus.from_name("p").sample(3, 1)
    assert p.shape == (3, 1, 3) and not p.any()


def test_nucleus_lookup_and_errors():
    assert Nucleus.from_name("pb208") == Nucleus.from_name("Pb") == Nucleus.from_name("208Pb")
    assert Nucleus.from_name("U", beta2=0.2).beta2 == 0.2
    with pytest.raises(InputError, match="known: .*Pb"):
        Nucleus.from_name("Kr")
    with pytest.raises(InputError, match="A = 208"):
        Nucleus.from_name("Pb207")
    with pytest.raises(InputError, match="unknown Nucleus field"):
        Nucleus.from_name("Pb", radius=7)
    with pytest.raises(InputError, match="R\\(theta\\)"):
        Nucleus.from_name("U", beta2=-2.0)
    with pytest.raises(InputError, match="n_events"):
        Nucleus.from_name("Pb").sample(0, 1)


# ---------------------------------------------------------------------------- Glauber
def test_sigma_nn_parametrisation():
    # Loizides, Kamin, d'Enterria PRC 97 054910, table: 41.6, 61.8, 67.6 mb
    for sqrts, ref in [(200, 41.6), (2760, 61.8), (5020, 67.6)]:
        assert abs(sigma_nn_inel(sqrts) - ref) < 0.5
    with pytest.raises(InputError):
        sigma_nn_inel(-1)


def test_sigma_inel_pbpb_2760():
    # ALICE PRL 109 (2012) 252302: 7.7 ± 0.1 (+0.6 −0.5) b; Glauber 7.64 ± 0.22 b
    sig, err = sigma_inel("Pb", "Pb", 2760, n_events=6000, rng=np.random.default_rng(1))
    assert err / sig < 0.012
    assert abs(sig - 7.64) / 7.64 < 0.03, (sig, err)


@pytest.mark.parametrize("collision", ["hard-disk", "gaussian", "trento"])
def test_sigma_inel_pp_equals_sigma_nn(collision):
    sig, err = sigma_inel("p", "p", 5020, n_events=40000, rng=np.random.default_rng(7),
                          collision=collision)
    expect = sigma_nn_inel(5020) / 1000.0  # mb → b
    if collision == "hard-disk":
        assert abs(sig - expect) < 1e-12  # every trial inside b_max = √(σ/π) collides
    else:
        assert abs(sig - expect) < 4 * err, (sig, expect, err)


def test_npart_ncoll_central_and_peripheral_pbpb():
    rng = np.random.default_rng(21)
    ev = sample_glauber("Pb", "Pb", 2760, 300, rng, b_range=(0.0, 1.0))
    assert np.all(ev.b < 1.0) and np.all(ev.npart <= 416)
    assert abs(ev.npart.mean() - 404) / 404 < 0.02
    assert np.array_equal(ev.npart, ev.npart_a + ev.npart_b)
    # every binary collision is counted once on each side
    for side in (0, 1):
        per_event = np.bincount(ev.event_index[ev.nucleus == side],
                                ev.ncoll_part[ev.nucleus == side], minlength=ev.n_events)
        assert np.array_equal(per_event, ev.ncoll)
    per = sample_glauber("Pb", "Pb", 2760, 300, rng, b_range=(14.9, 15.1))
    assert np.all(per.ncoll >= 1) and 2 <= per.npart.mean() < 12


def test_minimum_bias_pbpb_and_ppb_consistency():
    rng = np.random.default_rng(9)
    ev = sample_glauber("Pb", "Pb", 2760, 800, rng)
    sig, err = ev.cross_section()
    assert abs(sig - 7.64) < 4 * err + 0.15
    assert ev.ncoll.min() >= 1 and ev.npart.min() >= 2
    ppb = sample_glauber("p", "Pb", 5020, 500, rng)
    assert np.all(ppb.npart_a == 1)
    assert np.array_equal(ppb.ncoll, ppb.npart_b)  # the proton hits each wounded Pb nucleon once
    sub = ev.select(ev.b > 10)
    i = np.flatnonzero(ev.b > 10)[0]
    assert np.array_equal(sub.participants(0)[0], ev.participants(i)[0])


def test_glauber_input_errors():
    with pytest.raises(InputError, match="collision"):
        sample_glauber("Pb", "Pb", 2760, 10, 1, collision="box")
    with pytest.raises(InputError, match="b_range"):
        sample_glauber("Pb", "Pb", 2760, 10, 1, b_range=(5, 2))
    with pytest.raises(InputError, match="inelastic"):
        sample_glauber("p", "p", 2760, 5, 1, b_range=(10, 12), max_trials=500)
    with pytest.raises(InputError, match="sqrts"):
        sample_glauber("Pb", "Pb", None, 5, 1)


# ---------------------------------------------------------------------------- TRENTo
def test_thickness_integrates_to_participant_weights():
    ev = sample_glauber("Pb", "Pb", 2760, 40, np.random.default_rng(3))
    grid = Grid(n=112, max=14.0)
    wts = np.random.default_rng(4).gamma(1.6, 1 / 1.6, ev.x.size)
    ta, tb = participant_thickness(ev, grid, weights=wts)
    sums = [np.bincount(ev.event_index[ev.nucleus == s], wts[ev.nucleus == s],
                        minlength=ev.n_events) for s in (0, 1)]
    assert np.allclose(total_entropy(ta, grid), sums[0], rtol=1e-12)
    assert np.allclose(total_entropy(tb, grid), sums[1], rtol=1e-12)
    # generalised means are ordered pointwise: p = −1 ≤ p = 0 ≤ p = 1
    h, g, a = (reduced_thickness(ta, tb, p) for p in (-1, 0, 1))
    assert np.all(h <= g * (1 + 1e-12)) and np.all(g <= a * (1 + 1e-12))
    assert np.allclose(a, 0.5 * (ta + tb))


def test_pp_reduced_thickness_is_analytic():
    """p = 0: ∫√(T_A T_B) = √(γ_A γ_B) exp(−b²/8w²) for two Gaussian nucleons b apart."""
    w = 0.5
    ev = sample_glauber("p", "p", 2760, 30, np.random.default_rng(6))
    wts = np.random.default_rng(1).gamma(1.6, 1 / 1.6, ev.x.size)
    grid = Grid(n=200, max=5.0)
    ta, tb = participant_thickness(ev, grid, w=w, weights=wts)
    got = total_entropy(reduced_thickness(ta, tb, 0.0), grid)
    expect = np.sqrt(wts[0::2] * wts[1::2]) * np.exp(-ev.b**2 / (8 * w * w))
    assert np.allclose(got, expect, rtol=2e-3)


def test_gamma_fluctuations_of_pp_entropy():
    """p = 1: S = norm (γ_A + γ_B)/2 → mean norm, variance norm²/(2k)."""
    k, norm = 1.6, 3.0
    ev = sample_glauber("p", "p", 5020, 20000, np.random.default_rng(2))
    grid = Grid(n=40, max=5.0)
    s = total_entropy(trento_profiles(ev, grid, p=1.0, k=k, norm=norm, rng=5), grid)
    assert abs(s.mean() - norm) < 4 * s.std() / math.sqrt(s.size)
    var_err = s.var() * math.sqrt(2.0 / s.size) * 2.5  # gamma tails: generous
    assert abs(s.var() - norm**2 / (2 * k)) < 4 * var_err


# ---------------------------------------------------------------------------- eccentricities
def test_elliptic_gaussian_eccentricities():
    grid = Grid(n=240, max=20.0)
    X, Y = grid.xy()
    sx, sy, x0, y0 = 1.5, 2.5, 0.7, -0.4
    prof = np.exp(-(X - x0) ** 2 / (2 * sx**2) - (Y - y0) ** 2 / (2 * sy**2))
    eps, psi = eccentricities(prof, grid, (2, 3, 4, 5))
    a, b = sx**2, sy**2
    assert abs(eps[0] - (b - a) / (b + a)) < 1e-8
    assert abs(eps[2] - 3 * (a - b) ** 2 / (3 * a * a + 2 * a * b + 3 * b * b)) < 1e-8
    assert eps[1] < 1e-8 and eps[3] < 1e-8
    assert abs(psi[0]) < 1e-8 and abs(psi[2] + math.pi / 4) < 1e-8
    # the same ellipse turned by α: Φ2 turns with it
    al = 0.9
    xr, yr = np.cos(al) * X + np.sin(al) * Y, -np.sin(al) * X + np.cos(al) * Y
    rot = np.exp(-xr**2 / (2 * sx**2) - yr**2 / (2 * sy**2))
    e2, p2 = eccentricities(rot, grid, (2,))
    assert abs(e2[0] - (b - a) / (b + a)) < 1e-8 and _angle_diff(p2[0], al, 2) < 1e-8
    assert abs(r_rms(prof, grid) - math.sqrt(a + b)) < 1e-8


def test_triangular_profile_eccentricity():
    """s = G(r) + β (r/σ)³ e^{−r²/σ²} cos 3(φ−Ψ): ε3 = β/√(2π), Φ3 = Ψ + π/3 (mod 2π/3)."""
    grid = Grid(n=160, max=14.0)
    X, Y = grid.xy()
    sig, beta, Psi = 2.0, 0.5, 0.3
    r2 = X**2 + Y**2
    z3 = (X + 1j * Y) ** 3 * np.exp(-3j * Psi)  # r³ cos 3(φ−Ψ) = Re z3
    prof = np.exp(-r2 / (2 * sig**2)) + beta * z3.real / sig**3 * np.exp(-r2 / sig**2)
    assert prof.min() > -1e-15
    eps, psi = eccentricities(prof, grid, (1, 2, 3, 4))
    assert abs(eps[2] - beta / math.sqrt(2 * math.pi)) < 1e-8
    assert _angle_diff(psi[2], Psi + math.pi / 3, 3) < 1e-8
    assert -math.pi / 3 <= psi[2] < math.pi / 3
    assert eps[0] < 1e-8 and eps[1] < 1e-8 and eps[3] < 1e-8


def test_grid_and_point_eccentricities_agree_and_rotate_covariantly():
    rng = np.random.default_rng(12)
    grid = Grid(n=48, max=8.0)
    X, Y = grid.xy()
    prof = rng.gamma(1.0, 1.0, (3, 48, 48)) * np.exp(-(X**2 + 0.5 * Y**2) / 20)[None]
    h = (1, 2, 3, 4, 5)
    e_grid, p_grid = eccentricities(prof, grid, h)
    e_pts, p_pts = eccentricities_points(np.tile(X.ravel(), 3), np.tile(Y.ravel(), 3),
                                         counts=[X.size] * 3, weights=prof.ravel(), harmonics=h)
    assert np.allclose(e_grid, e_pts, rtol=1e-9, atol=1e-12)
    assert np.allclose(p_grid, p_pts, rtol=1e-9, atol=1e-12)
    # participants of real events, rotated by α: ε unchanged, Φ_n → Φ_n + α (mod 2π/n)
    ev = sample_glauber("Pb", "Pb", 2760, 20, rng, b_range=(6, 10))
    al = 0.77
    e0, p0 = eccentricities_points(ev.x, ev.y, ev.npart, harmonics=h)
    e1, p1 = eccentricities_points(np.cos(al) * ev.x - np.sin(al) * ev.y,
                                   np.sin(al) * ev.x + np.cos(al) * ev.y, ev.npart, harmonics=h)
    assert np.allclose(e0, e1, atol=1e-12)
    for j, n in enumerate(h):
        assert np.all(_angle_diff(p1[:, j], p0[:, j] + al, n) < 1e-9)
    # an empty profile gives NaN, not an exception
    e, p = eccentricities(np.zeros((48, 48)), grid)
    assert np.all(np.isnan(e))


# ---------------------------------------------------------------------------- centrality
def test_centrality_from_impact_parameter_and_multiplicity():
    rng = np.random.default_rng(0)
    B = 15.0
    b = B * np.sqrt(rng.random(50000))  # geometric: c(b) = (b/B)²
    cal = CentralityCalibration.from_impact_parameter(b)
    grid_b = np.linspace(0.5, 14.5, 29)
    c = cal.centrality(grid_b)
    assert np.all(np.diff(c) > 0)
    assert np.max(np.abs(c - 100 * (grid_b / B) ** 2)) < 1.0
    assert np.allclose(cal.value_at(cal.centrality(grid_b)), grid_b, atol=1e-9)
    edges = cal.edges([(0, 5), (5, 10)])
    assert np.allclose(edges, B * np.sqrt([[0.0, 0.05], [0.05, 0.10]]), atol=0.08)
    mult = cal.values.max() - b  # larger = more central
    calm = CentralityCalibration.from_multiplicity(mult)
    cm = calm.centrality(np.sort(mult)[[-1, 0]])
    assert cm[0] < 0.01 and cm[1] > 99.99
    assert np.all(np.diff(calm.edges()[:, 0]) < 0)
    assert list(calm.classify([mult.max(), mult.min()], [(0, 5), (95, 100)])) == [0, 1]


def test_geometric_centrality_edges_pbpb():
    b_lo, b_hi = b_range_for_centrality(0, 5, "Pb", "Pb", 2760)
    # all events with b < b_hi interact: c = π b²/σ_inel with σ_inel ≈ 7.64 b = 764 fm²
    assert b_lo == 0.0
    assert abs(b_hi - math.sqrt(0.05 * 764 / math.pi)) / 3.487 < 0.02
    lo2, hi2 = b_range_for_centrality("5-10", projectile="Pb", target="Pb", sqrts=2760)
    assert lo2 == pytest.approx(b_hi) and hi2 == pytest.approx(b_hi * math.sqrt(2), rel=5e-3)
    # synthetic stratified trials: an event interacts iff b < 5 fm, so c(b) = (b/5)² below 5 fm
    rng = np.random.default_rng(1)
    n = 20000
    bt = 8.0 * np.sqrt((np.arange(n) + rng.random(n)) / n)
    cal = CentralityCalibration.from_glauber_trials(bt, bt < 5.0)
    assert np.allclose(cal.centrality([1.0, 3.0, 4.5]), [4.0, 36.0, 81.0], atol=0.02)
    assert cal.centrality(6.0) == 100.0


def test_parse_centrality():
    assert parse_centrality("0-10") == (0.0, 10.0)
    assert parse_centrality(" 20–30% ") == (20.0, 30.0)
    assert parse_centrality((5, 7.5)) == (5.0, 7.5)
    for bad in ["10-5", "abc", "0-120", "-5-10", "5", (1, 2, 3), "nan-3"]:
        with pytest.raises(InputError):
            parse_centrality(bad)


# ---------------------------------------------------------------------------- pipeline
def test_parse_system():
    assert parse_system("PbPb") == ("Pb", "Pb")
    assert parse_system("Pb-Pb") == ("Pb", "Pb")
    assert parse_system("pPb") == ("p", "Pb")
    assert parse_system("p+Pb") == ("p", "Pb")
    assert parse_system("AuAu") == ("Au", "Au")
    assert parse_system("UU") == ("U", "U")
    assert parse_system("dAu") == ("d", "Au")
    assert parse_system("Cu+Au") == ("Cu", "Au")
    for bad in ["PbKr", "", "Pb", 5]:
        with pytest.raises(InputError):
            parse_system(bad)


def test_sample_initial_states_centrality_classes_and_reproducibility():
    # ALICE PRC 88 (2013) 044909, Pb–Pb 2.76 TeV Glauber: ⟨Npart⟩ = 382.7 (0–5 %), 128.9 (30–40 %)
    ini = sample_initial_states("PbPb", 2760, 150, rng=3, centrality="0-5")
    assert ini.eps.shape == (150, 4) and ini.psi.shape == (150, 4)
    assert np.all(ini.b <= ini.b_range[1]) and ini.b_range[1] == pytest.approx(3.5, abs=0.1)
    assert abs(ini.npart.mean() - 382.7) / 382.7 < 0.03
    mid = sample_initial_states("PbPb", 2760, 200, rng=4, centrality=(30, 40),
                                random_reaction_plane=True)
    assert abs(mid.npart.mean() - 128.9) / 128.9 < 0.05
    # the almond: Φ2 follows the reaction plane, ε2 ≈ 0.4 (TRENTo p = 0)
    assert np.mean(np.cos(2 * (mid.psi[:, 0] - mid.psi_rp))) > 0.8
    assert 0.3 < mid.eps[:, 0].mean() < 0.5
    assert ini.eps[:, 0].mean() < 0.5 * mid.eps[:, 0].mean()
    again = sample_initial_states("PbPb", 2760, 150, rng=3, centrality="0-5")
    for key, val in ini.columns().items():
        assert np.array_equal(val, again.columns()[key]), key


def test_sample_initial_states_profiles_and_options():
    ini = sample_initial_states("Pb-Pb", 5020, 30, rng=1, keep_profiles=True, norm=2.0)
    assert ini.profiles.shape == (30, ini.grid.n, ini.grid.n) and ini.grid.dx <= 0.4
    assert np.allclose(ini.entropy, total_entropy(ini.profiles, ini.grid))
    assert np.allclose(ini.r_rms, r_rms(ini.profiles, ini.grid))
    assert ini.sigma_nn == pytest.approx(sigma_nn_inel(5020))
    # the deformation of U raises ε2 in the most central collisions (β2 = 0.28 vs 0)
    de = sample_initial_states("UU", 193, 150, rng=2, b_range=(0, 1))
    sp = sample_initial_states("UU", 193, 150, rng=2, b_range=(0, 1), beta2=0.0)
    assert de.eps[:, 0].mean() > 1.4 * sp.eps[:, 0].mean()
    with pytest.raises(InputError):
        sample_initial_states("PbPb", 2760, 0)
    with pytest.raises(InputError):
        sample_initial_states("pp", 2760, 5, beta2=0.1)
    with pytest.raises(InputError):
        sample_initial_states("PbPb", 2760, 5, centrality="0-5", b_range=(0, 2))
