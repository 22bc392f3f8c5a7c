"""Isobar imaging: Glauber + TRENTo features of ⁹⁶Ru+⁹⁶Ru and ⁹⁶Zr+⁹⁶Zr and their ratios.

Following Y. Cheng, S. Shi, Y.-G. Ma, H. Stöcker, K. Zhou, PRC 107 (2023) 064909, the
Woods–Saxon parameters (β₂, β₃, a, R) of a nucleus are inferred from initial-state features in
multiplicity bins, for one isobar system and from the Ru/Zr ratios. Per event (TRENTo entropy
profile s(x, y), :mod:`qcdgen.hic.initial`): the multiplicity N ∝ ∫ s d²x, ε₂, ε₃ (r^n-weighted,
:func:`~qcdgen.hic.initial.eccentricity.eccentricities`) and the inverse transverse size
d⊥ = 1/R⊥, R⊥² = ⟨r²⟩_s (Bozek, Broniowski PRC 85 (2012) 044910; Schenke, Shen, Teaney PRC
102 (2020) 034905: ⟨p_T⟩ ∝ d⊥). Features in multiplicity bin i:

    P_i = σ(N ∈ bin i)/σ_inel,   ⟨ε₂²⟩_i,   ⟨ε₃²⟩_i,   ⟨d⊥⟩_i.

Impact parameters are stratified (b² uniform inside each stratum, ``IsobarModel.strata``) so
that ultra-central bins are well populated; each event carries the weight σ_stratum/n_stratum
(barn), which makes every average the minimum-bias one. In ultra-central collisions
⟨ε_n²⟩ ≈ a_n + b_n β_n² (G. Giacalone, J. Jia, C. Zhang PRL 127 (2021) 242301; J. Jia PRC 105
(2022) 014905), which is why the ratio ⟨ε₂²⟩_Ru/⟨ε₂²⟩_Zr measures β₂,Ru² − β₂,Zr².

Reference Woods–Saxon sets (:data:`REFERENCE`; STAR, PRC 105 (2022) 014901 and C. Zhang,
J. Jia PRL 128 (2022) 022301, the "case 3"-like sets also used by Cheng et al.):
Ru β₂ = 0.16, β₃ = 0, a = 0.46 fm, R = 5.09 fm; Zr β₂ = 0.06, β₃ = 0.20, a = 0.52 fm, R = 5.02 fm.

The closure (:func:`run_closure`) adds the TRENTo normalisation ``norm`` (N = norm·S, bins fixed
in N) as a nuisance parameter, and fully correlated response uncertainties of the ε_n² and d⊥
blocks (v_n = κ_n ε_n, ⟨p_T⟩ ∝ d⊥ with κ unknown but the same for both isobars at equal N), which
the absolute features must marginalise and the Ru/Zr ratios cancel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcdgen.errors import InputError

__all__ = [
    "CLOSURE_CONFIGS",
    "FEATURES",
    "NUISANCE",
    "PARAMS",
    "PRIOR",
    "REFERENCE",
    "RESPONSE",
    "ClosureResult",
    "CorrelatedData",
    "EventSample",
    "FeatureTable",
    "IsobarModel",
    "IsobarSimulator",
    "bin_features",
    "isobar_nucleus",
    "multiplicity_edges",
    "ratio_features",
    "run_closure",
    "scaled_edges",
    "simulate_events",
]

PARAMS = ("beta2", "beta3", "a", "R")
#: nuisance of the closure: TRENTo normalisation N = norm·S (same for both isobars)
NUISANCE = {"norm": (0.9, 1.1)}
#: reference Woods–Saxon sets (STAR PRC 105 (2022) 014901; Zhang & Jia PRL 128 (2022) 022301)
REFERENCE = {"Ru": {"beta2": 0.16, "beta3": 0.0, "a": 0.46, "R": 5.09},
             "Zr": {"beta2": 0.06, "beta3": 0.20, "a": 0.52, "R": 5.02}}
#: the prior box of the closure (uniform), wide enough for both isobars
PRIOR = {"beta2": (0.0, 0.30), "beta3": (0.0, 0.30), "a": (0.40, 0.60), "R": (4.80, 5.30)}
FEATURES = ("logP", "eps2sq", "eps3sq", "dperp")
_MASS = 96


@dataclass(frozen=True)
class IsobarModel:
    """Fixed Glauber + TRENTo settings, common to both isobars (200 GeV, σ_NN from √s).

    ``sigma_nn`` (mb) overrides the σ_NN of ``sqrts``. ``strata``: (b_lo, b_hi, fraction of events) in fm; b_hi = None is the largest b with a
    collision (:func:`~qcdgen.hic.initial.glauber.b_max`). ``grid_n``, ``grid_max``: a fixed
    transverse grid, the same at every parameter point (no discretisation jumps in θ).
    """

    sqrts: float = 200.0
    sigma_nn: float | None = None
    p: float = 0.0
    k: float = 2.0
    w: float = 0.5
    collision: str = "hard-disk"
    grid_n: int = 50
    grid_max: float = 10.0
    strata: tuple = ((0.0, 2.5, 0.35), (2.5, 5.0, 0.30), (5.0, 8.0, 0.20), (8.0, None, 0.15))
    chunk: int = 1000

    def describe(self) -> dict:
        return {"sqrts": self.sqrts, "sigma_nn": self.sigma_nn, "p": self.p, "k": self.k, "w": self.w, "collision": self.collision,
                "grid": [self.grid_n, self.grid_max], "strata": [list(s) for s in self.strata]}


def isobar_nucleus(beta2: float, beta3: float, a: float, R: float, name: str = "X96"):
    """A deformed Woods–Saxon A = 96 nucleus (InputError for unphysical parameters)."""
    from qcdgen.hic.initial.nuclei import Nucleus

    return Nucleus(name, _MASS, R=R, a=a, beta2=beta2, beta3=beta3)


@dataclass
class EventSample:
    """Per-event entropy ``S`` (multiplicity, arbitrary units), ``eps2``, ``eps3``, ``dperp`` (fm⁻¹),
    ``weight`` (barn per event) and the inelastic cross section ``sigma_inel`` (barn)."""

    S: np.ndarray
    eps2: np.ndarray
    eps3: np.ndarray
    dperp: np.ndarray
    weight: np.ndarray
    sigma_inel: float


def simulate_events(nucleus, n_events: int, rng=None, model: IsobarModel | None = None) -> EventSample:
    """``n_events`` inelastic nucleus+nucleus events, b-stratified (see the module text)."""
    from qcdgen.checks import check_positive_int
    from qcdgen.hic.initial import (
        Grid,
        eccentricities,
        r_rms,
        sample_glauber,
        total_entropy,
        trento_profiles,
    )
    from qcdgen.hic.initial.glauber import b_max, sigma_nn_inel
    from qcdgen.hic.initial.nuclei import as_rng

    model = model or IsobarModel()
    n_events = check_positive_int(n_events, "events", minimum=len(model.strata))
    rng = as_rng(rng)
    sig = sigma_nn_inel(model.sqrts) if model.sigma_nn is None else float(model.sigma_nn)
    grid = Grid(model.grid_n, model.grid_max)
    top = b_max(nucleus, nucleus, sig, model.collision, model.w)
    cols = {k: [] for k in ("S", "eps2", "eps3", "dperp", "weight")}
    sigma = 0.0
    counts = np.floor(np.array([s[2] for s in model.strata]) * n_events).astype(int)
    counts[0] += n_events - counts.sum()
    for (lo, hi, _), m in zip(model.strata, counts):
        hi = top if hi is None else min(hi, top)
        if m == 0 or hi <= lo:
            continue
        for s in range(0, m, model.chunk):
            ev = sample_glauber(nucleus, nucleus, n_events=min(model.chunk, m - s), rng=rng, b_range=(lo, hi),
                                collision=model.collision, sigma_nn=sig, w=model.w)
            prof = trento_profiles(ev, grid, p=model.p, k=model.k, w=model.w, rng=rng)
            e, _ = eccentricities(prof, grid, (2, 3))
            cols["S"].append(total_entropy(prof, grid))
            cols["eps2"].append(e[:, 0])
            cols["eps3"].append(e[:, 1])
            cols["dperp"].append(1.0 / r_rms(prof, grid))
            # σ of this stratum = π(hi² − lo²)·n/n_trials (barn): weight π(hi² − lo²)/n_trials per event
            wgt = math.pi * (hi * hi - lo * lo) * 0.01 / ev.n_trials
            cols["weight"].append(np.full(ev.n_events, wgt))
            sigma += wgt * ev.n_events
    out = {k: np.concatenate(v) for k, v in cols.items()}
    bad = ~np.isfinite(out["eps2"]) | ~np.isfinite(out["eps3"]) | ~np.isfinite(out["dperp"])
    if bad.any():
        raise InputError(f"{int(bad.sum())} events of {nucleus.name} have an empty entropy profile on the grid "
                         f"(±{model.grid_max} fm); enlarge grid_max")
    return EventSample(sigma_inel=sigma, **out)


def _weighted_quantile(x, w, q):
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / np.sum(w)
    return float(np.interp(q, cw, x[order]))


def multiplicity_edges(sample: EventSample, n_bins: int = 40, central: float = 0.6,
                       top: float = 5e-4) -> np.ndarray:
    """Bin edges in S: equal widths from the S of ``central`` (fraction of σ_inel above it, 0.6 = the
    0–60 % class) to the S of the ``top`` most central fraction, plus an open last bin to ∞."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise InputError(f"--bins must be an integer >= 2, got {n_bins!r}")
    lo = _weighted_quantile(sample.S, sample.weight, 1.0 - central)
    hi = _weighted_quantile(sample.S, sample.weight, 1.0 - top)
    return np.concatenate([np.linspace(lo, hi, int(n_bins)), [math.inf]])


