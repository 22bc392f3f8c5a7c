"""Heavy-ion observables checked against analytic expectations on synthetic events."""

import itertools
import json
import warnings

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events, write_events
from qcdgen.hic.observables import (
    FlatParticles, ObservableWarning, QVectors, UnphysicalCumulantWarning, dn_dy, dnch_deta, event_correlators,
    flow_cumulants, mean_pt, multiplicity, net_baryon, net_charge, observe, observe_file, pt_fluctuations,
    pt_spectrum, rho_n)
from qcdgen.hic.observables.fluctuations import pt_columns, pt_correlators_from_columns
from qcdgen.hic.observables._resample import Resampler

PION_MASS = 0.13957
PROTON_MASS = 0.93827


def pull(est, expected):
    return (est.value - expected) / est.error


def particles_from(pt, phi, eta, pdg, mass):
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px ** 2 + py ** 2 + pz ** 2 + mass ** 2)
    charge = np.where(np.abs(pdg) == 111, 0, np.sign(pdg))
    return dict(px=px, py=py, pz=pz, E=e, mass=np.array(np.broadcast_to(mass, pt.shape)), pdg=pdg, charge=charge)


def flow_events(n_events, mult, vx, vy=None, *, harmonic=2, temperature=0.5, eta_range=2.0, seed=0, **conditions):
    """dN/dφ ∝ 1 + 2 v cos(n(φ − Ψ)) per event, v-vector (vx, vy) rotated by a random Ψ;
    π± with pT exponential of mean ``temperature`` (scalar or per event) and η uniform."""
    rng = np.random.default_rng(seed)
    mult = np.broadcast_to(np.asarray(mult, dtype=np.int64), (n_events,))
    vx = np.broadcast_to(np.asarray(vx, float), (n_events,))
    vy = np.zeros(n_events) if vy is None else np.broadcast_to(np.asarray(vy, float), (n_events,))
    v = np.hypot(vx, vy)
    assert np.all(v < 0.5)
    psi = (rng.uniform(0, 2 * np.pi, n_events) + np.arctan2(vy, vx)) / harmonic
    k = int(1.3 * mult.max() * (1 + 2 * v.max())) + 40
    cand = rng.uniform(-np.pi, np.pi, (n_events, k))
    u = rng.uniform(0, 1, (n_events, k)) * (1 + 2 * v)[:, None]
    accepted = u < 1 + 2 * v[:, None] * np.cos(harmonic * (cand - psi[:, None]))
    keep = accepted & (np.cumsum(accepted, axis=1) <= mult[:, None])
    assert np.all(keep.sum(axis=1) == mult)
    phi = cand[keep]
    n = int(mult.sum())
    temp = np.repeat(np.broadcast_to(np.asarray(temperature, float), (n_events,)), mult)
    pt = rng.exponential(1.0, n) * temp
    eta = rng.uniform(-eta_range, eta_range, n)
    pdg = rng.choice([211, -211], n)
    return make_events(mult, particles_from(pt, phi, eta, pdg, PION_MASS), **conditions)


ALL = dict(eta_max=None, pt_range=None)  # no acceptance cuts: the generated sample itself


# --------------------------------------------------------------------------- generic framework

def brute_force(phi, w, harmonics):
    m = len(harmonics)
    perms = np.array(list(itertools.permutations(range(len(phi)), m)))
    weights = np.prod(w[perms], axis=1)
    num = np.sum(weights * np.cos((phi[perms] * np.asarray(harmonics)).sum(axis=1)))
    return num / weights.sum(), weights.sum()


