"""Eccentricities, participant-plane angles and rms radius of transverse profiles.

Convention (Teaney–Yan, TRENTo): after shifting to the profile's centre of mass,

    ε_n e^{i n Φ_n} = − ∫ r^n e^{i n φ} s(x, y) d²x / ∫ r^n s(x, y) d²x,

with radial weight r^n for n ≥ 2 and r³ for n = 1 (the dipole asymmetry). ε_n ∈ [0, 1] and
the participant-plane angle Φ_n ∈ [−π/n, π/n). With the minus sign Φ_2 points along the
short axis of an elliptic profile (the direction of largest pressure gradient), e.g. along the
impact parameter (x) for the almond of a mid-central collision.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.initial.trento import Grid

__all__ = ["eccentricities", "r_rms", "eccentricities_points", "participant_plane", "check_harmonics"]


def check_harmonics(harmonics) -> tuple[int, ...]:
    """Validated harmonics: a sequence of integers n >= 1."""
    try:
        h = tuple(int(n) for n in harmonics)
    except (TypeError, ValueError):
        raise InputError(f"harmonics must be a sequence of integers >= 1, got {harmonics!r}") from None
    if not h or any(n < 1 for n in h) or any(float(a) != b for a, b in zip(harmonics, h)):
        raise InputError(f"harmonics must be a non-empty sequence of integers >= 1, got {harmonics!r}")
    return h


def _as_profiles(profiles, grid: Grid):
    if not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid, got {grid!r}")
    prof = np.asarray(profiles, dtype=float)
    if prof.ndim not in (2, 3) or prof.shape[-2:] != (grid.n, grid.n):
        raise InputError(f"profiles must have shape (n_events, {grid.n}, {grid.n}) or "
                         f"({grid.n}, {grid.n}) for this grid, got {prof.shape}")
    return prof, prof.ndim == 2


def participant_plane(num: np.ndarray, n: int) -> np.ndarray:
    """Φ_n ∈ [−π/n, π/n) from the complex moment ``num`` = ∫ r^n e^{inφ} s (before the minus)."""
    ang = np.angle(-num)  # (−π, π]
    ang = np.where(ang >= math.pi, ang - 2.0 * math.pi, ang)
    return ang / n


def _poly_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of two polynomials in (x, y) given as coefficient arrays c[k, l] of x^k y^l."""
    out = np.zeros((a.shape[0] + b.shape[0] - 1, a.shape[1] + b.shape[1] - 1), dtype=complex)
    for k, l in zip(*np.nonzero(a)):
        out[k:k + b.shape[0], l:l + b.shape[1]] += a[k, l] * b
    return out


def _poly_pow(a: np.ndarray, n: int) -> np.ndarray:
    out = np.ones((1, 1), dtype=complex)
    for _ in range(n):
        out = _poly_mul(out, a)
    return out


_Z = np.array([[0, 1j], [1, 0]], dtype=complex)                    # x + i y
_R2 = np.array([[0, 0, 1], [0, 0, 0], [1, 0, 0]], dtype=complex)   # x² + y²


