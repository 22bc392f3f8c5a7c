"""Transverse-momentum fluctuations, the v_n²–[pT] correlation ρ_n, net charge and net baryon number.

pT correlators (self-correlations removed, unit particle weights). Per event, with
power sums S_k = Σ_i p_i^k over its M particles and a_i = p_i − ⟨⟨pT⟩⟩:

    Σ_{i≠j} a_i a_j        = D2 − 2P(M−1)S1 + P² M(M−1),                 D2 = S1² − S2
    Σ_{i≠j≠k} a_i a_j a_k  = T3 − 3P(M−2)D2 + 3P²(M−1)(M−2)S1 − P³ M(M−1)(M−2),
                                                                       T3 = S1³ − 3S1S2 + 2S3

with P = ⟨⟨pT⟩⟩ = Σ_ev S1 / Σ_ev M (the mean pT of all particles of the sample). Then
⟨δpT δpT⟩ = Σ_ev(pair sum)/Σ_ev M(M−1) and ⟨δpT δpT δpT⟩ = Σ_ev(triple sum)/Σ_ev M(M−1)(M−2):
both are functions of means of per-event columns, so P is resampled along with them and the
errors include its fluctuation. If every event's particles are drawn independently from a
distribution with mean T_ev, these estimate the variance and third central moment of T_ev.

ρ_n (P. Bożek, Phys. Rev. C 93 (2016) 044908), estimator with self-correlations removed as in
ATLAS (Eur. Phys. J. C 79 (2019) 985) and ALICE:

    cov(v_n², [pT]) = Σ_ev Σ_{i≠j≠k} cos(n(φ_i − φ_j)) (p_k − P) / Σ_ev M(M−1)(M−2)
    ρ_n = cov(v_n², [pT]) / sqrt(var(v_n²) · ⟨δpT δpT⟩),   var(v_n²) = ⟨⟨4⟩⟩ − ⟨⟨2⟩⟩²

with the three-particle sum from Q_n = Σ e^{inφ}, Qp_n = Σ p e^{inφ}:
Σ_{i≠j≠k} e^{in(φ_i−φ_j)} p_k = (|Q_n|² − M)S1 − 2 Re(Qp_n Q_n*) + 2 S1, and
Σ_{i≠j≠k} e^{in(φ_i−φ_j)} = (M−2)(|Q_n|² − M). All particles come from one acceptance (no
η gap), so short-range non-flow correlations are not suppressed. A negative var(v_n²) or
⟨δpT δpT⟩ gives ρ_n = NaN with a flag.

Net charge Σ q and net baryon number Σ B (B from the PDG code via
:func:`qcdgen.hic.species.baryon_number`) per event at |η| < 0.5, averaged over events.
"""

from __future__ import annotations

import warnings

import numpy as np

from qcdgen.hic.observables._resample import ObservableWarning, Resampler
from qcdgen.hic.observables.flow import QVectors, UnphysicalCumulantWarning, check_harmonic
from qcdgen.hic.observables.spectra import FlatParticles, as_flat_particles, check_abs_cut, select
from qcdgen.hic.species import baryon_number
from qcdgen.stats import Estimate

__all__ = ["pt_columns", "pt_correlators_from_columns", "pt_fluctuations", "rho_columns",
           "rho_from_columns", "rho_n", "net_columns", "net_charge", "net_baryon", "PT_COLUMNS"]

#: names of the per-event columns of :func:`pt_columns`, in order
PT_COLUMNS = ("M", "S1", "D2", "M1S1", "MM1", "T3", "M2D2", "M1M2S1", "MM1M2")