@pytest.mark.parametrize("weighted", [False, True])
def test_recursive_correlators_equal_brute_force_sums(weighted):
    rng = np.random.default_rng(4)
    counts = np.array([10, 8, 3])  # the 3-particle event has no 4-, 6-, 8-tuples
    phi = rng.uniform(-np.pi, np.pi, counts.sum())
    w = rng.uniform(0.5, 2.0, counts.sum()) if weighted else np.ones(counts.sum())
    event = np.repeat(np.arange(3), counts)
    for n in (2, 3):
        corr = event_correlators(phi, event, 3, n, weights=w if weighted else None)
        for k in (2, 4, 6, 8):
            for e in range(3):
                value, weight = corr[k][0][e], corr[k][1][e]
                if counts[e] < k:
                    assert weight == 0 and np.isnan(value)
                    continue
                if counts[e] == 10 and k == 8:
                    continue  # 1.8 million 8-tuples: checked on the 8-particle event
                sel = event == e
                exact, exact_w = brute_force(phi[sel], w[sel], [n] * (k // 2) + [-n] * (k // 2))
                assert value == pytest.approx(exact, abs=1e-10)
                assert weight == pytest.approx(exact_w, rel=1e-12)
                if not weighted:
                    assert weight == np.prod(np.arange(counts[e] - k + 1, counts[e] + 1))
    # mixed harmonics too (the recursion is generic)
    qv = QVectors(phi[:10], np.zeros(10, int), 1)
    exact, _ = brute_force(phi[:10], np.ones(10), [2, 3, -1, -4])
    assert qv.distinct_sum([2, 3, -1, -4]).real[0] / (10 * 9 * 8 * 7) == pytest.approx(exact, abs=1e-12)


@pytest.fixture(scope="module")
def fixed_v2_events():
    return flow_events(3000, 500, 0.1, seed=1)


def test_fixed_v2_recovered_by_all_cumulant_orders(fixed_v2_events):
    res = flow_cumulants(fixed_v2_events, 2, eta_gap=1.0, **ALL)
    assert res.flags == [] and res.n_events == 3000
    for k in (2, 4, 6, 8):
        assert abs(pull(res.v[k], 0.1)) < 3, (k, res.v[k])
        assert 0 < res.v[k].error < 0.003
    assert abs(pull(res.v_gap, 0.1)) < 3
    named = res.named()
    assert named["v2{2,|deta|>1}"] is res.v_gap and named["v2{4}"] is res.v[4]
    # no triangular flow in these events
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnphysicalCumulantWarning)  # v3{2} is NaN if c3{2} < 0
        res3 = flow_cumulants(fixed_v2_events, 3, orders=(2,), **ALL)
    assert abs(pull(res3.c[2], 0.0)) < 3


def test_bootstrap_agrees_with_jackknife(fixed_v2_events):
    jk = flow_cumulants(fixed_v2_events, 2, orders=(2, 4), **ALL)
    bs = flow_cumulants(fixed_v2_events, 2, orders=(2, 4), errors="bootstrap", n_boot=100, seed=3, **ALL)
    for k in (2, 4):
        assert bs.v[k].value == jk.v[k].value
        assert 0.7 < bs.v[k].error / jk.v[k].error < 1.4
    again = flow_cumulants(fixed_v2_events, 2, orders=(2, 4), errors="bootstrap", n_boot=100, seed=3, **ALL)
    assert again.v[4].error == bs.v[4].error


def test_gaussian_flow_fluctuations_split_two_and_multi_particle_cumulants():
    rng = np.random.default_rng(6)
    n, v0, sigma = 3000, 0.08, 0.03
    vx, vy = v0 + sigma * rng.standard_normal(n), sigma * rng.standard_normal(n)
    res = flow_cumulants(flow_events(n, 500, vx, vy, seed=3), 2, **ALL)
    v2_expected = np.sqrt(v0 ** 2 + 2 * sigma ** 2)
    assert abs(pull(res.v[2], v2_expected)) < 3
    for k in (4, 6, 8):
        assert abs(pull(res.v[k], v0)) < 3, (k, res.v[k])
    assert res.v[4].value < res.v[2].value
    assert (res.v[2].value - res.v[4].value) / np.hypot(res.v[2].error, res.v[4].error) > 3


def test_isotropic_events_have_no_two_particle_cumulant():
    events = flow_events(1000, 300, 0.0, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnphysicalCumulantWarning)  # v{k} of either sign may be NaN
        res = flow_cumulants(events, 2, orders=(2, 4), eta_gap=0.5, **ALL)
    assert abs(pull(res.c[2], 0.0)) < 3
    assert abs(pull(res.c_gap, 0.0)) < 3
    assert abs(res.c[2].value) < 1e-4


def test_unphysical_cumulant_sign_gives_nan_flag_and_warning():
    # a quarter of the events with v = 0.2, the rest without flow: c{4} = <v^4> - 2<v^2>^2 = +2e-4 > 0
    v = np.where(np.arange(2000) % 4 == 0, 0.2, 0.0)
    events = flow_events(2000, 200, v, seed=9)
    with pytest.warns(UnphysicalCumulantWarning, match=r"c2\{4\}"):
        res = flow_cumulants(events, 2, orders=(2, 4), **ALL)
    assert res.c[4].value > 0 and np.isfinite(res.c[4].error)
    assert np.isnan(res.v[4].value) and np.isnan(res.v[4].error)
    assert any("v2{4}" in f and "unphysical" in f for f in res.flags)
    assert res.v[2].value == pytest.approx(0.1, abs=0.01)


# --------------------------------------------------------------------------- spectra

def test_mean_pt_multiplicity_and_dn_dy_of_known_distributions():
    rng = np.random.default_rng(11)
    n_ev, mult, temp, y_half = 2000, 200, 0.4, 2.0
    n = n_ev * mult
    pt = rng.exponential(temp, n)
    y = rng.uniform(-y_half, y_half, n)
    pdg = rng.choice([211, 2212], n, p=[0.75, 0.25])
    mass = np.where(pdg == 211, PION_MASS, PROTON_MASS)
    mt = np.hypot(pt, mass)
    phi = rng.uniform(-np.pi, np.pi, n)
    parts = dict(px=pt * np.cos(phi), py=pt * np.sin(phi), pz=mt * np.sinh(y), E=mt * np.cosh(y), mass=mass,
                 pdg=pdg, charge=np.ones(n))
    events = make_events(np.full(n_ev, mult), parts)
    # <pT> at |y| < 0.5: the exact sample mean, and statistically the slope
    for species, frac in (("pi+", 0.75), ("p", 0.25)):
        sel = (pdg == (211 if species == "pi+" else 2212)) & (np.abs(y) < 0.5)
        est = mean_pt(events, species, y_max=0.5)
        assert est.value == pytest.approx(pt[sel].mean(), rel=1e-12)
        assert abs(pull(est, temp)) < 3
        # uniform rapidity: dN/dy = fraction * mult / (2 * y_half)
        assert abs(pull(dn_dy(events, species), frac * mult / (2 * y_half))) < 3
        m = multiplicity(events, species)
        assert m.value == pytest.approx(np.sum(pdg == IDS[species]) / n_ev, rel=1e-12)
    assert np.isnan(mean_pt(events, "K+").value)  # absent species: NaN, not 0
    # spectrum: integrates to the mid-rapidity count and follows exp(-pT/T)/T
    spec = pt_spectrum(events, "pi+", pt_bins=np.linspace(0, 2, 21))
    dndy = dn_dy(events, "pi+")
    sel = (pdg == 211) & (np.abs(y) < 0.5) & (pt < 2)
    assert np.sum(spec.values * np.diff(spec.edges)) == pytest.approx(sel.sum() / n_ev, rel=1e-12)
    expected = dndy.value * (np.exp(-spec.edges[:-1] / temp) - np.exp(-spec.edges[1:] / temp)) / np.diff(spec.edges)
    chi2 = np.sum(((spec.values - expected) / spec.errors) ** 2)
    assert chi2 / len(expected) < 2.0


IDS = {"pi+": 211, "p": 2212}


def test_charged_selection_and_net_quantities_count_exactly():
    # every event: 10 pi+, 5 pi-, 7 pi0, 3 p, 1 pbar at eta = 0 (all pass |eta| < 0.5), plus 4 pi+ at eta = 3
    codes = np.array([211] * 10 + [-211] * 5 + [111] * 7 + [2212] * 3 + [-2212] * 1 + [211] * 4)
    eta = np.array([0.0] * 26 + [3.0] * 4)
    n_ev = 50
    rng = np.random.default_rng(2)
    pdg = np.tile(codes, n_ev)
    mass = np.where(np.abs(pdg) == 2212, PROTON_MASS, PION_MASS)
    parts = particles_from(rng.uniform(0.3, 1.0, pdg.size), rng.uniform(-np.pi, np.pi, pdg.size),
                           np.tile(eta, n_ev), pdg, mass)
    events = make_events(np.full(n_ev, codes.size), parts)
    d = dnch_deta(events)
    assert d.value == 19.0 and d.error == 0.0  # 10 + 5 + 3 + 1 charged at |eta| < 0.5, per unit eta
    assert multiplicity(events, charged=True).value == 23.0
    assert multiplicity(events, "pi0").value == 7.0
    assert multiplicity(events, charged=True, eta_max=0.5).value == 19.0
    q, b = net_charge(events), net_baryon(events)
    assert q.value == 10 - 5 + 3 - 1 and q.error == 0.0
    assert b.value == 3 - 1 and b.error == 0.0
    flat = FlatParticles.from_events(events)
    assert flat.count().sum() == pdg.size and flat.n_events == n_ev


# --------------------------------------------------------------------------- fluctuations

def test_pt_correlators_equal_explicit_pair_and_triple_sums():
    rng = np.random.default_rng(8)
    counts = np.array([6, 9, 2, 5])
    pt = rng.exponential(0.5, counts.sum())
    event = np.repeat(np.arange(4), counts)
    flat = FlatParticles(pt, np.zeros_like(pt), np.zeros_like(pt), np.zeros_like(pt), np.full(pt.size, 211),
                         np.ones(pt.size, int), event, 4)
    est, _ = pt_correlators_from_columns(pt_columns(flat), Resampler(4, n_groups=4))
    p_mean = pt.mean()
    num2 = num3 = den2 = den3 = 0.0
    for e in range(4):
        a = pt[event == e] - p_mean
        for i, j in itertools.permutations(range(len(a)), 2):
            num2, den2 = num2 + a[i] * a[j], den2 + 1
        for i, j, k in itertools.permutations(range(len(a)), 3):
            num3, den3 = num3 + a[i] * a[j] * a[k], den3 + 1
    assert est["mean_pt_all"].value == pytest.approx(p_mean, rel=1e-13)
    assert est["dpt_dpt"].value == pytest.approx(num2 / den2, abs=1e-12)
    assert est["dpt3"].value == pytest.approx(num3 / den3, abs=1e-12)


def test_temperature_fluctuations_give_variance_and_skewness_of_mean_pt():
    rng = np.random.default_rng(12)
    n_ev, scale = 2000, 0.05
    temps = 0.45 + rng.exponential(scale, n_ev)  # var = scale^2, third central moment = 2 scale^3
    est = pt_fluctuations(flow_events(n_ev, 400, 0.0, temperature=temps, seed=13), charged=True, **ALL)
    assert abs(pull(est["dpt_dpt"], scale ** 2)) < 3
    assert abs(pull(est["dpt3"], 2 * scale ** 3)) < 3
    assert est["dpt3"].value / est["dpt3"].error > 5
    assert abs(pull(est["mean_pt_all"], 0.45 + scale)) < 3
    fixed = pt_fluctuations(flow_events(n_ev, 400, 0.0, temperature=0.5, seed=14), **ALL)
    assert abs(pull(fixed["dpt_dpt"], 0.0)) < 3 and abs(fixed["dpt_dpt"].value) < 1e-4
    assert abs(pull(fixed["dpt3"], 0.0)) < 3


@pytest.mark.parametrize("correlated", [True, False])
def test_rho2_of_perfectly_correlated_and_independent_v2_and_mean_pt(correlated):
    rng = np.random.default_rng(21)
    n_ev = 2500
    temps = 0.5 + 0.05 * rng.uniform(-np.sqrt(3), np.sqrt(3), n_ev)
    driver = temps if correlated else 0.5 + 0.05 * rng.uniform(-np.sqrt(3), np.sqrt(3), n_ev)
    v2sq = 0.0225 + 0.12 * (driver - 0.5)  # v2^2 exactly linear in T (or in an independent copy)
    events = flow_events(n_ev, 500, np.sqrt(v2sq), temperature=temps, seed=22)
    rho = rho_n(events, 2, **ALL)
    assert abs(pull(rho, 1.0 if correlated else 0.0)) < 3, rho
    assert rho.error < 0.25


# --------------------------------------------------------------------------- observe()

REQUIRED = ["v2{2}", "v2{4}", "v2{6}", "v2{8}", "v3{2}", "v3{4}", "v2{2,|deta|>1}", "dNch/deta", "mean_pt",
            "n_events", "mean_pt(pi+)", "dN/dy(pi+)", "mult(pi+)", "rho2", "dpt_dpt", "dpt3", "net_charge",
            "net_baryon"]


@pytest.fixture(scope="module")
def centrality_events():
    # multiplicity falls with centrality, v2 rises: 600 events of 100..400 particles
    rng = np.random.default_rng(31)
    cent = rng.uniform(0, 100, 600)
    counts = (400 - 3 * cent).astype(int)
    return flow_events(600, counts, 0.05 + 0.001 * cent, seed=32, centrality=cent), cent, counts


def test_observe_reports_required_names_and_splits_classes(centrality_events, tmp_path, monkeypatch):
    events, cent, counts = centrality_events
    classes = [(0, 10), (10, 40), (40, 100)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)  # e.g. <pT> of the absent kaons is NaN
        summary = observe(events, classes)
    out = summary.to_json_dict()
    json.dumps(out, allow_nan=False)
    obs = out["observables"]
    for name in REQUIRED:
        assert name in obs and set(obs[name]) in ({"value", "error"}, {"value", "error", "flag", "reason"}), name
        if obs[name]["value"] is None:  # a null always says why
            assert obs[name]["flag"] in ("undefined", "unreliable") and obs[name]["reason"], name
    assert obs["n_events"] == {"value": 600.0, "error": 0.0}
    assert obs["mean_pt(K+)"]["value"] is None and any("mean_pt(K+)" in f for f in summary.flags)
    assert summary.centrality_source == "field"
    for lo, hi in classes:
        label = f"{lo}-{hi}%"
        n_in = int(np.sum((cent >= lo) & (cent < hi)))
        assert summary.class_events[label] == n_in == summary.per_class[label]["n_events"].value
        assert out["per_class"][label]["n_events"] == n_in
    # dNch/deta per class from the numbers of particles at |eta| < 0.5 (charged pions)
    flat = FlatParticles.from_events(events)
    nch = flat.count(np.abs(flat.eta) < 0.5)
    sel = cent < 10
    assert summary.per_class["0-10%"]["dNch/deta"].value == pytest.approx(nch[sel].mean(), rel=1e-12)
    table = summary.table("v2{2}")
    assert table["value"].shape == (3,) and np.all(np.diff(table["value"]) > 0)  # v2 rises with centrality
    assert summary["dNch/deta"].value == pytest.approx(nch.mean(), rel=1e-12)

    # no centrality field: centrality from the charged multiplicity at |eta| < 0.5 ranked in the sample
    plain = flow_events(600, counts, 0.05 + 0.001 * cent, seed=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)
        ranked = observe(plain, [(0, 20), (20, 100)], eta_gap=None, errors="bootstrap", n_boot=20)
    assert ranked.centrality_source == "multiplicity"
    assert "v2{2,|deta|>1}" not in ranked.observables
    top = ranked.class_events["0-20%"]
    assert abs(top - 120) <= 10 and top + ranked.class_events["20-100%"] == 600
    assert ranked.per_class["0-20%"]["dNch/deta"].value > ranked.per_class["20-100%"]["dNch/deta"].value
    assert ranked.per_class["0-20%"]["dNch/deta"].value == pytest.approx(np.sort(nch)[-top:].mean(), rel=1e-12)

    # streamed from a file: the same numbers
    path = tmp_path / "events.parquet"
    write_events(path, events, row_group_events=250)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)
        streamed = observe_file(path, classes)
    for name in REQUIRED:
        a, b = streamed.observables[name], summary.observables[name]
        assert (a.value == pytest.approx(b.value, rel=1e-9, abs=1e-15)) or (np.isnan(a.value) and np.isnan(b.value))

    # events are turned into columns in bounded slices: the slicing does not change any number
    import qcdgen.hic.observables.summary as summary_module
    monkeypatch.setattr(summary_module, "BATCH_PARTICLES", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)
        sliced = observe(events, classes)
    for name in REQUIRED:
        a, b = sliced.per_class["10-40%"][name], summary.per_class["10-40%"][name]
        assert (a.value == pytest.approx(b.value, rel=1e-9, abs=1e-15)) or (np.isnan(a.value) and np.isnan(b.value))
        assert (a.error == pytest.approx(b.error, rel=1e-9, abs=1e-15)) or (np.isnan(a.error) and np.isnan(b.error))

    from qcdgen.report.hic_plots import write_observable_plots
    paths = write_observable_plots(summary, tmp_path / "plots")
    assert len(paths) == 3 + 1 + len(classes)
    for p in paths:
        assert p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_observe_refuses_bad_arguments(fixed_v2_events):
    few = fixed_v2_events[:20]
    with pytest.raises(InputError, match="errors"):
        observe(few, errors="magic")
    with pytest.raises(InputError, match="centrality class"):
        observe(few, [(10, 5)])
    with pytest.raises(InputError, match="eta_gap"):
        observe(few, eta_gap=5.0)
    with pytest.raises(InputError, match="at least 2 events"):
        observe(few[:1])
    with pytest.raises(InputError, match="species"):
        mean_pt(few, "quark")