def _harmonic_polys(h):
    """Per harmonic: (numerator polynomial z^n r^{rad−n}, radial power rad)."""
    out = []
    for n in h:
        rad = 3 if n == 1 else n
        out.append((_poly_mul(_poly_pow(_Z, n), _poly_pow(_R2, (rad - n) // 2)), rad))
    return out


def eccentricities(profiles, grid: Grid, harmonics=(2, 3, 4, 5), *, chunk: int = 256):
    """(ε, Φ) of grid profiles: arrays (n_events, len(harmonics)) (or (len(harmonics),) for a
    single 2-D profile). Events with zero total weight give NaN.

    The complex moments are polynomials in the centred coordinates; all Σ_ij s_ij x_i^k y_j^l
    come at once from the matrix product Xᵀ S Y. Odd radial powers of the denominators
    (r³, r⁵) are summed directly.
    """
    prof, single = _as_profiles(profiles, grid)
    h = check_harmonics(harmonics)
    if single:
        prof = prof[None]
    n_ev = prof.shape[0]
    eps = np.full((n_ev, len(h)), np.nan)
    psi = np.full((n_ev, len(h)), np.nan)
    polys = _harmonic_polys(h)
    top = max(rad for _, rad in polys)
    powers = np.arange(top + 1)
    odd = sorted({rad for _, rad in polys if rad % 2})
    c = grid.centers
    for s in range(0, n_ev, chunk):
        p = prof[s:s + chunk]
        tot = p.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            xc = np.einsum("eij,i->e", p, c) / tot
            yc = np.einsum("eij,j->e", p, c) / tot
        ok = np.isfinite(xc) & np.isfinite(yc) & (tot > 0)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok) + s
        p = np.ascontiguousarray(p[ok])
        dx = c[None, :] - xc[ok, None]                      # (e, n)
        dy = c[None, :] - yc[ok, None]
        xt = dx[:, None, :] ** powers[None, :, None]       # (e, K+1, n)
        yp = dy[:, :, None] ** powers[None, None, :]       # (e, n, K+1)
        # (e, K+1, K+1): Σ s x^k y^l (einsum: small products, no multi-threaded BLAS)
        mom = np.einsum("eki,eil->ekl", xt, np.einsum("eij,ejl->eil", p, yp))
        odd_den = {}
        if odd:
            r2 = dx[:, :, None] ** 2 + dy[:, None, :] ** 2
            r = np.sqrt(r2)
            for rad in odd:
                odd_den[rad] = np.einsum("eij,eij->e", p, r * r2 ** ((rad - 1) // 2))
        for col, (poly, rad) in enumerate(polys):
            kk, ll = np.nonzero(poly)
            num = mom[:, kk, ll] @ poly[kk, ll]
            if rad % 2:
                den = odd_den[rad]
            else:
                rp = _poly_pow(_R2, rad // 2)
                k2, l2 = np.nonzero(rp)
                den = mom[:, k2, l2] @ rp[k2, l2].real
            with np.errstate(invalid="ignore", divide="ignore"):
                eps[idx, col] = np.abs(num) / den
            psi[idx, col] = participant_plane(num, h[col])
    if single:
        return eps[0], psi[0]
    return eps, psi


def r_rms(profiles, grid: Grid) -> np.ndarray:
    """√⟨r²⟩ of each profile about its own centre of mass, fm."""
    prof, single = _as_profiles(profiles, grid)
    if single:
        prof = prof[None]
    c = grid.centers
    tot = prof.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.einsum("eij,i->e", prof, c) / tot
        my = np.einsum("eij,j->e", prof, c) / tot
        mx2 = np.einsum("eij,i->e", prof, c * c) / tot
        my2 = np.einsum("eij,j->e", prof, c * c) / tot
        out = np.sqrt(np.maximum(mx2 - mx * mx + my2 - my * my, 0.0))
    return out[0] if single else out


def eccentricities_points(x, y, counts=None, weights=None, harmonics=(2, 3, 4, 5)):
    """(ε, Φ) of weighted point sets (e.g. participant positions), each (n_events, len(h)).

    ``x``, ``y`` are flat arrays of all points, ``counts`` the number of points per event
    (None: a single event, results of shape (len(h),)), ``weights`` optional per-point
    weights (default 1). Same convention as :func:`eccentricities`.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise InputError(f"x and y must be 1-D arrays of equal length, got shapes {x.shape}, {y.shape}")
    h = check_harmonics(harmonics)
    single = counts is None
    counts = np.array([x.size]) if single else np.asarray(counts)
    if counts.ndim != 1 or counts.sum() != x.size or np.any(counts < 0):
        raise InputError(f"counts must be non-negative and sum to len(x) = {x.size}, "
                         f"got sum {int(np.sum(counts))}")
    wts = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if wts.shape != x.shape:
        raise InputError(f"weights must have the shape of x {x.shape}, got {wts.shape}")
    n_ev = counts.size
    ev = np.repeat(np.arange(n_ev), counts)
    tot = np.bincount(ev, wts, minlength=n_ev)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.bincount(ev, wts * x, minlength=n_ev) / tot
        yc = np.bincount(ev, wts * y, minlength=n_ev) / tot
    z = (x - xc[ev]) + 1j * (y - yc[ev])
    r = np.abs(z)
    eps = np.full((n_ev, len(h)), np.nan)
    psi = np.full((n_ev, len(h)), np.nan)
    for col, n in enumerate(h):
        rad = 3 if n == 1 else n
        ang = z ** n * r ** (rad - n)
        num = np.bincount(ev, (wts * ang).real, minlength=n_ev) + \
            1j * np.bincount(ev, (wts * ang).imag, minlength=n_ev)
        den = np.bincount(ev, wts * r ** rad, minlength=n_ev)
        with np.errstate(invalid="ignore", divide="ignore"):
            eps[:, col] = np.abs(num) / den
        psi[:, col] = participant_plane(num, n)
    bad = ~(tot > 0)
    eps[bad] = np.nan
    psi[bad] = np.nan
    if single:
        return eps[0], psi[0]
    return eps, psi
