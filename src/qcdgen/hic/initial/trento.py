"""TRENTo-style entropy-density profiles on a transverse grid.

Moreland, Bernhard, Bass, PRC 92 (2015) 011901: each participant carries a Gaussian
thickness of width w, normalised to one, times a fluctuating weight γ drawn from a gamma
distribution with shape k and mean 1,

    T_A(x, y) = Σ_{i ∈ A participants} γ_i exp(−|x − x_i|²/2w²) / (2π w²),

likewise T_B, and the entropy density at mid-rapidity is s = norm · T_R with the
generalised mean ("reduced thickness")

    T_R = ((T_A^p + T_B^p) / 2)^{1/p},   p → 0: √(T_A T_B).

Grid convention: ``profile[e, i, j]`` is the value in the cell centred at
``(x, y) = (grid.centers[i], grid.centers[j])`` (``"ij"`` indexing). Every profile value is
the *cell average* of the Gaussians (exact differences of error functions), so the integral
of a nucleon inside the grid is exactly γ_i and the total entropy Σ s dx² does not depend on
the cell size for p = 1; for other p the cell averaging of T_A, T_B before the generalised
mean is an O(dx²/w²) approximation, as in any grid-based TRENTo.

The sum over participants is a product of separable 1-D Gaussians, so each event's T_A is
the matrix product G_xᵀ diag(γ) G_y, batched over events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.errors import InputError
from qcdgen.hic.initial.glauber import GlauberEvents
from qcdgen.hic.initial.nuclei import as_rng

__all__ = ["Grid", "gaussian_cell_weights", "participant_thickness", "reduced_thickness",
           "trento_profiles", "total_entropy"]


@dataclass(frozen=True)
class Grid:
    """Square transverse grid of ``n × n`` cells covering [−max, max]² (fm)."""

    n: int = 64
    max: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "n", check_positive_int(self.n, "grid n", minimum=2))
        object.__setattr__(self, "max", check_positive_float(self.max, "grid max (fm)"))

    @property
    def dx(self) -> float:
        """Cell size in fm."""
        return 2.0 * self.max / self.n

    @property
    def cell_area(self) -> float:
        return self.dx * self.dx

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(-self.max, self.max, self.n + 1)

    @property
    def centers(self) -> np.ndarray:
        return -self.max + (np.arange(self.n) + 0.5) * self.dx

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates X, Y of shape (n, n), ``"ij"`` indexing."""
        c = self.centers
        return np.meshgrid(c, c, indexing="ij")

    @classmethod
    def for_nuclei(cls, *nuclei, dx: float = 0.3, margin: float = 3.5) -> "Grid":
        """A grid that holds the participants of the given nuclei: max = largest surface
        radius + ``margin`` (≥ 3 fm), cell size ≈ ``dx`` (rounded so that n is even)."""
        r = max([nu.surface_radius() for nu in nuclei] + [1.0])
        half = max(r + margin, 3.0)
        n = int(2 * math.ceil(half / dx))
        return cls(n=n, max=round(half, 6))


def gaussian_cell_weights(x, grid: Grid, w: float) -> np.ndarray:
    """Cell averages of normalised 1-D Gaussians of width ``w`` centred at ``x``: (len(x), n).

    Row i times dx sums to the Gaussian's probability inside [−max, max].
    """
    z = (grid.edges[None, :] - np.asarray(x, dtype=float)[:, None]) * (1.0 / (math.sqrt(2.0) * w))
    # cells farther than ~8.5 w get exactly 0 (relative weight < 1e-15): keeps the products
    # in the thickness matrix product away from subnormal numbers, which are ~100x slower
    np.clip(z, -6.0, 6.0, out=z)
    c = erf(z)
    return (c[:, 1:] - c[:, :-1]) * (0.5 / grid.dx)


def _thickness_chunk(ev_local, x, y, weights, n_ev, grid, w):
    """Σ_i weights_i g(x_i) g(y_i) per event, (n_ev, n, n); ev_local are sorted event indices."""
    n = grid.n
    out = np.zeros((n_ev, n, n))
    if ev_local.size == 0:
        return out
    counts = np.bincount(ev_local, minlength=n_ev)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(ev_local.size) - starts[ev_local]
    pmax = int(counts.max())
    gxt = np.zeros((n_ev, n, pmax))
    gy = np.zeros((n_ev, pmax, n))
    gxt[ev_local, :, rank] = gaussian_cell_weights(x, grid, w) * weights[:, None]
    gy[ev_local, rank] = gaussian_cell_weights(y, grid, w)
    # NumPy's own single-threaded contraction rather than batched BLAS: the per-event
    # products are small, and multi-threaded BLAS on a busy machine can be 10-100x slower
    return np.einsum("eip,epj->eij", gxt, gy, out=out)


def _check_common(events, grid, k, w):
    if not isinstance(events, GlauberEvents):
        raise InputError(f"glauber_events must be a GlauberEvents batch (from sample_glauber), "
                         f"got {type(events).__name__}")
    if grid is None:
        grid = Grid.for_nuclei(events.projectile, events.target)
    if not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid, got {grid!r}")
    return grid, check_positive_float(k, "k (gamma shape)"), check_positive_float(w, "w (fm)")