@dataclass
class FeatureTable:
    """Feature rows: ``keys`` [(observable, class)], ``values``, ``errors`` (1σ statistical)."""

    keys: list
    values: np.ndarray
    errors: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, int))

    def rows(self) -> list[dict]:
        return [{"observable": o, "class": c, "value": None if not np.isfinite(v) else float(v),
                 "error": None if not np.isfinite(e) else float(e)}
                for (o, c), v, e in zip(self.keys, self.values, self.errors)]

    def get(self, observable: str) -> tuple[np.ndarray, np.ndarray]:
        idx = [i for i, (o, _) in enumerate(self.keys) if o == observable]
        return self.values[idx], self.errors[idx]


def bin_label(i: int) -> str:
    return f"N{i + 1:02d}"


def bin_features(sample: EventSample, edges, min_count: int = 10) -> FeatureTable:
    """log P_i, ⟨ε₂²⟩_i, ⟨ε₃²⟩_i, ⟨d⊥⟩_i with errors; NaN in bins with fewer than ``min_count`` events.

    Weighted means m = Σwx/Σw with var(m) = Σw²(x − m)²/(Σw)²; σ(P_i) = √(Σ_bin w²)/σ_inel.
    """
    edges = np.asarray(edges, float)
    nb = len(edges) - 1
    idx = np.digitize(sample.S, edges) - 1
    ok = (idx >= 0) & (idx < nb)
    w = sample.weight
    keys, vals, errs = [], [], []
    cnt = np.bincount(idx[ok], minlength=nb)
    sw = np.bincount(idx[ok], w[ok], minlength=nb)
    sw2 = np.bincount(idx[ok], w[ok] ** 2, minlength=nb)
    enough = cnt >= min_count
    with np.errstate(invalid="ignore", divide="ignore"):
        P = sw / sample.sigma_inel
        for i in range(nb):
            keys.append(("logP", bin_label(i)))
            vals.append(math.log(P[i]) if enough[i] else math.nan)
            errs.append(math.sqrt(sw2[i]) / sw[i] if enough[i] else math.nan)
        for name, x in (("eps2sq", sample.eps2 ** 2), ("eps3sq", sample.eps3 ** 2), ("dperp", sample.dperp)):
            m = np.bincount(idx[ok], w[ok] * x[ok], minlength=nb) / sw
            r = x[ok] - m[idx[ok]]
            v = np.bincount(idx[ok], (w[ok] * r) ** 2, minlength=nb) / sw ** 2
            for i in range(nb):
                keys.append((name, bin_label(i)))
                vals.append(m[i] if enough[i] else math.nan)
                errs.append(math.sqrt(v[i]) if enough[i] else math.nan)
    return FeatureTable(keys, np.array(vals, float), np.array(errs, float), cnt)