# --------------------------------------------------------------------------- reliability flags and plots

def test_observe_keeps_v2_4_of_gaussian_fluctuations_and_flags_it_in_a_tiny_sample():
    # v2{4} = v0 exactly for Gaussian fluctuations of the flow vector around v0 (no flag), and
    # v2{2} = sqrt(v0^2 + 2 sigma^2) above it
    rng = np.random.default_rng(6)
    n, v0, sigma = 2000, 0.08, 0.03
    vx, vy = v0 + sigma * rng.standard_normal(n), sigma * rng.standard_normal(n)
    events = flow_events(n, 400, vx, vy, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)  # no v3 in these events
        big = observe(events, eta_max=2.5, pt_range=None)
    assert big.flag("v2{4}") is None and big.flag("v2{2}") is None
    assert abs(pull(big["v2{4}"], v0)) < 3 and abs(pull(big["v2{2}"], np.sqrt(v0 ** 2 + 2 * sigma ** 2))) < 3
    assert big["v2{4}"].value < big["v2{2}"].value
    assert set(big.to_json_dict()["observables"]["v2{4}"]) == {"value", "error"}
    # the same physics from 30 events: flagged, and never an impossible number
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny = observe(events[:30], eta_max=2.5, pt_range=None)
    flag = tiny.flag("v2{4}")
    assert flag is not None and ("few_events" in flag.flags or flag.nulled)
    if np.isfinite(tiny["v2{4}"].value):
        assert tiny["v2{4}"].value < tiny["v2{2}"].value
    assert not abs(tiny["rho2"].value) > 1  # NaN or inside [-1, 1]
    lines = [str(w.message) for w in caught if issubclass(w.category, ObservableWarning)]
    assert lines == tiny.warning_lines()
    assert any(line.startswith("all events: 30 events, too few for") and 'observables["' in line for line in lines)