def pt_columns(flat: FlatParticles) -> dict[str, np.ndarray]:
    """Per-event columns for ⟨⟨pT⟩⟩, ⟨δpT δpT⟩, ⟨δpT δpT δpT⟩ of the (already selected) particles."""
    m = flat.count()
    s1 = flat.sum(flat.pt)
    s2 = flat.sum(flat.pt ** 2)
    s3 = flat.sum(flat.pt ** 3)
    d2 = s1 ** 2 - s2
    return {"M": m, "S1": s1, "D2": d2, "M1S1": (m - 1) * s1, "MM1": m * (m - 1),
            "T3": s1 ** 3 - 3 * s1 * s2 + 2 * s3, "M2D2": (m - 2) * d2,
            "M1M2S1": np.where(m >= 2, (m - 1) * (m - 2) * s1, 0.0),
            "MM1M2": m * (m - 1) * (m - 2)}


def _pt_func(m):
    """(⟨⟨pT⟩⟩, ⟨δpTδpT⟩, ⟨δpTδpTδpT⟩) from means of the :data:`PT_COLUMNS` (columns 0..8)."""
    M, S1, D2, M1S1, MM1, T3, M2D2, M1M2S1, MM1M2 = (m[..., i] for i in range(9))
    p = S1 / M
    c2 = (D2 - 2 * p * M1S1 + p ** 2 * MM1) / MM1
    c3 = (T3 - 3 * p * M2D2 + 3 * p ** 2 * M1M2S1 - p ** 3 * MM1M2) / MM1M2
    return np.stack([p, c2, c3], axis=-1)


def pt_correlators_from_columns(cols: dict[str, np.ndarray], rs: Resampler) -> tuple[dict[str, Estimate], list[str]]:
    """{"mean_pt_all": ⟨⟨pT⟩⟩, "dpt_dpt": ⟨δpTδpT⟩, "dpt3": ⟨δpTδpTδpT⟩} and flags."""
    mat = np.stack([cols[k] for k in PT_COLUMNS], axis=1)
    names = ["mean_pt_all", "dpt_dpt", "dpt3"]
    est, flags = rs.estimate(mat, _pt_func, names)
    return dict(zip(names, est)), flags


def pt_fluctuations(events, *, eta_max: float | None = 0.8, pt_range=(0.2, 5.0), charged: bool = True,
                    errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0
                    ) -> dict[str, Estimate]:
    """⟨⟨pT⟩⟩ (``mean_pt_all``), ⟨δpT δpT⟩ (``dpt_dpt``) and ⟨δpT δpT δpT⟩ (``dpt3``)
    of the selected particles (charged, |η| < eta_max, pT in pt_range by default)."""
    flat = as_flat_particles(events)
    sel = flat.subset(select(flat, eta_max=eta_max, pt_range=pt_range, charged=charged))
    out, flags = pt_correlators_from_columns(pt_columns(sel), Resampler(flat.n_events, errors, n_groups, n_boot, seed))
    if flags:
        warnings.warn("; ".join(flags), ObservableWarning, stacklevel=2)
    return out


def rho_columns(flat: FlatParticles, n: int, qv: QVectors | None = None) -> dict[str, np.ndarray]:
    """Per-event columns for ρ_n of the (already selected) particles: N2, W2, N4, W4 (flow),
    X (Σ_{i≠j≠k} cos(n(φi−φj)) p_k), Y (Σ_{i≠j≠k} cos(n(φi−φj))) and the :func:`pt_columns`."""
    n = check_harmonic(n)
    qv = QVectors(flat.phi, flat.event, flat.n_events) if qv is None else qv
    cols = {}
    for k in (2, 4):
        cols[f"N{k}"], cols[f"W{k}"] = qv.correlator(n, k)
    cols.update(pt_columns(flat))
    m, s1 = cols["M"], cols["S1"]
    q = qv.q(n)
    zp = qv.phase(n) * flat.pt
    qp = np.bincount(flat.event, zp.real, flat.n_events) + 1j * np.bincount(flat.event, zp.imag, flat.n_events)
    q2 = np.abs(q) ** 2 - m
    few = m < 3
    cols["X"] = np.where(few, 0.0, q2 * s1 - 2 * (qp * np.conj(q)).real + 2 * s1)
    cols["Y"] = np.where(few, 0.0, (m - 2) * q2)
    return cols