def ratio_features(num: FeatureTable, den: FeatureTable) -> FeatureTable:
    """Ru/Zr-type ratios of two independent feature tables: P, ⟨ε₂²⟩, ⟨ε₃²⟩, ⟨d⊥⟩ per bin, with
    relative errors added in quadrature. Observables are named ``<feature>_ratio`` (``P_ratio`` for logP)."""
    if list(num.keys) != list(den.keys):
        raise InputError("ratio of feature tables with different bins or observables")
    keys, vals, errs = [], [], []
    for (o, c), vn, en, vd, ed in zip(num.keys, num.values, num.errors, den.values, den.errors):
        if o == "logP":
            r = math.exp(vn - vd)
            rel = math.hypot(en, ed)
            keys.append(("P_ratio", c))
        else:
            r = vn / vd
            rel = math.hypot(en / vn, ed / vd)
            keys.append((f"{o}_ratio", c))
        vals.append(r)
        errs.append(abs(r) * rel)
    return FeatureTable(keys, np.array(vals, float), np.array(errs, float))


class IsobarSimulator:
    """A :func:`~qcdgen.inference.campaign.run_campaign` simulator: ``(params, seed, dir) -> rows``.

    ``params`` holds any of :data:`PARAMS`; the others come from ``base`` (default: Zr reference).
    """

    def __init__(self, edges, events: int, model: IsobarModel | None = None, base: dict | None = None):
        self.edges = [float(e) for e in edges]
        self.events = int(events)
        self.model = model or IsobarModel()
        self.base = dict(base or REFERENCE["Zr"])

    def describe(self) -> dict:
        return {"kind": "qcdgen.hic.isobars", "events": self.events, "edges": self.edges,
                "model": self.model.describe(), "base": self.base}

    def __call__(self, params: dict, seed: int, point_dir=None) -> list[dict]:
        theta = self.base | {k: float(v) for k, v in params.items()}
        norm = theta.pop("norm", 1.0)
        unknown = set(theta) - set(PARAMS)
        if unknown:
            raise InputError(f"isobar parameters are {PARAMS} (+ norm); got {sorted(unknown)}")
        nuc = isobar_nucleus(**theta)
        return bin_features(simulate_events(nuc, self.events, seed, self.model), scaled_edges(self.edges, norm)).rows()