def test_assess_nulls_impossible_values_flags_small_samples_and_keeps_the_rest():
    from qcdgen.hic.observables.quality import MIN_EVENTS_ANY, MIN_EVENTS_FOUR, MIN_EVENTS_SIX, assess, min_events
    from qcdgen.stats import Estimate as Est

    obs = {"n_events": Est(500.0, 0.0), "v2{2}": Est(0.05, 0.002), "c2{2}": Est(0.0025, 0.0002),
           "v2{4}": Est(0.051, 0.003), "c2{4}": Est(-6.8e-6, 1e-6),
           "v3{2}": Est(0.03, 0.002), "c3{2}": Est(9e-4, 1e-4), "v3{4}": Est(0.02, 0.004), "c3{4}": Est(-1.6e-7, 3e-8),
           "v2{6}": Est(0.04, 0.01), "c2{6}": Est(1e-7, 1e-7),
           "rho2": Est(1.7, 0.9), "var(v2^2)": Est(1e-8, 1e-7), "rho3": Est(-0.4, 0.1), "dNch/deta": Est(100.0, 2.0),
           "mean_pt(K+)": Est(float("nan"), float("nan"))}
    out, flags, notes = assess(obs, 500, ["mean_pt(K+): value is not finite (NaN reported)", "<<8>>: odd"])
    assert notes == ["<<8>>: odd"]
    # impossible: v2{4} >= v2{2} and |rho2| > 1 -> NaN, with the raw number in the reason
    assert flags["v2{4}"].flag == "unreliable" and "0.051" in flags["v2{4}"].reason and np.isnan(out["v2{4}"].value)
    assert flags["rho2"].flag == "unreliable" and "1.7" in flags["rho2"].reason and np.isnan(out["rho2"].value)
    assert flags["mean_pt(K+)"].flag == "undefined" and flags["mean_pt(K+)"].short == "no particles"
    # possible and resolved: untouched
    for name in ("v2{2}", "v3{2}", "v3{4}", "rho3", "dNch/deta", "c2{4}"):
        assert name not in flags and out[name] == obs[name], name
    # c2{6} within 2 sigma of 0: v2{6} kept but flagged
    assert flags["v2{6}"].flag == "noisy" and out["v2{6}"] == obs["v2{6}"]
    # 30 events: too few for 4-particle cumulants and rho_n, enough for the rest
    out30, flags30, _ = assess(obs, 30)
    assert flags30["v3{4}"].flag == "few_events" and out30["v3{4}"] == obs["v3{4}"]
    assert flags30["rho3"].flag == "few_events" and "dNch/deta" not in flags30 and "v3{2}" not in flags30
    assert "few_events" in flags30["rho2"].flags and flags30["rho2"].flag == "unreliable"
    _, flags5, _ = assess(obs, 5)
    assert flags5["dNch/deta"].flag == "few_events"
    assert (min_events("v2{4}"), min_events("v3{6}"), min_events("rho2"), min_events("cov(v2^2,pt)"),
            min_events("dpt3"), min_events("mean_pt")) == (MIN_EVENTS_FOUR, MIN_EVENTS_SIX, MIN_EVENTS_SIX,
                                                           MIN_EVENTS_SIX, MIN_EVENTS_FOUR, MIN_EVENTS_ANY)


