"""Monte Carlo Glauber model: participants, binary collisions and the inelastic cross section.

Geometry: the projectile is centred at (+b/2, 0), the target at (−b/2, 0) (impact parameter
along x, the reaction plane is the x–z plane). Nucleons are frozen during the crossing;
a nucleon pair at transverse distance d collides with probability P(d):

- ``"hard-disk"``: P = θ(σ_NN/π − d²) (the PHOBOS / TGlauberMC default);
- ``"gaussian"``: P = exp(−π d²/σ_NN) (Gaussian profile with G = 1, ∫P d²d = σ_NN);
- ``"trento"``: P = 1 − exp(−σ_gg T_pp(d)), T_pp the overlap of two Gaussian nucleons of
  width w, σ_gg fixed by ∫P d²d = σ_NN (Moreland, Bernhard, Bass, PRC 92 011901).

A nucleon that collides at least once is a participant (wounded nucleon); an event with at
least one binary collision is inelastic. Minimum-bias impact parameters are drawn with b²
uniform in [0, b_max²] with b_max so large that no collision is possible beyond it, so
σ_inel = π b_max² × (fraction of inelastic trials).

Units: lengths in fm, σ_NN in mb (1 mb = 0.1 fm²), nucleus–nucleus cross sections in barn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.spatial import cKDTree
from scipy.special import exp1

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.errors import InputError
from qcdgen.hic.initial.nuclei import Nucleus, as_nucleus, as_rng

__all__ = ["sigma_nn_inel", "GlauberEvents", "sample_glauber", "sigma_inel", "b_max",
           "minimum_bias_trials", "COLLISION_MODELS", "resolve_sigma_nn"]

COLLISION_MODELS = ("hard-disk", "gaussian", "trento")
_MB_TO_FM2 = 0.1
_FM2_TO_B = 0.01


def sigma_nn_inel(sqrts_GeV):
    """Inelastic nucleon–nucleon cross section in mb at √s_NN (GeV).

    σ = 25.0 mb + 0.146 mb · ln²(s / GeV²), the fit to pp / p̄p data of Loizides, Kamin,
    d'Enterria, PRC 97 (2018) 054910 (TGlauberMC v3): 41.4 mb at 200 GeV, 61.7 mb at
    2.76 TeV, 67.4 mb at 5.02 TeV (their tabulated 41.6, 61.8, 67.6 ± ~1 mb). Valid from
    √s ≈ 10 GeV upwards; accepts scalars or arrays.
    """
    try:
        s = np.asarray(sqrts_GeV, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"sqrts must be a centre-of-mass energy in GeV, got {sqrts_GeV!r}") from None
    if not np.all(np.isfinite(s)) or np.any(s < 5.0):
        raise InputError(f"sqrts must be a finite centre-of-mass energy >= 5 GeV per nucleon pair, "
                         f"got {sqrts_GeV!r}")
    out = 25.0 + 0.146 * np.log(s * s) ** 2
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------- collision kernel
@dataclass(frozen=True)
class _Kernel:
    model: str
    sigma_fm2: float
    w: float = 0.5
    c: float = 0.0  # TRENTo: σ_gg / (4π w²)

    @classmethod
    def make(cls, model: str, sigma_nn_mb: float, w: float) -> "_Kernel":
        if model not in COLLISION_MODELS:
            raise InputError(f"collision must be one of {COLLISION_MODELS}, got {model!r}")
        sig = sigma_nn_mb * _MB_TO_FM2
        if model != "trento":
            return cls(model, sig, w)
        w = check_positive_float(w, "w")
        # σ_NN = 4π w² Ein(c), Ein(c) = ∫_0^c (1 − e^{−t})/t dt = γ + ln c + E1(c)
        target = sig / (4.0 * math.pi * w * w)

        def ein(c):
            return np.euler_gamma + math.log(c) + exp1(c) - target

        c = brentq(ein, 1e-12, 1e12, xtol=1e-14, rtol=1e-13, maxiter=500)
        return cls(model, sig, w, c)

    @property
    def range(self) -> float:
        """Transverse distance beyond which a collision is (numerically) impossible, fm."""
        if self.model == "hard-disk":
            return math.sqrt(self.sigma_fm2 / math.pi)
        if self.model == "gaussian":
            return 4.0 * math.sqrt(self.sigma_fm2 / math.pi)  # P < 1e-7
        return 2.0 * self.w * math.sqrt(max(math.log(self.c * 1e7), 0.0))

    def collide(self, d2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.model == "hard-disk":
            return d2 < self.sigma_fm2 / math.pi
        if self.model == "gaussian":
            p = np.exp(-math.pi / self.sigma_fm2 * d2)
        else:
            p = -np.expm1(-self.c * np.exp(-d2 / (4.0 * self.w * self.w)))
        return rng.random(d2.shape) < p


def resolve_sigma_nn(sqrts, sigma_nn) -> float:
    """σ_NN (mb): ``sigma_nn`` if given, else the inelastic cross section at ``sqrts`` (GeV)."""
    if sigma_nn is not None:
        return check_positive_float(sigma_nn, "sigma_nn (mb)")
    if sqrts is None:
        raise InputError("give sqrts (GeV) or sigma_nn (mb)")
    return sigma_nn_inel(check_positive_float(sqrts, "sqrts (GeV)"))


def b_max(projectile, target, sigma_nn: float, collision: str = "hard-disk", w: float = 0.5) -> float:
    """Impact parameter (fm) beyond which no nucleon–nucleon collision can happen in practice."""
    pa, pb = as_nucleus(projectile), as_nucleus(target)
    k = _Kernel.make(collision, check_positive_float(sigma_nn, "sigma_nn (mb)"), w)
    return pa.extent() + pb.extent() + k.range


def _collide_batch(pos_a, pos_b, b, kernel: _Kernel, rng):
    """Per-nucleon collision counts (n, A), (n, B) for a batch of nucleus pairs.

    All events of the batch go into one pair of 2-D k-d trees (event e displaced to its own
    far-away lattice site), which finds every nucleon pair closer than the interaction range
    in O(N log N) instead of testing all A·B pairs.
    """
    n, A, _ = pos_a.shape
    B = pos_b.shape[1]
    xa = pos_a[:, :, :2].copy()
    xa[:, :, 0] += 0.5 * b[:, None]
    xb = pos_b[:, :, :2].copy()
    xb[:, :, 0] -= 0.5 * b[:, None]
    reach = kernel.range
    spacing = 2.0 * max(np.abs(xa).max(), np.abs(xb).max()) + 2.0 * reach + 1.0
    m = int(math.ceil(math.sqrt(n)))
    e = np.arange(n)
    shift = np.stack([e % m, e // m], axis=1) * spacing
    xa += shift[:, None, :]
    xb += shift[:, None, :]
    ta = cKDTree(xa.reshape(-1, 2), balanced_tree=False, compact_nodes=False)
    tb = cKDTree(xb.reshape(-1, 2), balanced_tree=False, compact_nodes=False)
    pairs = ta.sparse_distance_matrix(tb, reach, output_type="ndarray")
    i, j = pairs["i"], pairs["j"]
    if kernel.model != "hard-disk" and i.size:
        hit = kernel.collide(pairs["v"] ** 2, rng)
        i, j = i[hit], j[hit]
    nc_a = np.bincount(i, minlength=n * A).astype(np.int32).reshape(n, A)
    nc_b = np.bincount(j, minlength=n * B).astype(np.int32).reshape(n, B)
    return nc_a, nc_b


def _check_b_range(b_range, bmax_default):
    if b_range is None:
        return 0.0, bmax_default
    try:
        lo, hi = (float(v) for v in b_range)
    except (TypeError, ValueError):
        raise InputError(f"b_range must be a pair (b_min, b_max) in fm, got {b_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi <= lo:
        raise InputError(f"b_range must satisfy 0 <= b_min < b_max (fm, finite), got {b_range!r}")
    return lo, hi


# ---------------------------------------------------------------------------- events
class EventBatch:
    """A batch of events with a per-event impact-parameter array ``b``: ``n_events`` and ``len()``."""

    @property
    def n_events(self) -> int:
        return int(self.b.shape[0])

    def __len__(self) -> int:
        return self.n_events


@dataclass
class GlauberEvents(EventBatch):
    """A batch of inelastic Glauber events.

    Per event (length n): ``b`` (fm), ``npart``, ``ncoll``, ``npart_a``, ``npart_b``.
    Participants are stored flat, event after event (projectile participants first):
    ``x``, ``y`` (fm, collision frame), ``nucleus`` (0 = projectile, 1 = target),
    ``ncoll_part`` (binary collisions of that participant); ``npart`` gives the count per
    event and :attr:`offsets` the start of each event in the flat arrays.

    ``n_trials`` impact parameters were drawn (b² uniform in [b_min², b_max²]) to obtain
    the n inelastic events; :meth:`cross_section` turns that into a cross section.
    """

    projectile: Nucleus
    target: Nucleus
    sigma_nn: float
    collision: str
    b: np.ndarray
    npart: np.ndarray
    ncoll: np.ndarray
    npart_a: np.ndarray
    npart_b: np.ndarray
    x: np.ndarray
    y: np.ndarray
    nucleus: np.ndarray
    ncoll_part: np.ndarray
    b_min: float
    b_max: float
    n_trials: int
    w: float = 0.5
    _offsets: np.ndarray | None = field(default=None, repr=False)

    @property
    def offsets(self) -> np.ndarray:
        """Start index of each event's participants in the flat arrays, length n + 1."""
        if self._offsets is None:
            self._offsets = np.concatenate([[0], np.cumsum(self.npart, dtype=np.int64)])
        return self._offsets

    @property
    def event_index(self) -> np.ndarray:
        """Event number of every flat participant."""
        return np.repeat(np.arange(self.n_events), self.npart)

    def participants(self, i: int):
        """(x, y, nucleus, ncoll_part) of the participants of event ``i``."""
        if not -self.n_events <= i < self.n_events:
            raise InputError(f"event index must be in [0, {self.n_events}), got {i}")
        i %= self.n_events
        sl = slice(self.offsets[i], self.offsets[i + 1])
        return self.x[sl], self.y[sl], self.nucleus[sl], self.ncoll_part[sl]

    def flat_index(self, idx) -> np.ndarray:
        """Indices into the flat participant arrays of the events ``idx``, event after event."""
        idx = np.asarray(idx, dtype=np.int64)
        lens = self.npart[idx].astype(np.int64)
        first = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        return np.repeat(self.offsets[idx] - first, lens) + np.arange(int(lens.sum()))

    def select(self, mask) -> "GlauberEvents":
        """The sub-batch of events where ``mask`` (bool, length n, or indices) is set."""
        idx = np.arange(self.n_events)[mask]
        flat = self.flat_index(idx)
        return GlauberEvents(self.projectile, self.target, self.sigma_nn, self.collision,
                             self.b[idx], self.npart[idx], self.ncoll[idx], self.npart_a[idx],
                             self.npart_b[idx], self.x[flat], self.y[flat], self.nucleus[flat],
                             self.ncoll_part[flat], self.b_min, self.b_max, self.n_trials, self.w)

    def cross_section(self) -> tuple[float, float]:
        """(σ, binomial error) in barn of the inelastic cross section inside [b_min, b_max].

        Equals σ_inel when the batch is minimum bias (b_min = 0, default b_max).
        """
        area = math.pi * (self.b_max ** 2 - self.b_min ** 2) * _FM2_TO_B
        f = self.n_events / self.n_trials
        return area * f, area * math.sqrt(f * (1.0 - f) / self.n_trials)