def scaled_edges(edges, norm: float) -> np.ndarray:
    """Edges in S of fixed bins in N = norm·S."""
    if not (isinstance(norm, (int, float, np.floating)) and math.isfinite(norm) and norm > 0):
        raise InputError(f"norm must be a finite number > 0, got {norm!r}")
    return np.asarray(edges, float) / norm


# ------------------------------------------------------------------------------------- closure
#: settings of :func:`run_closure` for the benchmark and CLI (full: the issue's 40 multiplicity bins)
CLOSURE_CONFIGS = {
    "quick": {"bins": 12, "points": 14, "events": 3000, "data_events": 8000, "ref_events": 8000,
              "max_steps": 2000, "walkers": 24, "train_noise": True},
    "full": {"bins": 40, "points": 34, "events": 7000, "data_events": 30000, "ref_events": 30000,
             "max_steps": 4500, "walkers": 24, "train_noise": True},
}
#: fully correlated relative response uncertainties of the absolute ε₂², ε₃², d⊥ blocks
RESPONSE = {"eps2sq": 0.10, "eps3sq": 0.10, "dperp": 0.03}


class CorrelatedData:
    """Duck-typed :class:`~qcdgen.inference.data.ExperimentalData` with a full covariance."""

    def __init__(self, keys, values, cov):
        self.keys, self.values, self.cov = list(keys), np.asarray(values, float), np.asarray(cov, float)
        self.errors = np.sqrt(np.diag(self.cov))
        self.source = "isobar pseudo-data"

    def __len__(self):
        return len(self.keys)