RHO_COLUMNS = ("N2", "W2", "N4", "W4", "X", "Y") + PT_COLUMNS


def _rho_func(m):
    c2, c4 = m[..., 0] / m[..., 1], m[..., 2] / m[..., 3]
    var_v2 = c4 - c2 ** 2
    pt = _pt_func(m[..., 6:])
    p, dpt2 = pt[..., 0], pt[..., 1]
    mm1m2 = m[..., 6 + PT_COLUMNS.index("MM1M2")]
    cov = (m[..., 4] - p * m[..., 5]) / mm1m2
    with np.errstate(invalid="ignore"):
        rho = np.where((var_v2 > 0) & (dpt2 > 0), cov / np.sqrt(np.abs(var_v2 * dpt2)), np.nan)
    return np.stack([rho, cov, var_v2], axis=-1)


def rho_from_columns(cols: dict[str, np.ndarray], n: int, rs: Resampler) -> tuple[dict[str, Estimate], list[str]]:
    """{"rho{n}": ρ_n, "cov(v{n}^2,pt)": covariance, "var(v{n}^2)": ⟨⟨4⟩⟩ − ⟨⟨2⟩⟩²} and flags."""
    mat = np.stack([cols[k] for k in RHO_COLUMNS], axis=1)
    names = [f"rho{n}", f"cov(v{n}^2,pt)", f"var(v{n}^2)"]
    est, flags = rs.estimate(mat, _rho_func, names)
    out = dict(zip(names, est))
    if not np.isfinite(out[f"rho{n}"].value) and np.isfinite(out[f"var(v{n}^2)"].value):
        flags = [f for f in flags if not f.startswith(f"rho{n}: value")]
        flags.append(f"rho{n}: var(v{n}^2) = {out[f'var(v{n}^2)'].value:.3g} or <dpt dpt> is not positive, "
                     f"rho{n} is NaN")
    return out, flags


def rho_n(events, n: int = 2, *, eta_max: float | None = 0.8, pt_range=(0.2, 5.0), charged: bool = True,
          errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0) -> Estimate:
    """ρ(v_n², [pT]) of the selected particles with an event-resampling error (NaN + warning if undefined)."""
    flat = as_flat_particles(events)
    sel = flat.subset(select(flat, eta_max=eta_max, pt_range=pt_range, charged=charged))
    out, flags = rho_from_columns(rho_columns(sel, n), n, Resampler(flat.n_events, errors, n_groups, n_boot, seed))
    if flags:
        warnings.warn("; ".join(flags), UnphysicalCumulantWarning, stacklevel=2)
    return out[f"rho{n}"]


def net_columns(flat: FlatParticles, eta_max: float = 0.5) -> dict[str, np.ndarray]:
    """Per-event net charge and net baryon number of the particles at |η| < eta_max."""
    mask = select(flat, eta_max=eta_max)
    ev = flat.event[mask]
    return {"net_charge": np.bincount(ev, flat.charge[mask].astype(np.float64), flat.n_events),
            "net_baryon": np.bincount(ev, baryon_number(flat.pdg[mask]).astype(np.float64), flat.n_events)}


def _net(events, which: str, eta_max, errors, n_groups, n_boot, seed) -> Estimate:
    flat = as_flat_particles(events)
    eta_max = check_abs_cut(eta_max, "eta_max")
    col = net_columns(flat, eta_max)[which]
    (est,), _ = Resampler(flat.n_events, errors, n_groups, n_boot, seed).estimate(col, None, [which])
    return est


def net_charge(events, *, eta_max: float = 0.5, errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200,
               seed: int = 0) -> Estimate:
    """Mean net electric charge per event at |η| < eta_max."""
    return _net(events, "net_charge", eta_max, errors, n_groups, n_boot, seed)


def net_baryon(events, *, eta_max: float = 0.5, errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200,
               seed: int = 0) -> Estimate:
    """Mean net baryon number per event at |η| < eta_max."""
    return _net(events, "net_baryon", eta_max, errors, n_groups, n_boot, seed)
