"""The charged-hadron spectrum dN/(dy pT dpT dφ) on a (pT, φ) grid, per event.

Sun, Yan, Gale & Jeon (PRC 112 (2025) L051903) represent an event's final state by this
2D image in |y| < 0.5, 0 < pT < 2 GeV. Bin (a, b) holds

    dN/(dy pT dpT dφ) ≈ N_ab / (Δy · ½(pT,a+1² − pT,a²) · Δφ_b),

the count divided by the exact measure ∫ pT dpT dφ dy of the bin, so a spectrum that is
flat in (pT², φ) is flat in the image. With ``oversample`` = K independent particlizations of
the same fluid, the counts are summed over the K samples and divided by K: the image then
estimates the expected (Cooper–Frye) spectrum of that event with K times less Poisson noise.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.errors import InputError

__all__ = ["PT_EDGES", "PHI_EDGES", "Y_MAX", "charged_spectra", "spectrum_measure"]

#: default grid: 16 pT bins on [0, 2] GeV, 32 φ bins on [−π, π), |y| < 0.5
PT_EDGES = np.linspace(0.0, 2.0, 17)
PHI_EDGES = np.linspace(-math.pi, math.pi, 33)
Y_MAX = 0.5


def spectrum_measure(pt_edges=PT_EDGES, phi_edges=PHI_EDGES, y_max: float = Y_MAX) -> np.ndarray:
    """∫ dy pT dpT dφ over each (pT, φ) bin: [n_pt, n_phi]."""
    pt, phi = np.asarray(pt_edges, float), np.asarray(phi_edges, float)
    if pt.ndim != 1 or phi.ndim != 1 or len(pt) < 2 or len(phi) < 2 or (np.diff(pt) <= 0).any() \
            or (np.diff(phi) <= 0).any() or pt[0] < 0:
        raise InputError("spectrum grid edges must be increasing 1D arrays (pT >= 0)")
    return 2.0 * y_max * np.outer(0.5 * np.diff(pt ** 2), np.diff(phi))


def charged_spectra(charge, px, py, pz, E, owner, n_events: int, *, oversample: int = 1,
                    pt_edges=PT_EDGES, phi_edges=PHI_EDGES, y_max: float = Y_MAX) -> np.ndarray:
    """Per-event dN/(dy pT dpT dφ) (GeV⁻²) of charged particles with |y| < ``y_max``:
    [n_events, n_pt, n_phi], from flat particle columns and each particle's event index ``owner``
    (particles of ``oversample`` samples of the same event share its index)."""
    if int(oversample) < 1:
        raise InputError(f"oversample must be >= 1, got {oversample}")
    charge, px, py, pz, E = (np.asarray(a, float) for a in (charge, px, py, pz, E))
    owner = np.asarray(owner, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 0.5 * np.log((E + pz) / (E - pz))
    pt, phi = np.hypot(px, py), np.arctan2(py, px)
    keep = (charge != 0) & (np.abs(y) < y_max) & np.isfinite(y)
    pt_edges, phi_edges = np.asarray(pt_edges, float), np.asarray(phi_edges, float)
    measure = spectrum_measure(pt_edges, phi_edges, y_max)
    ia = np.searchsorted(pt_edges, pt[keep], side="right") - 1
    ib = np.searchsorted(phi_edges, phi[keep], side="right") - 1
    inside = (ia >= 0) & (ia < len(pt_edges) - 1) & (ib >= 0) & (ib < len(phi_edges) - 1)
    n_pt, n_phi = measure.shape
    flat = (owner[keep][inside] * n_pt + ia[inside]) * n_phi + ib[inside]
    counts = np.bincount(flat, minlength=n_events * n_pt * n_phi).reshape(n_events, n_pt, n_phi)
    return (counts / (measure[None] * int(oversample))).astype(np.float32)