def test_warning_lines_are_capped_and_point_into_the_json(centrality_events):
    import re

    events, _, _ = centrality_events
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ObservableWarning)
        summary = observe(events[:120], [(0, 10), (10, 20), (20, 30), (90, 100), (95, 100)])
    doc = summary.to_json_dict()
    lines = summary.warning_lines(max_lines=None)
    assert lines == doc["warnings"] and len(lines) > 4
    assert not any("summary.flags" in line for line in lines)
    for line in lines:
        assert len(line) <= 115, line
        key = re.search(r'see ((?:observables|per_class)(?:\["[^"]*"\])+)', line).group(1)
        node = doc
        for part in [key.split("[", 1)[0]] + re.findall(r'\["([^"]*)"\]', key):
            node = node[part]  # KeyError if a warning names a key that the JSON does not have
    capped = summary.warning_lines(max_lines=4)
    assert len(capped) == 4 and capped[:3] == lines[:3]
    assert capped[3] == f'{len(lines) - 3} more warnings: see "warnings" in the JSON summary'


def _hand_summary(spectra=None):
    from qcdgen.hic.observables import ObservableSummary
    from qcdgen.stats import Estimate as Est

    nan = float("nan")
    per = {"0-10%": {"dNch/deta": Est(100.0, 2.0)}, "10-20%": {"dNch/deta": Est(80.0, nan)},
           "20-30%": {"dNch/deta": Est(nan, nan)}, "30-40%": {"n_events": Est(0.0, 0.0)}}
    events = {"0-10%": 100, "10-20%": 100, "20-30%": 100, "30-40%": 0}
    return ObservableSummary({"dNch/deta": Est(90.0, 1.0)}, 300, [(0, 10), (10, 20), (20, 30), (30, 40)], per,
                             events, spectra={"all": spectra or {}})