def _sample_cached(path, nucleus, events, seed, model, log) -> EventSample:
    from qcdgen.io.atomic import atomic_path

    if path.is_file():
        z = np.load(path)
        if int(z["events"]) == events and int(z["seed"]) == seed:
            return EventSample(z["S"], z["eps2"], z["eps3"], z["dperp"], z["weight"], float(z["sigma_inel"]))
    log(f"simulating {events} events of {nucleus.name} (seed {seed}) -> {path.name}")
    s = simulate_events(nucleus, events, seed, model)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, S=s.S, eps2=s.eps2, eps3=s.eps3, dperp=s.dperp, weight=s.weight, sigma_inel=s.sigma_inel,
                 events=events, seed=seed)
    return s


def _ratio_table(Zfeat: FeatureTable, ru: EventSample, edges) -> FeatureTable:
    return ratio_features(bin_features(ru, edges), Zfeat)


@dataclass
class ClosureResult:
    truth: dict
    names: list
    prior: dict
    analyses: dict            # name -> CalibrationResult
    info: dict
    joint: object = None      # JointResult: Ru and Zr both free, ratios only

    def table(self) -> str:
        """Posterior width per parameter and analysis, and the verdict of the ratio analysis."""
        lines = [f"{'parameter':>9s} {'truth':>7s} {'prior sd':>9s} " + " ".join(
            f"{a + ' med±sd':>22s}" for a in self.analyses) + "  ratios"]
        for j, n in enumerate(self.names):
            lo, hi = self.prior[n]
            psd = (hi - lo) / math.sqrt(12.0)
            cells = []
            for res in self.analyses.values():
                s = res.samples[:, j]
                cells.append(f"{np.median(s):10.4g} ± {s.std(ddof=1):<9.3g}")
            rsd = self.analyses["ratios"].samples[:, j].std(ddof=1) / psd if "ratios" in self.analyses else math.nan
            verdict = "constrained" if rsd < 0.5 else ("weak" if rsd < 0.8 else "free")
            lines.append(f"{n:>9s} {self.truth[n]:7.3g} {psd:9.3g} " + " ".join(f"{c:>22s}" for c in cells)
                         + f"  {verdict} (sd/prior sd {rsd:.2f})")
        return "\n".join(lines)


