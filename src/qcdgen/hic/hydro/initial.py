"""Initial conditions for :func:`qcdgen.hic.hydro.evolve`: TRENTo entropy → e(τ0), and η/s(T).

Bjorken start (no pre-equilibrium; free streaming is not implemented): the TRENTo reduced
thickness T_R (fm⁻², :func:`qcdgen.hic.initial.trento.trento_profiles`) fixes the entropy per
unit space-time rapidity, dS/dη_s d²x = ``norm`` · T_R, so at τ0

    s(τ0, x, y) = norm · T_R(x, y) / τ0,   e = e(s) through the EoS,   u^x = u^y = π^{μν} = 0.

(η/s)(T) with a kink (JETSCAPE, PRC 103 (2021) 054904, eq. (19); Bernhard et al., Nature Phys.
15 (2019) 1113):

    (η/s)(T) = (η/s)_kink + a_low (T − T_kink)   for T < T_kink,
               (η/s)_kink + a_high (T − T_kink)  for T ≥ T_kink,   floored at ``floor``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.hydro.eos import get_eos

__all__ = ["EtaOverS", "initial_energy_density", "entropy_to_energy"]


@dataclass(frozen=True)
class EtaOverS:
    """Temperature-dependent η/s with a kink at ``T_kink`` (GeV); slopes in GeV⁻¹."""

    kink: float = 0.08
    T_kink: float = 0.22
    slope_low: float = 0.0
    slope_high: float = 1.0
    floor: float = 1e-3

    def __post_init__(self):
        vals = (self.kink, self.T_kink, self.slope_low, self.slope_high, self.floor)
        if not all(np.isfinite(vals)):
            raise InputError(f"EtaOverS parameters must be finite, got {vals}")
        if self.kink < 0 or self.T_kink <= 0 or self.floor <= 0:
            raise InputError(f"EtaOverS needs kink >= 0, T_kink > 0, floor > 0, got {self.kink}, "
                             f"{self.T_kink}, {self.floor}")

    def __call__(self, T):
        """η/s at temperature T (GeV): float, NumPy array or torch tensor."""
        d = T - self.T_kink
        if type(T).__module__.startswith("torch"):
            import torch
            v = self.kink + torch.where(d < 0, self.slope_low * d, self.slope_high * d)
            return torch.clamp(v, min=self.floor)
        d = np.asarray(d, float)
        return np.maximum(self.kink + np.where(d < 0, self.slope_low * d, self.slope_high * d), self.floor)

    def minimum(self, T_max: float) -> float:
        """min over 0 < T ≤ T_max (piecewise linear: at an end or the kink)."""
        pts = [t for t in (1e-6, self.T_kink, T_max) if t <= T_max]
        return float(min(self(t) for t in pts))

    # "is there any viscosity" comparisons, so code written for a constant η/s keeps working
    def __gt__(self, other):
        return True if other <= self.floor else self.kink > other or self.slope_high > 0

    def __float__(self):
        return float(self.kink)


def entropy_to_energy(s, eos="conformal"):
    """e (GeV/fm³) at entropy density s (fm⁻³) for the EoS (array in, array out)."""
    eos = get_eos(eos)
    s = np.asarray(s, float)
    if not np.all(np.isfinite(s)) or (s < 0).any():
        raise InputError("entropy density must be finite and >= 0 everywhere")
    if hasattr(eos, "a"):                          # conformal: e = a T⁴, s = (4/3) a T³ (a in GeV⁻³ fm⁻³)
        T = np.cbrt(0.75 * s / eos.a)              # GeV
        return eos.a * T ** 4
    T = getattr(eos, "_T")
    e_tab = getattr(eos, "_e")
    s_tab = (e_tab + eos.pressure(e_tab)) / T
    ls = np.log(np.maximum(s, 1e-300))
    out = np.exp(np.interp(ls, np.log(s_tab), np.log(e_tab)))
    low = ls < np.log(s_tab[0])                   # below the table: e ∝ s^{4/3}
    out[low] = e_tab[0] * np.exp((ls[low] - np.log(s_tab[0])) * 4.0 / 3.0)
    return np.where(s > 0, out, 0.0)


def initial_energy_density(profiles, *, norm: float, tau0: float, eos="conformal"):
    """e(τ0) in GeV/fm³ from TRENTo T_R profiles [..., nx, ny] (fm⁻²), Bjorken start.

    ``norm``: dS/dη_s d²x = norm · T_R (dimensionless normalisation); ``tau0`` in fm.
    """
    for name, v in (("norm", norm), ("tau0", tau0)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise InputError(f"{name} must be a positive number, got {v!r}")
    prof = np.asarray(profiles, float)
    if prof.ndim < 2:
        raise InputError(f"profiles must have shape [..., nx, ny], got {prof.shape}")
    return entropy_to_energy(norm * prof / tau0, eos)