def participant_thickness(glauber_events: GlauberEvents, grid: Grid | None = None, k: float = 1.6,
                          w: float = 0.5, rng=None, *, weights=None, chunk: int = 64):
    """Fluctuating participant thicknesses (T_A, T_B), each (n_events, n, n) in fm⁻².

    ``weights`` (flat, one per participant) replaces the gamma(k, 1/k) draws if given.
    """
    grid, k, w = _check_common(glauber_events, grid, k, w)
    ev = glauber_events
    rng = as_rng(rng)
    if weights is None:
        weights = rng.gamma(k, 1.0 / k, ev.x.size)
    else:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != ev.x.shape:
            raise InputError(f"weights must have one entry per participant, shape {ev.x.shape}, "
                             f"got {weights.shape}")
    ta = np.empty((ev.n_events, grid.n, grid.n))
    tb = np.empty_like(ta)
    for sel in _chunks_by_size(ev, chunk):
        ta[sel], tb[sel] = _chunk_ab(ev, sel, weights, grid, w)
    return ta, tb


def _chunks_by_size(ev: GlauberEvents, chunk: int):
    """Event-index chunks of similar participant number (less zero padding in the batched
    matrix products); every event appears once."""
    chunk = check_positive_int(chunk, "chunk")
    order = np.argsort(ev.npart, kind="stable")
    return [order[s:s + chunk] for s in range(0, ev.n_events, chunk)]


def _chunk_ab(ev: GlauberEvents, sel: np.ndarray, weights, grid, w):
    """(T_A, T_B) of the events ``sel`` (indices), each (len(sel), n, n)."""
    flat = ev.flat_index(sel)
    ev_local = np.repeat(np.arange(sel.size), ev.npart[sel])
    nuc = ev.nucleus[flat]
    x, y, wt = ev.x[flat], ev.y[flat], weights[flat]
    out = []
    for side in (0, 1):
        m = nuc == side
        out.append(_thickness_chunk(ev_local[m], x[m], y[m], wt[m], sel.size, grid, w))
    return out


def reduced_thickness(ta, tb, p: float = 0.0) -> np.ndarray:
    """Generalised mean ((T_A^p + T_B^p)/2)^{1/p}; p = 0 → √(T_A T_B); p < 0 → 0 where either is 0."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise InputError(f"p must be a finite number, got {p!r}") from None
    if not math.isfinite(p):
        raise InputError(f"p must be a finite number, got {p!r}")
    ta = np.asarray(ta, dtype=float)
    tb = np.asarray(tb, dtype=float)
    if p == 0.0:
        return np.sqrt(ta * tb)
    if p == 1.0:
        return 0.5 * (ta + tb)
    if p > 0:
        return (0.5 * (ta ** p + tb ** p)) ** (1.0 / p)
    pos = (ta > 0) & (tb > 0)
    out = np.zeros(np.broadcast_shapes(ta.shape, tb.shape))
    with np.errstate(over="ignore", divide="ignore"):
        tap, tbp = np.broadcast_to(ta, out.shape)[pos], np.broadcast_to(tb, out.shape)[pos]
        out[pos] = (0.5 * (tap ** p + tbp ** p)) ** (1.0 / p)
    return out


def trento_profiles(glauber_events: GlauberEvents, grid: Grid | None = None, p: float = 0.0,
                    k: float = 1.6, w: float = 0.5, norm: float = 1.0, rng=None, *,
                    chunk: int = 64) -> np.ndarray:
    """Entropy-density profiles s = norm · T_R(T_A, T_B; p), shape (n_events, n, n).

    Parameters follow TRENTo: ``p`` the reduced-thickness exponent, ``k`` the gamma shape
    of the nucleon weights (variance 1/k), ``w`` the Gaussian nucleon width in fm and
    ``norm`` the overall normalisation. ``grid`` defaults to :meth:`Grid.for_nuclei`.
    """
    grid, k, w = _check_common(glauber_events, grid, k, w)
    norm = check_positive_float(norm, "norm")
    reduced_thickness(0.0, 0.0, p)  # validates p
    ev = glauber_events
    rng = as_rng(rng)
    weights = rng.gamma(k, 1.0 / k, ev.x.size)
    out = np.empty((ev.n_events, grid.n, grid.n))
    for sel in _chunks_by_size(ev, chunk):
        ta, tb = _chunk_ab(ev, sel, weights, grid, w)
        tr = reduced_thickness(ta, tb, p)
        if norm != 1.0:
            tr *= norm
        out[sel] = tr
    return out


def total_entropy(profiles, grid: Grid) -> np.ndarray:
    """∫ s d²x per event (Σ over cells × dx²); profiles (n_events, n, n) or (n, n)."""
    prof = np.asarray(profiles, dtype=float)
    if prof.ndim not in (2, 3) or prof.shape[-2:] != (grid.n, grid.n):
        raise InputError(f"profiles must have shape (n_events, {grid.n}, {grid.n}) or "
                         f"({grid.n}, {grid.n}) for this grid, got {prof.shape}")
    return prof.sum(axis=(-2, -1)) * grid.cell_area