def run_closure(out, *, bins: int = 40, points: int = 40, events: int = 12000, data_events: int = 40000,
                ref_events: int = 40000, seed: int = 1, truth: dict | None = None, walkers: int = 32,
                max_steps: int = 6000, response: dict | None = None, model: IsobarModel | None = None,
                joint: bool = True, train_noise: bool = False, log=print) -> ClosureResult:
    """Closure: Zr pseudo-data at ``truth`` (default the Zr reference) with Ru fixed at its reference.

    Design over (β₂, β₃, a, R) ∈ :data:`PRIOR` and norm ∈ :data:`NUISANCE` (maximin LHS), a campaign
    of Zr+Zr feature runs (resumable, ``out/runs``), one PCA+GP emulator for the absolute features
    and one for the ratios Ru_ref(norm)/Zr(θ, norm), then three emcee posteriors: absolute features
    with statistical errors only, absolute with the :data:`RESPONSE` systematics, and ratios.
    """
    from pathlib import Path

    from qcdgen.inference.calibrate import calibrate
    from qcdgen.inference.campaign import load_runs, run_campaign
    from qcdgen.inference.design import make_design
    from qcdgen.inference.emulator import Emulator, usable_outputs
    from qcdgen.io.atomic import check_writable_dir

    model = model or IsobarModel()
    truth = dict(REFERENCE["Zr"] | {"norm": 1.0} | (truth or {}))
    response = RESPONSE if response is None else dict(response)
    out = Path(check_writable_dir(out, "--out"))
    prior = dict(PRIOR) | dict(NUISANCE)
    names = list(prior)
    for n in names:
        if not prior[n][0] <= truth[n] <= prior[n][1]:
            raise InputError(f"truth {n}={truth[n]} is outside the prior [{prior[n][0]}, {prior[n][1]}]")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise InputError(f"--bins must be an integer >= 2, got {bins!r}")
    from qcdgen.checks import check_positive_int

    for what, v in (("--events", events), ("data events", data_events), ("reference events", ref_events)):
        check_positive_int(v, what, minimum=len(model.strata))
    design = make_design([(n, *prior[n]) for n in names], points, seed=int(seed))   # refuses too few points
    out.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(int(seed)).generate_state(4)
    ru_ref = _sample_cached(out / "ru_reference.npz", isobar_nucleus(**REFERENCE["Ru"], name="Ru"),
                            ref_events, int(ss[0]), model, log)
    edges = multiplicity_edges(ru_ref, bins)
    sim = IsobarSimulator(edges, events, model)
    log(f"campaign: {points} design points x {events} events, {bins} multiplicity bins -> {out / 'runs'}")
    run_campaign(design, sim, out / "runs", seed=int(seed), workers=0, progress=False)
    runs = load_runs(out / "runs")
    # pseudo-data: Zr at the truth and Ru at its reference, independent of the model runs
    th = {k: truth[k] for k in PARAMS}
    zr_d = _sample_cached(out / "zr_data.npz", isobar_nucleus(**th, name="Zr"), data_events, int(ss[1]), model, log)
    ru_d = _sample_cached(out / "ru_data.npz", isobar_nucleus(**REFERENCE["Ru"], name="Ru"), data_events,
                          int(ss[2]), model, log)
    e_true = scaled_edges(edges, truth["norm"])
    zr_f, ru_f = bin_features(zr_d, e_true), bin_features(ru_d, e_true)
    data_abs, data_rat = zr_f, ratio_features(ru_f, zr_f)
    # training ratios: Ru reference re-binned at each point's norm over that point's Zr features
    inorm = names.index("norm")
    Yr, Er = [], []
    for x, y, e in zip(runs.X, runs.Y, runs.Yerr):
        zt = FeatureTable(runs.keys, y, e)
        r = _ratio_table(zt, ru_ref, scaled_edges(edges, x[inorm]))
        Yr.append(r.values)
        Er.append(r.errors)
    ru_ref_f = bin_features(ru_ref, e_true)
    rkeys = ratio_features(ru_ref_f, zr_f).keys
    emus = {}
    analyses, info = {}, {"train_noise_added": bool(train_noise), "bins": bins, "points": len(runs.X), "events": events, "data_events": data_events,
                          "ref_events": ref_events, "response": response, "model": model.describe()}
    for label, Y, keys, data in (("absolute", runs.Y, runs.keys, data_abs),
                                 ("ratios", np.array(Yr), rkeys, data_rat)):
        keep, _ = usable_outputs(Y, keys)
        keep = [j for j in keep if np.isfinite(data.values[j]) and np.isfinite(data.errors[j])]
        k = [tuple(keys[j]) for j in keep]
        emu = Emulator.fit(runs.X, Y[:, keep], runs.box, k, seed=int(seed))
        emus[label] = emu
        info[f"{label}_outputs"], info[f"{label}_components"] = len(k), emu.n_components
        err = data.errors[keep]
        # Monte Carlo noise of the training runs (median over the design). The GP nugget should carry
        # it, but leave-points-out z rms is ≈ 2 at 14 points and ≈ 1.5 at 34 (full run without this
        # term: χ²/ndf at the MAP 2.6 absolute, 1.26 ratios, truth outside the 95 % interval of 3 of 5
        # ratio parameters); ``train_noise`` adds it once more: conservative (χ²/ndf ≈ 0.4)
        zrel = np.where([o == "logP" for o, _ in runs.keys], runs.Yerr, runs.Yerr / np.abs(runs.Y))
        train = np.nanmedian(zrel[:, keep], axis=0) * (np.abs(data.values[keep]) if label == "ratios" else 1.0)
        if label == "absolute":
            train = np.where([o == "logP" for o, _ in k], train, np.nanmedian(runs.Yerr[:, keep], axis=0))
        if train_noise:
            err = np.hypot(err, train)
        info[f"{label}_train_noise"] = float(np.median(train / data.errors[keep]))
        if label == "ratios":   # the Ru reference's own noise is common to every training ratio
            ru_rel = np.array([ru_ref_f.errors[j] if ru_ref_f.keys[j][0] == "logP"
                               else ru_ref_f.errors[j] / ru_ref_f.values[j] for j in keep])
            err = np.hypot(err, np.abs(data.values[keep]) * ru_rel)
        variants = [("ratios", np.diag(err ** 2))] if label == "ratios" else [("abs-stat", np.diag(err ** 2))]
        if label == "absolute":
            cov = np.diag(err ** 2)
            for obs, s in response.items():
                v = np.array([data.values[j] if keys[j][0] == obs else 0.0 for j in keep])
                cov = cov + (s * s) * np.outer(v, v)
            variants.append(("abs+resp", cov))
        for name, cov in variants:
            log(f"emcee: {name} ({len(k)} outputs, {emu.n_components} PCA components)")
            res = calibrate(emu, CorrelatedData(k, data.values[keep], cov), walkers=walkers, max_steps=max_steps,
                            seed=int(seed), truth=np.array([truth[n] for n in names]), check_every=200)
            analyses[name] = res
    result = ClosureResult(truth, names, prior, analyses, info)
    if joint:
        zrel = np.where([o == "logP" for o, _ in runs.keys], runs.Yerr, runs.Yerr / np.abs(runs.Y))
        log("emcee: ratios with Ru and Zr both free (9 parameters, the absolute emulator for each isobar)")
        result.joint = joint_ratio_posterior(emus["absolute"], data_rat,
                                             np.nanmedian(zrel, axis=0) * (1.0 if train_noise else 0.0), truth,
                                             walkers=max(walkers, 36), max_steps=max_steps, seed=int(seed))
    return result


