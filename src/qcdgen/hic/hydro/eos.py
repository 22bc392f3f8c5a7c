"""Equations of state for the hydro solver: p(e), T(e), c_s²(e) with e in GeV/fm³.

``"conformal"``: an ideal massless gas of gluons and three quark flavours,

    e = 3p = g π²/30 · T⁴ / (ħc)³,   g = 16 + 7/8 · 36 = 47.5,

so T(e) = (30 (ħc)³ e / (π² g))^{1/4} (GeV) and c_s² = 1/3.

``"first-order"`` (:class:`FirstOrderEOS`): bag model with a Maxwell-constructed mixed phase.

``"lattice"`` (:class:`LatticeEOS`): HotQCD (2+1)-flavour parametrisation of p/T⁴ (Bazavov et
al., PRD 90 (2014) 094503, eq. (16)) above ``T_hi``, the ideal hadron resonance gas of the
sampler's species (:data:`qcdgen.hic.generators.hadron_gas.HRG_SPECIES` + antiparticles, PDG
masses from ``particle``, zero widths, quantum statistics) below ``T_lo``, so that a switching
surface at T_sw ≤ T_lo conserves energy exactly. In between the trace anomalies are joined,
I = (1 − w) I_HRG + w I_lat with the C¹ step w = 3x² − 2x³, and then (thermodynamic
consistency, d(p/T⁴)/dT = I/T⁵)

    p(T)/T⁴ = p_HRG(T_min)/T_min⁴ + ∫_{T_min}^{T} I(T′)/T′⁵ dT′,   e = I + 3p,   s = (e + p)/T,

tabulated on a uniform grid in ln e (torch-friendly linear interpolation of p/e and T/e^{1/4}).
HRG: p_i = g_i/(2π²) Σ_k (∓1)^{k+1} m_i²T²/k² K₂(k m_i/T), I_i = g_i/(2π²) Σ_k (∓1)^{k+1} m_i³T/k K₁(k m_i/T).
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.errors import InputError

__all__ = ["HBARC", "QGP_DEGENERACY", "ConformalEOS", "LatticeEOS", "TableEOS", "FirstOrderEOS", "get_eos",
           "EOS_NAMES", "hotqcd_pressure_over_T4", "hrg_pressure_trace"]

HBARC = 0.1973269804           # GeV fm
QGP_DEGENERACY = 47.5          # gluons 2·8 + 7/8 · (quarks+antiquarks 2·2·3·3 = 36)
EOS_NAMES = ("conformal", "lattice", "first-order")


class ConformalEOS:
    """e = 3p; T in GeV from e in GeV/fm³ for a gas of ``g`` massless degrees of freedom."""

    name = "conformal"
    cs2 = 1.0 / 3.0

    def __init__(self, g: float = QGP_DEGENERACY):
        self.g = float(g)
        # e [GeV/fm³] = a · T⁴ [GeV⁴],  a = g π²/30 / (ħc)³
        self.a = self.g * math.pi ** 2 / 30.0 / HBARC ** 3

    def pressure(self, e):
        return e / 3.0

    def temperature(self, e):
        """T(e) in GeV (works on floats, numpy arrays and torch tensors; e ≥ 0)."""
        return (e / self.a) ** 0.25

    def energy_density(self, T):
        """e(T) in GeV/fm³ for T in GeV."""
        return self.a * T ** 4

    def sound_speed2(self, e):
        return e * 0 + self.cs2

    def entropy_density(self, e):
        """s = (e + p)/T in fm⁻³."""
        T = self.temperature(e)
        return (e + self.pressure(e)) / T


# HotQCD 2014, eq. (16): p/T⁴ = ½[1 + tanh(ct (t − t0))] (pid + an/t + bn/t² + cn/t³ + dn/t⁴)
#                                                      / (1 + ad/t + bd/t² + cd/t³ + dd/t⁴),
# t = T/Tc, Tc = 154 MeV, pid = 95π²/180 (Stefan–Boltzmann value for 2+1 flavours).
_HOTQCD = dict(Tc=0.154, ct=3.8706, t0=0.9761, an=-8.7704, bn=3.9200, cn=0.0, dn=0.3419,
               ad=-1.2600, bd=0.8425, cd=0.0, dd=-0.0475)


def hotqcd_pressure_over_T4(T):
    """HotQCD 2014 parametrisation of p/T⁴ (dimensionless) at temperature T in GeV."""
    c = _HOTQCD
    t = T / c["Tc"]
    pid = 95.0 * math.pi ** 2 / 180.0
    num = pid + c["an"] / t + c["bn"] / t ** 2 + c["cn"] / t ** 3 + c["dn"] / t ** 4
    den = 1.0 + c["ad"] / t + c["bd"] / t ** 2 + c["cd"] / t ** 3 + c["dd"] / t ** 4
    return 0.5 * (1.0 + np.tanh(c["ct"] * (t - c["t0"]))) * num / den



def _hotqcd_trace_over_T4(T):
    """I/T⁴ = T d(p/T⁴)/dT of the HotQCD parametrisation (central difference in ln T)."""
    h = 1e-5
    return (hotqcd_pressure_over_T4(T * (1 + h)) - hotqcd_pressure_over_T4(T * (1 - h))) / (2 * h)


def hrg_pressure_trace(T, *, terms: int = 12):
    """(p, I = e − 3p) of the sampler's hadron resonance gas in GeV/fm³ at T (GeV, array)."""
    from scipy.special import kn

    from qcdgen.hic.generators.hadron_gas import HadronGas, pdg_properties
    T = np.atleast_1d(np.asarray(T, float))
    p, trace = np.zeros_like(T), np.zeros_like(T)
    k = np.arange(1, terms + 1)[:, None]
    for c in HadronGas().codes:
        m, _, g, baryon = pdg_properties(abs(int(c)))
        sign = (-1.0) ** (k + 1) if baryon != 0 else np.ones_like(k, dtype=float)
        x = k * m / T
        live = x < 60.0                              # e^{-60}: negligible terms skipped
        xs = np.where(live, x, 1.0)
        pref = np.where(live, g / (2 * math.pi ** 2) * sign, 0.0)
        p += (pref * m * m * T * T / k ** 2 * kn(2, xs)).sum(axis=0)
        trace += (pref * m ** 3 * T / k * kn(1, xs)).sum(axis=0)
    return p / HBARC ** 3, trace / HBARC ** 3