def sample_glauber(projectile, target, sqrts=None, n_events: int = 1000, rng=None, *,
                   b_range=None, collision: str = "hard-disk", sigma_nn=None, w: float = 0.5,
                   max_trials: int | None = None) -> GlauberEvents:
    """Sample ``n_events`` inelastic (≥ 1 binary collision) Glauber events.

    Parameters
    ----------
    projectile, target : :class:`Nucleus` or a tabulated name (``"Pb"``, ``"p"`` ...).
    sqrts : √s_NN in GeV, used for σ_NN via :func:`sigma_nn_inel` unless ``sigma_nn`` is given.
    n_events : number of inelastic events to return.
    rng : numpy Generator, integer seed or None.
    b_range : (b_min, b_max) in fm, b² uniform inside; None = minimum bias up to :func:`b_max`.
    collision : ``"hard-disk"``, ``"gaussian"`` or ``"trento"`` (see module docstring).
    sigma_nn : inelastic NN cross section in mb (overrides ``sqrts``).
    w : Gaussian nucleon width (fm) for ``collision="trento"``.
    max_trials : give up (InputError) after this many impact parameters (default
        1000 n_events + 100000).
    """
    pa, pb = as_nucleus(projectile), as_nucleus(target)
    n_events = check_positive_int(n_events, "n_events")
    rng = as_rng(rng)
    sig = resolve_sigma_nn(sqrts, sigma_nn)
    kernel = _Kernel.make(collision, sig, w)
    lo, hi = _check_b_range(b_range, pa.extent() + pb.extent() + kernel.range)
    if max_trials is None:
        max_trials = 1000 * n_events + 100_000
    A, B = pa.A, pb.A
    nuc_id = np.concatenate([np.zeros(A, np.int8), np.ones(B, np.int8)])

    chunks = []  # per batch: dict of per-event and flat participant arrays
    n_acc = 0
    trials = 0
    # first guess of the inelastic fraction: geometric overlap of two discs
    r_geo = pa.surface_radius() + pb.surface_radius() + kernel.range
    frac = (min(hi, r_geo) ** 2 - min(lo, r_geo) ** 2) / (hi * hi - lo * lo)
    frac = min(max(frac, 0.05), 1.0)
    while n_acc < n_events:
        need = n_events - n_acc
        expect = need / frac
        batch = int(min(expect + 3.0 * math.sqrt(expect) + 16, 4000))
        b = np.sqrt(rng.uniform(lo * lo, hi * hi, batch))
        pos_a = pa.sample(batch, rng)
        pos_b = pb.sample(batch, rng)
        nc_a, nc_b = _collide_batch(pos_a, pos_b, b, kernel, rng)
        inel = nc_a.sum(axis=1) > 0
        frac = max(float(inel.mean()), 1e-3)
        idx = np.flatnonzero(inel)
        if idx.size >= need:
            # stop at the trial that completes the sample (keeps n/n_trials unbiased)
            trials += int(idx[need - 1]) + 1
            idx = idx[:need]
        else:
            trials += batch
        if idx.size:
            chunks.append(_extract(b[idx], nc_a[idx], nc_b[idx], pos_a[idx], pos_b[idx], nuc_id))
            n_acc += idx.size
        if n_acc < n_events and trials >= max_trials:
            raise InputError(
                f"only {n_acc} of {n_events} inelastic {pa.name}+{pb.name} events after {trials} "
                f"impact parameters in b_range = ({lo:g}, {hi:g}) fm; choose a b_range with "
                f"overlapping nuclei")

    cat = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return GlauberEvents(projectile=pa, target=pb, sigma_nn=sig, collision=collision,
                         b_min=lo, b_max=hi, n_trials=trials, w=float(w), **cat)