def test_plots_show_missing_errors_and_values_instead_of_dropping_them():
    from qcdgen.report.hic_plots import observable_vs_centrality_figure

    ax = observable_vs_centrality_figure(_hand_summary(), "dNch/deta").axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "hollow: error n/a" in labels
    assert any(label.startswith("n/a, not drawn: dNch/deta ×1") for label in labels)  # 20-30%; 30-40% is empty
    hollow = [line for line in ax.lines if line.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))
              and len(line.get_xdata())]
    assert [list(line.get_ydata()) for line in hollow] == [[80.0]]
    assert ax.get_xlim()[1] <= 31  # the axis spans the classes with events


def test_log_spectrum_clips_lower_error_bars_and_takes_its_range_from_the_values():
    from qcdgen.hic.observables import PtSpectrum
    from qcdgen.report.hic_plots import LOG_CLIP, pt_spectra_figure

    edges = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    # bin 1: error equal to the value (one count), its lower end would be ~1e-16 on a log axis
    charged = PtSpectrum("charged", edges, np.array([100.0, 1.0, 1e-3, 0.0]),
                         np.array([5.0, 1.0 - 1e-16, np.nan, 0.0]), 10, "eta")
    ax = pt_spectra_figure(_hand_summary({"charged": charged}), "all").axes[0]
    lo, hi = ax.get_ylim()
    assert 1e-3 / 3.01 <= lo and hi <= 100 * 3.01  # from the values, not from the bar ends
    bars = [seg for c in ax.collections for seg in c.get_segments()]
    assert bars and min(seg[:, 1].min() for seg in bars) >= LOG_CLIP * 1.0 * 0.999
    notes = " ".join(t.get_text() for t in ax.texts)
    assert "1 lower error bars clipped" in notes and "1 points without error" in notes and "1 empty bins" in notes
    assert "hollow: error n/a" in [t.get_text() for t in ax.get_legend().get_texts()]