class TableEOS:
    """EoS tabulated on a uniform ln e grid; p(e), T(e) by linear interpolation of p/e, T/e^{1/4}.

    Works on floats, NumPy arrays and torch tensors. ``cs2`` (= 1/3) is the upper bound of the
    sound speed used for the KT signal speeds; :meth:`sound_speed2` gives c_s²(e).
    """

    cs2 = 1.0 / 3.0

    def __init__(self, name, T, e, p):
        self.name = name
        le = np.log(e)
        self.le0, self.le1 = float(le[0]), float(le[-1])
        n = 4001
        self.dle = (self.le1 - self.le0) / (n - 1)
        grid = self.le0 + self.dle * np.arange(n)
        self._T = T
        self._e = e
        self._p = p
        self.p_over_e = np.interp(grid, le, p / e)
        self.T_over_e4 = np.interp(grid, le, T / e ** 0.25)
        s = (e + p) / T
        with np.errstate(divide="ignore", invalid="ignore"):
            dedT = np.gradient(e, T)
            self.cs2_tab = np.interp(grid, le, np.nan_to_num(s / dedT, nan=0.0, posinf=0.0))
        self._torch = {}

    def _lookup(self, e, tab):
        if type(e).__module__.startswith("torch"):
            import torch
            key = (id(tab), e.device, e.dtype)
            if key not in self._torch:
                self._torch[key] = torch.as_tensor(tab, device=e.device, dtype=e.dtype)
            t = self._torch[key]
            x = (torch.log(torch.clamp(e, min=1e-300)) - self.le0) / self.dle
            x = torch.clamp(x, 0.0, len(tab) - 1.000001)
            i = x.floor()
            f = x - i
            i = i.long()
            return t[i] * (1 - f) + t[i + 1] * f
        x = (np.log(np.maximum(np.asarray(e, float), 1e-300)) - self.le0) / self.dle
        return np.interp(x, np.arange(len(tab)), tab)

    def pressure(self, e):
        return e * self._lookup(e, self.p_over_e)

    def temperature(self, e):
        """T(e) in GeV (below the table: T ∝ e^{1/4} continued from its lowest entry)."""
        return self._lookup(e, self.T_over_e4) * e ** 0.25

    def sound_speed2(self, e):
        return self._lookup(e, self.cs2_tab)

    def energy_density(self, T):
        """e(T) in GeV/fm³ (monotone interpolation of the table)."""
        return np.exp(np.interp(np.log(np.asarray(T, float)), np.log(self._T), np.log(self._e)))

    def entropy_density(self, e):
        return (e + self.pressure(e)) / self.temperature(e)


class LatticeEOS(TableEOS):
    """HotQCD 2014 lattice EoS joined to the sampler's hadron resonance gas (module docstring)."""

    def __init__(self, T_lo: float = 0.155, T_hi: float = 0.185, T_min: float = 0.02,
                 T_max: float = 2.0, n: int = 3000):
        if not (T_min < T_lo < T_hi < T_max):
            raise InputError(f"lattice EoS needs T_min < T_lo < T_hi < T_max, got {T_min}, {T_lo}, {T_hi}, {T_max}")
        self.T_lo, self.T_hi = float(T_lo), float(T_hi)
        T = np.exp(np.linspace(math.log(T_min), math.log(T_max), n))
        p_hrg, I_hrg = np.zeros_like(T), np.zeros_like(T)
        low = T <= T_hi
        p_hrg[low], I_hrg[low] = hrg_pressure_trace(T[low])
        I_lat = _hotqcd_trace_over_T4(T) * T ** 4 / HBARC ** 3
        x = np.clip((T - T_lo) / (T_hi - T_lo), 0.0, 1.0)
        w = x * x * (3 - 2 * x)
        trace = (1 - w) * I_hrg + w * I_lat
        f = trace / T ** 5                              # d(p/T⁴)/dT
        integral = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(T))])
        p = T ** 4 * (p_hrg[0] / T[0] ** 4 + integral)
        super().__init__("lattice", T, trace + 3 * p, p)