def _extract(b, nc_a, nc_b, pos_a, pos_b, nuc_id) -> dict:
    """Per-event numbers and flat participant arrays of accepted events (collision frame)."""
    A = nc_a.shape[1]
    nc = np.concatenate([nc_a, nc_b], axis=1)  # (n, A+B)
    part = nc > 0
    x = np.concatenate([pos_a[:, :, 0] + 0.5 * b[:, None], pos_b[:, :, 0] - 0.5 * b[:, None]], axis=1)
    y = np.concatenate([pos_a[:, :, 1], pos_b[:, :, 1]], axis=1)
    npart_a = part[:, :A].sum(axis=1).astype(np.int32)
    npart_b = part[:, A:].sum(axis=1).astype(np.int32)
    return dict(b=b, npart=(npart_a + npart_b).astype(np.int32),
                ncoll=nc_a.sum(axis=1).astype(np.int64), npart_a=npart_a, npart_b=npart_b,
                x=x[part], y=y[part], nucleus=np.broadcast_to(nuc_id, nc.shape)[part].copy(),
                ncoll_part=nc[part].astype(np.int32))


def minimum_bias_trials(projectile, target, sqrts=None, n_trials: int = 20000, rng=None, *,
                        collision: str = "hard-disk", sigma_nn=None, w: float = 0.5):
    """Minimum-bias trials: (b, inelastic, b_max) with b² uniform in [0, b_max²].

    ``b`` (n_trials,) in fm, ``inelastic`` a bool array (≥ 1 binary collision), ``b_max`` the
    upper limit (:func:`b_max`). The raw material of :func:`sigma_inel` and of the geometric
    centrality calibration.

    b² is *stratified*: one value uniformly inside each of n_trials equal slices of
    [0, b_max²] (in random order). The count of trials below any b is then exact to ±1, so
    the only Monte Carlo noise left is that of the collision outcome itself; estimates stay
    unbiased and the binomial error of :func:`sigma_inel` becomes an upper bound.
    """
    pa, pb = as_nucleus(projectile), as_nucleus(target)
    n_trials = check_positive_int(n_trials, "n_trials")
    rng = as_rng(rng)
    sig = resolve_sigma_nn(sqrts, sigma_nn)
    kernel = _Kernel.make(collision, sig, w)
    hi = pa.extent() + pb.extent() + kernel.range
    u = (np.arange(n_trials) + rng.random(n_trials)) / n_trials
    b = hi * np.sqrt(u[rng.permutation(n_trials)])
    inel = np.zeros(n_trials, dtype=bool)
    for s in range(0, n_trials, 2000):
        m = min(2000, n_trials - s)
        nc_a, _ = _collide_batch(pa.sample(m, rng), pb.sample(m, rng), b[s:s + m], kernel, rng)
        inel[s:s + m] = nc_a.sum(axis=1) > 0
    return b, inel, hi


def sigma_inel(projectile, target, sqrts=None, n_events: int = 20000, rng=None, *,
               collision: str = "hard-disk", sigma_nn=None, w: float = 0.5) -> tuple[float, float]:
    """Inelastic nucleus–nucleus cross section (σ, error) in barn from ``n_events`` trials.

    σ = π b_max² × (fraction of minimum-bias trials with ≥ 1 binary collision); the error is
    the binomial one, π b_max² √(f(1−f)/N) (conservative: the trials are stratified in b²,
    see :func:`minimum_bias_trials`).
    """
    n_events = check_positive_int(n_events, "n_events")
    _, inel, hi = minimum_bias_trials(projectile, target, sqrts, n_events, rng,
                                      collision=collision, sigma_nn=sigma_nn, w=w)
    area = math.pi * hi * hi * _FM2_TO_B
    f = float(inel.mean())
    return area * f, area * math.sqrt(f * (1.0 - f) / n_events)
