"""Anisotropic flow from multi-particle cumulants (generic framework).

Reference: A. Bilandzic, C. H. Christensen, K. Gulbrandsen, A. Hansen, Y. Zhou,
"Generic framework for anisotropic flow analyses with multiparticle azimuthal correlations",
Phys. Rev. C 89 (2014) 064904.

Per event, with particle weights w_k (1 unless given) and flow vectors
``Q_{h,p} = Σ_k w_k^p e^{i h φ_k}``, the sum over *distinct* m-tuples

    N(h_1..h_m) = Σ_{k_1≠…≠k_m} Π_j w_{k_j} e^{i h_j φ_{k_j}}

follows from the recursion (the last slot runs over all particles, minus the terms where it
coincides with one of the earlier, mutually distinct ones — the slots then merge into one
with summed harmonic and power):

    N(s_1..s_m) = Q_{s_m} · N(s_1..s_{m−1}) − Σ_{j<m} N(s_1, …, s_j ⊕ s_m, …, s_{m−1}),

with slots ``s = (h, p)`` and ``(h, p) ⊕ (h', p') = (h + h', p + p')``. N is symmetric in its
slots, so results are memoised on the sorted slot tuple. The event's ⟨m⟩ is
``Re N(n,…,n,−n,…,−n) / N(0,…,0)``, the denominator being the number of distinct m-tuples
(``M(M−1)…(M−m+1)`` for unit weights) and the event weight of ⟨m⟩. Every array here has one
entry per event, so all events are handled at once.

Event averages ⟨⟨m⟩⟩ = Σ_ev N_m / Σ_ev W_m; cumulants and flow harmonics

    c{2} = ⟨⟨2⟩⟩                          v{2} = c{2}^{1/2}
    c{4} = ⟨⟨4⟩⟩ − 2⟨⟨2⟩⟩²                v{4} = (−c{4})^{1/4}
    c{6} = ⟨⟨6⟩⟩ − 9⟨⟨4⟩⟩⟨⟨2⟩⟩ + 12⟨⟨2⟩⟩³     v{6} = (c{6}/4)^{1/6}
    c{8} = ⟨⟨8⟩⟩ − 16⟨⟨6⟩⟩⟨⟨2⟩⟩ − 18⟨⟨4⟩⟩² + 144⟨⟨4⟩⟩⟨⟨2⟩⟩² − 144⟨⟨2⟩⟩⁴
                                           v{8} = (−c{8}/33)^{1/8}

A cumulant of the unphysical sign gives v = NaN and a flag (and an
:class:`UnphysicalCumulantWarning` from :func:`flow_cumulants`), never a silent number.
With an η gap Δ, ⟨2⟩ = Re(Q_A Q_B*)/(W_A W_B) between the sub-events A: η < −Δ/2 and
B: η > Δ/2 (no self-correlations, and short-range non-flow suppressed).

Errors resample events (see ``_resample``): the per-event columns (N_2, W_2, N_4, W_4, …) are
resampled together and the weighted ratios formed inside the function, so the weights and
the correlations between the ⟨⟨m⟩⟩ are handled exactly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.observables._resample import ObservableWarning, Resampler
from qcdgen.hic.observables.spectra import FlatParticles, as_flat_particles, select
from qcdgen.stats import Estimate

__all__ = ["QVectors", "event_correlators", "flow_columns", "flow_from_columns", "flow_cumulants",
           "cumulants_from_correlators", "FlowResult", "UnphysicalCumulantWarning", "ORDERS",
           "gap_label", "check_harmonic"]

#: cumulant orders supported
ORDERS = (2, 4, 6, 8)


class UnphysicalCumulantWarning(ObservableWarning):
    """A cumulant has the sign for which v_n{k} is not real (v reported as NaN)."""


class QVectors:
    """Per-event flow vectors Q_{h,p} and distinct-tuple sums N(slots) of one particle sample.

    ``phi``, ``event`` (event index of each particle) and optional ``weights`` are flat arrays;
    every returned array has ``n_events`` entries. Results are cached on the object.
    """

    def __init__(self, phi, event, n_events: int, weights=None):
        self.phi = np.asarray(phi, dtype=np.float64)
        self.event = np.asarray(event, dtype=np.int64)
        self.n_events = int(n_events)
        if self.phi.shape != self.event.shape:
            raise InputError(f"phi and event must have the same length, got {self.phi.shape} and {self.event.shape}")
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        if self.weights is not None and self.weights.shape != self.phi.shape:
            raise InputError(f"weights must have one entry per particle ({self.phi.shape}), got {self.weights.shape}")
        self.multiplicity = np.bincount(self.event, minlength=self.n_events).astype(np.float64)
        self._q: dict[tuple[int, int], np.ndarray] = {}
        self._n: dict[tuple, np.ndarray] = {}
        self._phase: dict[int, np.ndarray] = {}

    def phase(self, h: int) -> np.ndarray:
        """Flat e^{i h φ} per particle (h >= 1), built from cached lower harmonics by products."""
        h = int(h)
        if h < 1:
            raise ValueError(f"phase needs h >= 1, got {h}")
        if h not in self._phase:
            lower = [k for k in self._phase if k < h and (h - k) in self._phase]
            if lower:
                k = max(lower)
                self._phase[h] = self._phase[k] * self._phase[h - k]
            elif h % 2 == 0:
                half = self.phase(h // 2)
                self._phase[h] = half * half
            else:
                self._phase[h] = np.exp(1j * h * self.phi)
        return self._phase[h]

    def _p(self, p: int) -> int:
        return 1 if self.weights is None else p

    def q(self, h: int, p: int = 1) -> np.ndarray:
        """Q_{h,p} per event (complex); Q_{−h,p} = conj(Q_{h,p})."""
        h, p = int(h), self._p(int(p))
        key = (abs(h), p)
        if key not in self._q:
            w = None if self.weights is None else self.weights ** p
            if h == 0:
                re = self.multiplicity if w is None else np.bincount(self.event, w, self.n_events)
                self._q[key] = re.astype(np.complex128)
            else:
                z = self.phase(abs(h))
                c, s = (z.real, z.imag) if w is None else (z.real * w, z.imag * w)
                self._q[key] = (np.bincount(self.event, c, self.n_events)
                                + 1j * np.bincount(self.event, s, self.n_events))
        out = self._q[key]
        return out if h >= 0 else np.conj(out)

    def distinct_sum(self, harmonics: Sequence[int]) -> np.ndarray:
        """N(h_1..h_m) = Σ over distinct m-tuples of Π w e^{i h φ}, per event (complex)."""
        return self._nsum(tuple(sorted((int(h), 1) for h in harmonics)))

    def _nsum(self, slots: tuple) -> np.ndarray:
        if not slots:
            return np.ones(self.n_events, dtype=np.complex128)
        if self.weights is None:
            slots = tuple(sorted((h, 1) for h, _ in slots))
        if slots in self._n:
            return self._n[slots]
        *rest, (h, p) = slots
        out = self.q(h, p) * self._nsum(tuple(rest))
        for j, (hj, pj) in enumerate(rest):
            merged = rest[:j] + [(hj + h, pj + p)] + rest[j + 1:]
            out = out - self._nsum(tuple(sorted(merged)))
        self._n[slots] = out
        return out

    def correlator(self, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(Re N_m, W_m) per event for ⟨m⟩ of harmonic n: harmonics (n,…,n,−n,…,−n).

        Events with fewer than m particles get 0 and 0 (they carry no weight).
        """
        if m % 2 or m < 2:
            raise InputError(f"correlator order must be an even integer >= 2, got {m}")
        num = self.distinct_sum([n] * (m // 2) + [-n] * (m // 2)).real
        den = self.distinct_sum([0] * m).real
        few = self.multiplicity < m
        return np.where(few, 0.0, num), np.where(few, 0.0, den)


def event_correlators(phi, event, n_events: int, n: int, orders: Sequence[int] = ORDERS, weights=None
                      ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per-event ⟨m⟩ and its weight W_m for each m in ``orders``: {m: (⟨m⟩, W_m)} (⟨m⟩ NaN if W_m = 0)."""
    qv = QVectors(phi, event, n_events, weights)
    out = {}
    for m in orders:
        num, den = qv.correlator(n, m)
        with np.errstate(all="ignore"):
            out[m] = (np.where(den > 0, num / den, np.nan), den)
    return out


def check_harmonic(n) -> int:
    """Validated harmonic: an integer n >= 1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"harmonic n must be an integer >= 1, got {n!r}")
    return int(n)


def _check_orders(orders) -> tuple[int, ...]:
    orders = tuple(int(k) for k in orders)
    if not orders or any(k not in ORDERS for k in orders):
        raise InputError(f"orders must be a non-empty subset of {ORDERS}, got {orders!r}")
    need = tuple(k for k in ORDERS if k <= max(orders))  # c{k} needs all lower correlators
    return need


def gap_label(eta_gap: float) -> str:
    return f"|deta|>{eta_gap:g}"


def flow_columns(flat: FlatParticles, n: int, orders: Sequence[int] = ORDERS, eta_gap: float | None = None,
                 weights=None, qv: QVectors | None = None) -> dict[str, np.ndarray]:
    """Per-event columns ``N{m}``, ``W{m}`` (m in orders and below) and, with an η gap,
    ``Ngap``, ``Wgap``, for the particles of ``flat`` (already selected). ``qv``: the
    :class:`QVectors` of ``flat`` (with the same weights) if already built, to share its cache."""
    n = check_harmonic(n)
    orders = _check_orders(orders)
    qv = QVectors(flat.phi, flat.event, flat.n_events, weights) if qv is None else qv
    cols = {}
    for m in orders:
        cols[f"N{m}"], cols[f"W{m}"] = qv.correlator(n, m)
    if eta_gap is not None:
        if not (np.isfinite(eta_gap) and eta_gap >= 0):
            raise InputError(f"eta_gap must be a finite number >= 0 or None, got {eta_gap!r}")
        w = np.ones(len(flat)) if weights is None else np.asarray(weights, dtype=np.float64)
        wz = w * qv.phase(n)
        sub = []
        for part in (flat.eta < -eta_gap / 2, flat.eta > eta_gap / 2):
            ev = flat.event[part]
            sub.append((np.bincount(ev, wz.real[part], flat.n_events)
                        + 1j * np.bincount(ev, wz.imag[part], flat.n_events),
                        np.bincount(ev, w[part], flat.n_events)))
        (qa, wa), (qb, wb) = sub
        cols["Ngap"] = (qa * np.conj(qb)).real
        cols["Wgap"] = wa * wb
    return cols


def cumulants_from_correlators(mean2, mean4=None, mean6=None, mean8=None) -> dict[int, np.ndarray]:
    """c{2}, c{4}, c{6}, c{8} (as far as the given event-averaged correlators allow)."""
    c = {2: mean2}
    if mean4 is not None:
        c[4] = mean4 - 2 * mean2 ** 2
    if mean6 is not None:
        c[6] = mean6 - 9 * mean4 * mean2 + 12 * mean2 ** 3
    if mean8 is not None:
        c[8] = (mean8 - 16 * mean6 * mean2 - 18 * mean4 ** 2 + 144 * mean4 * mean2 ** 2
                - 144 * mean2 ** 4)
    return c


#: v{k} = (sign · c{k} / norm)^{1/k}; physical when sign · c{k} >= 0
_V_FROM_C = {2: (1.0, 1.0), 4: (-1.0, 1.0), 6: (1.0, 4.0), 8: (-1.0, 33.0)}


def _v_from_c(k: int, c):
    sign, norm = _V_FROM_C[k]
    x = sign * np.asarray(c) / norm
    with np.errstate(invalid="ignore"):
        return np.where(x >= 0, np.abs(x) ** (1.0 / k), np.nan)


@dataclass
class FlowResult:
    """Cumulant flow of harmonic n: event-averaged correlators, cumulants, v_n{k}, flags."""

    n: int
    n_events: int
    correlators: dict[int, Estimate]
    c: dict[int, Estimate]
    v: dict[int, Estimate]
    eta_gap: float | None = None
    c_gap: Estimate | None = None
    v_gap: Estimate | None = None
    flags: list[str] = field(default_factory=list)

    def named(self) -> dict[str, Estimate]:
        """``{"v2{2}": …, "c2{4}": …, "v2{2,|deta|>1}": …}``."""
        out = {}
        for k in self.v:
            out[f"v{self.n}{{{k}}}"] = self.v[k]
        for k in self.c:
            out[f"c{self.n}{{{k}}}"] = self.c[k]
        if self.v_gap is not None:
            out[f"v{self.n}{{2,{gap_label(self.eta_gap)}}}"] = self.v_gap
            out[f"c{self.n}{{2,{gap_label(self.eta_gap)}}}"] = self.c_gap
        return out


def flow_from_columns(cols: dict[str, np.ndarray], n: int, rs: Resampler, eta_gap: float | None = None
                      ) -> FlowResult:
    """Cumulants and v_n{k} with resampling errors from per-event :func:`flow_columns`."""
    orders = tuple(k for k in ORDERS if f"N{k}" in cols)
    mat = np.stack([cols[f"{x}{k}"] for k in orders for x in ("N", "W")], axis=1)
    nk = len(orders)

    def func(m):
        means = [m[..., 2 * i] / m[..., 2 * i + 1] for i in range(nk)]
        c = cumulants_from_correlators(*means)
        vs = [_v_from_c(k, c[k]) for k in orders]
        return np.stack(means + [c[k] for k in orders] + vs, axis=-1)

    names = ([f"<<{k}>>" for k in orders] + [f"c{n}{{{k}}}" for k in orders]
             + [f"v{n}{{{k}}}" for k in orders])
    est, flags = rs.estimate(mat, func, names)
    corr = dict(zip(orders, est[:nk]))
    c = dict(zip(orders, est[nk:2 * nk]))
    v = dict(zip(orders, est[2 * nk:]))
    flags = [f for f in flags if not any(f.startswith(f"v{n}{{{k}}}: value") and np.isfinite(c[k].value)
                                         for k in orders)]
    for k in orders:
        if np.isfinite(c[k].value) and not np.isfinite(v[k].value):
            need = "< 0" if _V_FROM_C[k][0] > 0 else "> 0"
            flags.append(f"v{n}{{{k}}}: c{n}{{{k}}} = {c[k].value:.3g} {need} has the unphysical sign, "
                         f"v{n}{{{k}}} is NaN")
    res = FlowResult(n, rs.n_events, corr, c, v, flags=flags)
    if "Ngap" in cols:
        gmat = np.stack([cols["Ngap"], cols["Wgap"]], axis=1)
        label = f"{{2,{gap_label(eta_gap)}}}" if eta_gap is not None else "{2,gap}"

        def gfunc(m):
            c2 = m[..., 0] / m[..., 1]
            return np.stack([c2, _v_from_c(2, c2)], axis=-1)

        (cg, vg), gflags = rs.estimate(gmat, gfunc, [f"c{n}{label}", f"v{n}{label}"])
        if np.isfinite(cg.value) and not np.isfinite(vg.value):
            gflags = [f for f in gflags if not f.startswith(f"v{n}{label}: value")]
            gflags.append(f"v{n}{label}: c{n}{label} = {cg.value:.3g} < 0 has the unphysical sign, "
                          f"v{n}{label} is NaN")
        res.flags.extend(gflags)
        res.eta_gap, res.c_gap, res.v_gap = eta_gap, cg, vg
    return res


def flow_cumulants(events, n: int = 2, orders: Sequence[int] = ORDERS, *, eta_max: float | None = 0.8,
                   pt_range=(0.2, 5.0), charged: bool = True, eta_gap: float | None = None, weights=None,
                   errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0) -> FlowResult:
    """v_n{2,4,6,8} (and optionally v_n{2, |Δη| > eta_gap}) of an event array or FlatParticles.

    Particles: charged (if ``charged``), |η| < eta_max, pt_range[0] < pT < pt_range[1].
    ``weights``: optional flat per-particle weights of the *selected* particles.
    Unphysical cumulant signs give NaN values, listed in ``flags`` and warned about.
    """
    flat = as_flat_particles(events)
    sel = flat.subset(select(flat, eta_max=eta_max, pt_range=pt_range, charged=charged))
    cols = flow_columns(sel, n, orders, eta_gap, weights)
    res = flow_from_columns(cols, n, Resampler(flat.n_events, errors, n_groups, n_boot, seed), eta_gap)
    if res.flags:
        warnings.warn("; ".join(res.flags), UnphysicalCumulantWarning, stacklevel=2)
    return res