class FirstOrderEOS(TableEOS):
    """Bag-model EoS with a first-order transition at ``Tc`` (Maxwell construction; EOS-Q style).

    Hadron phase: massless gas, p = a_h T⁴/3; QGP: p = a_q T⁴/3 − B. Equal pressures at Tc
    fix B = (a_q − a_h) Tc⁴/3; the mixed phase e_H < e < e_Q = e_H + L has p = p_c, T = Tc and
    c_s² = 0, with latent heat L = 4B. a = g π²/30/(ħc)³ for ``g_h`` and ``g_q`` degrees of freedom.
    """

    def __init__(self, Tc: float = 0.17, g_h: float = 3.0, g_q: float = QGP_DEGENERACY,
                 e_min: float = 1e-8, e_max: float = 1e5, n: int = 4001):
        if not (0 < g_h < g_q and Tc > 0):
            raise InputError(f"first-order EoS needs 0 < g_h < g_q and Tc > 0, got {g_h}, {g_q}, {Tc}")
        ah, aq = (g * math.pi ** 2 / 30.0 / HBARC ** 3 for g in (g_h, g_q))
        self.Tc, self.B = float(Tc), (aq - ah) * Tc ** 4 / 3.0
        self.e_H, self.e_Q = ah * Tc ** 4, aq * Tc ** 4 + self.B
        self.latent_heat = self.e_Q - self.e_H
        e = np.exp(np.linspace(math.log(e_min), math.log(e_max), n))
        hadron, qgp = e < self.e_H, e > self.e_Q
        p = np.where(hadron, e / 3.0, np.where(qgp, (e - 4.0 * self.B) / 3.0, ah * Tc ** 4 / 3.0))
        T = np.where(hadron, (e / ah) ** 0.25, np.where(qgp, (np.maximum(e - self.B, 0) / aq) ** 0.25, Tc))
        super().__init__("first-order", T, e, p)      # the table serves entropy_to_energy only

    def _where(self, e, hadron, mixed, qgp):
        if type(e).__module__.startswith("torch"):
            import torch
            return torch.where(e < self.e_H, hadron, torch.where(e > self.e_Q, qgp, mixed))
        e = np.asarray(e, float)
        return np.where(e < self.e_H, hadron, np.where(e > self.e_Q, qgp, mixed))

    def pressure(self, e):
        """Exact piecewise p(e) (no table)."""
        return self._where(e, e / 3.0, self.e_H / 3.0 + 0 * e, (e - 4.0 * self.B) / 3.0)

    def temperature(self, e):
        ah = self.e_H / self.Tc ** 4
        aq = (self.e_Q - self.B) / self.Tc ** 4
        qgp = e - self.B
        qgp = qgp.clamp(min=0) if type(e).__module__.startswith("torch") else np.maximum(qgp, 0)
        return self._where(e, (e / ah) ** 0.25, self.Tc + 0 * e, (qgp / aq) ** 0.25)

    def sound_speed2(self, e):
        return self._where(e, 1.0 / 3.0 + 0 * e, 0 * e, 1.0 / 3.0 + 0 * e)

    def energy_density(self, T):
        """e(T) outside the mixed phase (at T = Tc the hadron-side value e_H)."""
        T = np.asarray(T, float)
        ah = self.e_H / self.Tc ** 4
        aq = (self.e_Q - self.B) / self.Tc ** 4
        return np.where(T <= self.Tc, ah * T ** 4, aq * T ** 4 + self.B)


_LATTICE = None


def get_eos(eos):
    """Resolve an EoS name (``"conformal"``, ``"lattice"``) or pass an EoS object through."""
    global _LATTICE
    if not isinstance(eos, str):
        if hasattr(eos, "pressure") and hasattr(eos, "temperature"):
            return eos
        raise InputError(f"eos must be one of {EOS_NAMES}, got {eos!r}")
    key = eos.strip().lower()
    if key == "conformal":
        return ConformalEOS()
    if key in ("first-order", "first_order", "firstorder"):
        return FirstOrderEOS()
    if key == "lattice":
        if _LATTICE is None:
            _LATTICE = LatticeEOS()
        return _LATTICE
    raise InputError(f"eos must be one of {EOS_NAMES}, got {eos!r}")
