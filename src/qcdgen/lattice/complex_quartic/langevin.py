"""Complex Langevin (CL) dynamics for the complex quartic model, with correctness diagnostics.

The real variable is complexified, z = x + iy, and evolved with real noise (Parisi 1983;
Klauder 1983; review: Aarts, Seiler & Stamatescu, PRD 81 (2010) 054508):

    z_{n+1} = z_n + ε_n K(z_n) + √(2ε_n) η_n,   K = −S'(z),  η_n ~ N(0, 1) real,

so x and y sample a real density P(x, y) with ⟨O(z)⟩_P = ⟨O(x)⟩_{e^{−S}} for holomorphic O
when CL is correct. Adaptive step (Aarts, James, Seiler & Stamatescu, PLB 687 (2010) 154):
ε_n = ε̄ min(1, K̄/|K(z_n)|), K̄ = ⟨|K|⟩ after thermalisation, so ε_n|K| ≤ ε̄K̄ and
no step can overshoot into the cubic runaway. Each walker is measured at fixed Langevin times.

Diagnostics (both must be clean for CL to be trusted):

- boundary terms (Scherzer, Seiler, Sexty & Stamatescu, PRD 99 (2019) 014512): for the CL
  operator L_c O = O'' + K O', B_O(Y) = ⟨Θ(Y − |y|) L_c O(z)⟩ must vanish for large Y; a non-zero
  plateau is the boundary term that biases ⟨O⟩ (here O = z², z⁴: L_c z² = 2 + 2zK,
  L_c z⁴ = 12z² + 4z³K);
- the drift magnitude u = |K| must fall off faster than any power (Nagata, Nishimura &
  Shimasaki, PRD 94 (2016) 114515); a Hill estimate of the tail index of P(u) on the top 1 %
  of samples stays large for an exponential or bounded tail and is O(1) for a power law.

The density P(x, y) itself is returned as a histogram, with its falloff at large |y|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcdgen.errors import InputError
from qcdgen.lattice.complex_quartic.model import QuarticModel, exact_moments

__all__ = ["CLSettings", "CLDivergence", "CLResult", "ComplexEstimate", "complex_langevin", "run_complex_langevin",
           "boundary_terms", "hill_tail_index", "complex_estimate"]

#: |z| above which a walker counts as diverged (the model's weight is e^{−λ|z|⁴/4}-small long before).
DIVERGENCE_RADIUS = 1e6
#: Hill tail index (top 0.1 % of |K|) below which the drift distribution counts as power-law.
TAIL_INDEX_THRESHOLD = 4.0
#: Fraction of the samples the Hill estimator uses.
TAIL_FRACTION = 0.001
#: Quantile of |y| at which the boundary term B_O(Y) is tested (1 % of the samples lie beyond).
BOUNDARY_QUANTILE = 0.99
#: B_O(Y) flags CL when it is > 3.5 standard errors from 0 (Re or Im) and larger than 2 % of ⟨Θ|L_c O|⟩
#: (the O(ε) bias of the Euler step gives B ≠ 0 at the per-mille level even where CL is correct).
BOUNDARY_PULL_THRESHOLD = 3.5
BOUNDARY_RELATIVE_THRESHOLD = 0.02


class CLDivergence(InputError):
    """A Langevin step produced a non-finite or runaway z (the step number is in the message)."""

    def __init__(self, message: str, step: int):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class CLSettings:
    """``steps`` nominal steps of size ``step_size`` per walker (Langevin time T = steps·ε̄; the adaptive step
    subdivides where the drift is large), after ``thermalize`` Langevin time units; measurements every
    ``measure_every`` time units."""

    sigma: complex = 1 + 1j
    lam: float = 1.0
    steps: int = 40000
    step_size: float = 0.005
    adaptive: bool = True
    walkers: int = 64
    thermalize: float = 5.0
    measure_every: float = 0.1
    seed: int = 0

    def __post_init__(self):
        model = QuarticModel(self.sigma, self.lam)  # validates sigma and lam
        object.__setattr__(self, "sigma", model.sigma)
        object.__setattr__(self, "lam", model.lam)
        for name, minimum in (("steps", 1), ("walkers", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise InputError(f"--{name} must be an integer >= {minimum}, got {v!r}")
        for name in ("step_size", "measure_every"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"--{name.replace('_', '-')} must be a number > 0, got {v!r}")
        if not (isinstance(self.thermalize, (int, float)) and math.isfinite(self.thermalize) and self.thermalize >= 0):
            raise InputError(f"--thermalize must be a number >= 0, got {self.thermalize!r}")
        if self.measure_every < self.step_size:
            raise InputError(f"--measure-every must be >= --step-size={self.step_size}, got {self.measure_every}")
        if self.steps * self.step_size < 2 * self.measure_every:
            raise InputError(f"--steps x --step-size = {self.steps * self.step_size:g} must cover at least two "
                             f"measurements (--measure-every {self.measure_every})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be an integer >= 0, got {self.seed!r}")

    @property
    def model(self) -> QuarticModel:
        return QuarticModel(self.sigma, self.lam)


@dataclass(frozen=True)
class ComplexEstimate:
    """A complex expectation value with independent Γ-method errors on its real and imaginary parts."""

    value: complex
    error: tuple[float, float]
    tau_int: tuple[float, float] = (0.5, 0.5)

    def pull(self, reference: complex) -> tuple[float, float]:
        d = self.value - reference
        return tuple(float(a / e) if e > 0 else (0.0 if a == 0 else math.copysign(math.inf, a))
                     for a, e in ((d.real, self.error[0]), (d.imag, self.error[1])))

    def to_dict(self) -> dict:
        return {"value": [self.value.real, self.value.imag], "error": list(self.error), "tau_int": list(self.tau_int)}


def complex_estimate(series) -> ComplexEstimate:
    """Mean of a complex Monte Carlo time series with Wolff Γ-method errors (hep-lat/0306017) on Re and Im."""
    import warnings

    from qcdgen.stats import gamma_method

    series = np.asarray(series, dtype=complex)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a short window is reported through tau_int
        re, im = gamma_method(series.real), gamma_method(series.imag)
    return ComplexEstimate(complex(re.value, im.value), (re.error, im.error), (re.tau_int, im.tau_int))


@dataclass
class CLRun:
    """Raw output of :func:`complex_langevin`: z[measurement, walker] at times ``times``."""

    z: np.ndarray
    times: np.ndarray
    drift_reference: float
    steps_taken: int
    smallest_step: float


def complex_langevin(settings: CLSettings, progress=None) -> CLRun:
    """Run CL for ``settings.walkers`` independent walkers started at z = 0 (vectorised NumPy, float64).

    Raises :class:`CLDivergence` with the step number at the first non-finite or |z| > 1e6 walker.
    ``progress(fraction)`` is called now and then if given.
    """
    m = settings.model
    rng = np.random.default_rng(settings.seed)
    w = settings.walkers
    z = np.zeros(w, dtype=complex)
    eps_bar = settings.step_size
    k_ref = abs(m.sigma) + m.lam  # |K| at |z| = 1 until thermalisation has measured ⟨|K|⟩
    step = 0

    def advance(z, t, t_end, k_ref):
        """Move every walker from its time t to t_end (per-walker adaptive steps, exact landing)."""
        nonlocal step
        smallest = eps_bar
        while True:
            remaining = t_end - t
            active = remaining > 1e-12
            if not active.any():
                return z, t, smallest
            kz = m.drift(z)
            if settings.adaptive:
                eps = eps_bar * np.minimum(1.0, k_ref / np.maximum(np.abs(kz), 1e-300))
            else:
                eps = np.full(w, eps_bar)
            smallest = min(smallest, float(eps[active].min()))  # the adaptive step, not a landing remainder
            eps = np.where(active, np.minimum(eps, remaining), 0.0)
            noise = rng.standard_normal(w)
            z = z + eps * kz + np.sqrt(2 * eps) * noise
            t = t + eps
            step += 1
            bad = ~np.isfinite(z) | (np.abs(z) > DIVERGENCE_RADIUS)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise CLDivergence(
                    f"complex Langevin diverged at step {step} (walker {i}, Langevin time {t[i]:.4g}, "
                    f"|z| = {abs(z[i]):.3g}) with step size {eps_bar:g}"
                    f"{'' if settings.adaptive else ' and a fixed step; use the adaptive step or a smaller --step-size'}",
                    step)

    t = np.zeros(w)
    if settings.thermalize > 0:
        z, t, _ = advance(z, t, settings.thermalize, k_ref)
    if settings.adaptive:
        k_ref = float(np.mean(np.abs(m.drift(z)))) if settings.thermalize > 0 else k_ref
    t = np.zeros(w)
    n_meas = int(math.floor(settings.steps * eps_bar / settings.measure_every + 1e-9))
    out = np.empty((n_meas, w), dtype=complex)
    smallest = eps_bar
    for k in range(n_meas):
        z, t, s = advance(z, t, (k + 1) * settings.measure_every, k_ref)
        smallest = min(smallest, s)
        out[k] = z
        if progress is not None and (k % 50 == 0 or k == n_meas - 1):
            progress((k + 1) / n_meas)
    return CLRun(out, settings.measure_every * np.arange(1, n_meas + 1), k_ref, step, smallest)


def lc_operator(model: QuarticModel, z: np.ndarray, n: int) -> np.ndarray:
    """L_c zⁿ = n(n−1)z^{n−2} + n z^{n−1} K(z)."""
    return n * (n - 1) * z ** (n - 2) + n * z ** (n - 1) * model.drift(z)


def boundary_terms(model: QuarticModel, z: np.ndarray, n: int, cutoffs) -> list[ComplexEstimate]:
    """B_{zⁿ}(Y) = ⟨Θ(Y − |y|) L_c zⁿ⟩ for each Y in ``cutoffs`` (Scherzer et al., PRD 99 (2019) 014512);
    ``z`` is [measurement, walker]; errors by the Γ-method on the walker-averaged series."""
    lc = lc_operator(model, z, n)
    ay = np.abs(z.imag)
    return [complex_estimate(np.where(ay <= y, lc, 0).mean(axis=1)) for y in cutoffs]


def hill_tail_index(values, fraction: float = 0.01) -> float:
    """Hill estimator α̂ = [mean_{i<k} ln(u_(i)/u_(k))]⁻¹ over the top ``fraction`` of the sample
    (Hill, Ann. Stat. 3 (1975) 1163): α̂ ≈ α for P(u) ~ u^{−α−1}, large for exponential or bounded tails."""
    u = np.sort(np.abs(np.asarray(values, dtype=float)).ravel())[::-1]
    k = max(10, int(fraction * u.size))
    if u.size <= k or u[k] <= 0:
        return math.inf
    mean_log = float(np.mean(np.log(u[:k] / u[k])))
    return math.inf if mean_log <= 0 else 1.0 / mean_log


@dataclass
class CLResult:
    """CL moments ⟨zⁿ⟩ with errors, the exact values, pulls and the correctness diagnostics."""

    settings: CLSettings
    moments: dict[int, ComplexEstimate]
    exact: dict[int, complex]
    boundary: dict[int, list[tuple[float, float, ComplexEstimate]]]
    boundary_test: dict[int, tuple[float, ComplexEstimate, float]]
    drift_tail_index: float
    drift_quantiles: dict[str, float]
    y_falloff: list[tuple[float, float]]
    max_abs_y: float
    drift_reference: float
    steps_taken: int
    smallest_step: float
    density: dict = field(default_factory=dict)
    samples: np.ndarray | None = None

    def pulls(self, n: int) -> tuple[float, float]:
        return self.moments[n].pull(self.exact[n])

    @property
    def boundary_flag(self) -> bool:
        """True when B_{zⁿ}(Y) at the 99 % quantile of |y| is > 3.5σ from 0 and > 2 % of ⟨Θ|L_c zⁿ|⟩."""
        for y, est, scale in self.boundary_test.values():
            if (max(abs(p) for p in est.pull(0j)) > BOUNDARY_PULL_THRESHOLD
                    and abs(est.value) > BOUNDARY_RELATIVE_THRESHOLD * scale):
                return True
        return False

    @property
    def drift_flag(self) -> bool:
        """True when the drift magnitude has a power-law tail (Hill index below 4)."""
        return self.drift_tail_index < TAIL_INDEX_THRESHOLD

    @property
    def reliable(self) -> bool:
        return not (self.boundary_flag or self.drift_flag)

    def to_dict(self) -> dict:
        """JSON layout: complex numbers are [re, im]; an estimate is {"value": [re, im], "error": [re, im], ...}."""
        out = {"sigma": [self.settings.sigma.real, self.settings.sigma.imag], "lam": self.settings.lam}
        for n, est in self.moments.items():
            ex = self.exact[n]
            out[f"x{n}"] = dict(est.to_dict(), exact=[ex.real, ex.imag], pull=list(self.pulls(n)))
        out["exact"] = {f"x{n}": [v.real, v.imag] for n, v in self.exact.items()}
        out["diagnostics"] = {
            "reliable": self.reliable,
            "boundary_term_flag": self.boundary_flag,
            "drift_tail_flag": self.drift_flag,
            "drift_tail_index": self.drift_tail_index,
            "drift_quantiles": self.drift_quantiles,
            "max_abs_y": self.max_abs_y,
            "y_falloff": [{"Y": y, "fraction_beyond": f} for y, f in self.y_falloff],
            "boundary_terms": {f"x{n}": [dict(est.to_dict(), Y=y, quantile=q) for q, y, est in rows]
                               for n, rows in self.boundary.items()},
            "boundary_test": {f"x{n}": dict(est.to_dict(), Y=y, quantile=BOUNDARY_QUANTILE, scale=scale,
                                            pull=list(est.pull(0j)))
                              for n, (y, est, scale) in self.boundary_test.items()},
        }
        s = self.settings
        out["run"] = {"steps": s.steps, "step_size": s.step_size, "adaptive": s.adaptive, "walkers": s.walkers,
                      "thermalize": s.thermalize, "measure_every": s.measure_every, "seed": s.seed,
                      "langevin_time": s.steps * s.step_size, "drift_reference": self.drift_reference,
                      "steps_taken": self.steps_taken, "smallest_step": self.smallest_step}
        return out


def run_complex_langevin(settings: CLSettings, orders=(2, 4), progress=None, keep_samples: bool = False,
                         density_bins: int = 60) -> CLResult:
    """CL moments ⟨zⁿ⟩, the exact values (Bessel / contour quadrature) and the diagnostics."""
    m = settings.model
    run = complex_langevin(settings, progress=progress)
    z = run.z
    moments = {n: complex_estimate((z ** n).mean(axis=1)) for n in orders}
    exact = exact_moments(m, None, orders)
    ay = np.abs(z.imag)
    top = float(ay.max())
    levels_q = (0.5, 0.75, 0.9, 0.95, BOUNDARY_QUANTILE, 0.999, 1.0)
    cutoffs = np.quantile(ay, levels_q)
    boundary, test = {}, {}
    for n in orders:
        rows = list(zip(levels_q, map(float, cutoffs), boundary_terms(m, z, n, cutoffs)))
        boundary[n] = rows
        y_test = float(cutoffs[levels_q.index(BOUNDARY_QUANTILE)])
        scale = float(np.mean(np.where(ay <= y_test, np.abs(lc_operator(m, z, n)), 0)))
        test[n] = (y_test, rows[levels_q.index(BOUNDARY_QUANTILE)][2], scale)
    u = np.abs(m.drift(z))
    quantiles = {f"q{int(q * 1000) / 10:g}": float(np.quantile(u, q)) for q in (0.5, 0.9, 0.99, 0.999)}
    quantiles["max"] = float(u.max())
    levels = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    falloff = [(y, float((ay > y).mean())) for y in levels]
    density = _density(z, density_bins)
    return CLResult(settings, moments, exact, boundary, test, hill_tail_index(u, TAIL_FRACTION), quantiles, falloff, top,
                    run.drift_reference, run.steps_taken, run.smallest_step, density,
                    z if keep_samples else None)


def _density(z: np.ndarray, bins: int) -> dict:
    """Normalised histogram of P(x, y) over the central 99.8 % of x and y."""
    x, y = z.real.ravel(), z.imag.ravel()
    xr = np.quantile(x, [0.001, 0.999])
    yr = np.quantile(y, [0.001, 0.999])
    h, xe, ye = np.histogram2d(x, y, bins=bins, range=[xr, yr], density=True)
    return {"x_edges": xe.tolist(), "y_edges": ye.tolist(), "density": h.tolist()}