@dataclass
class JointResult:
    """Posterior of (Ru, Zr, norm) from the ratios alone: samples (S, 9), names, truth, prior box."""

    names: list
    samples: np.ndarray
    truth: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    mcmc: object

    def derived(self, x):
        """The differences the ratios measure: R_Ru − R_Zr, a_Ru − a_Zr, β₂,Ru² − β₂,Zr², β₃,Ru² − β₃,Zr²."""
        x = np.atleast_2d(x)
        return {"R_Ru-R_Zr": x[:, 3] - x[:, 7], "a_Ru-a_Zr": x[:, 2] - x[:, 6],
                "b2Ru^2-b2Zr^2": x[:, 0] ** 2 - x[:, 4] ** 2, "b3Ru^2-b3Zr^2": x[:, 1] ** 2 - x[:, 5] ** 2}

    def table(self) -> str:
        prior = self.lo + (self.hi - self.lo) * np.random.default_rng(0).uniform(size=(200000, len(self.names)))
        rows = [(n, self.truth[j], self.samples[:, j], prior[:, j]) for j, n in enumerate(self.names)]
        d_post, d_prior, d_true = self.derived(self.samples), self.derived(prior), self.derived(self.truth)
        rows += [(n, d_true[n][0], d_post[n], d_prior[n]) for n in d_post]
        out = [f"{'quantity':>14s} {'truth':>8s} {'median':>9s} {'post sd':>9s} {'prior sd':>9s}  ratios"]
        for n, t, s, p in rows:
            r = s.std(ddof=1) / p.std()
            verdict = "constrained" if r < 0.5 else ("weak" if r < 0.8 else "free")
            out.append(f"{n:>14s} {t:8.4g} {np.median(s):9.4g} {s.std(ddof=1):9.3g} {p.std():9.3g}  "
                       f"{verdict} ({r:.2f})")
        return "\n".join(out)


def joint_ratio_posterior(emu, data: FeatureTable, train_rel, truth: dict, *, walkers: int = 36,
                          max_steps: int = 3000, seed: int = 0) -> JointResult:
    """p(θ_Ru, θ_Zr, norm | Ru/Zr ratios) with uniform priors; r = f(θ_Ru)/f(θ_Zr) from the absolute
    emulator ``emu`` of an A = 96 nucleus (exp of the logP difference), covariance J_Ru C_Ru J_Ru +
    J_Zr C_Zr J_Zr + data, ``train_rel`` the training runs' relative noise per absolute output."""
    from qcdgen.inference.calibrate import sample_emcee
    from qcdgen.inference.design import ParameterBox
    from qcdgen.inference.likelihood import BoxPrior, GaussianLikelihood, LogPosterior

    base = {o: o.replace("_ratio", "") if o != "P_ratio" else "logP" for o, _ in data.keys}
    where = {key: i for i, key in enumerate(emu.keys)}
    rows = [i for i, (o, c) in enumerate(data.keys)
            if (base[o], c) in where and np.isfinite(data.values[i]) and np.isfinite(data.errors[i])]
    idx = np.array([where[(base[data.keys[i][0]], data.keys[i][1])] for i in rows])
    islog = np.array([data.keys[i][0] == "P_ratio" for i in rows])
    y = data.values[rows]
    err = np.hypot(data.errors[rows], np.sqrt(2.0) * np.abs(y) * np.asarray(train_rel)[idx])
    names = [f"{p}_{n}" for n in ("Ru", "Zr") for p in PARAMS] + ["norm"]
    lo = [PRIOR[p][0] for p in PARAMS] * 2 + [NUISANCE["norm"][0]]
    hi = [PRIOR[p][1] for p in PARAMS] * 2 + [NUISANCE["norm"][1]]
    box = ParameterBox(tuple(names), lo, hi)

    def predict(theta):
        th_ru, th_zr = theta[:, [0, 1, 2, 3, 8]], theta[:, [4, 5, 6, 7, 8]]
        m_ru, c_ru = emu.predict(th_ru, idx=idx, check=False)
        m_zr, c_zr = emu.predict(th_zr, idx=idx, check=False)
        r = np.where(islog, np.exp(m_ru - m_zr), m_ru / np.where(islog, 1.0, m_zr))
        j_ru = np.where(islog, r, 1.0 / np.where(islog, 1.0, m_zr))
        j_zr = np.where(islog, -r, -r / np.where(islog, 1.0, m_zr))
        cov = j_ru[:, :, None] * j_ru[:, None, :] * c_ru + j_zr[:, :, None] * j_zr[:, None, :] * c_zr
        return r, cov

    post = LogPosterior(BoxPrior(box), GaussianLikelihood(predict, y, np.diag(err ** 2)))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    mc = sample_emcee(post, BoxPrior(box).sample(int(walkers), rng), seed=int(seed), max_steps=max_steps,
                      check_every=200)
    t = np.array([REFERENCE["Ru"][p] for p in PARAMS] + [truth[p] for p in PARAMS] + [truth["norm"]])
    return JointResult(names, mc.samples, t, box.lo, box.hi, mc)
