"""Gubser flow: the conformal, boost-invariant, azimuthally symmetric exact solutions.

Gubser, PRD 82 (2010) 085027; viscous (Israel–Stewart) semi-analytic form of Marrochio,
Noronha, Denicol, Luzum, Jeon, Gale, PRC 91 (2015) 014903. With q (fm⁻¹) the inverse size,

    sinh ρ = −(1 − q²τ² + q²r²) / (2qτ),     tanh κ = 2q²τr / (1 + q²τ² + q²r²),
    u^τ = cosh κ,  u^r = sinh κ,             T(τ, r) = T̂(ρ)/τ,

and in the de Sitter frame the fluid is at rest. Ideal fluid: T̂ = T̂₀ / cosh^{2/3} ρ.
Conformal Israel–Stewart with τ_π = b_π η/(e + p) (b_π = 5), π̄ ≡ π̂^{ηη}/(ê + p̂):

    dT̂/dρ = T̂ tanh ρ (−2/3 + π̄/3),
    dπ̄/dρ = −π̄ T̂/(b_π η/s) + (4/(3b_π)) tanh ρ − (4/3) π̄² tanh ρ,

and, mapped back to Milne coordinates, τ²π^{ηη} = π̄ (e + p); in the local rest frame the
radial and azimuthal shear components are both −π̄ (e + p)/2. This module is independent of
the solver and only uses the conformal EoS constant to turn T into e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcdgen.hic.hydro.eos import HBARC, ConformalEOS

__all__ = ["gubser_rho", "gubser_kappa", "gubser_ideal", "GubserViscous"]


def gubser_rho(tau, r, q: float):
    return -np.arcsinh((1.0 - (q * tau) ** 2 + (q * r) ** 2) / (2.0 * q * tau))


def gubser_kappa(tau, r, q: float):
    return np.arctanh(2.0 * q * q * tau * r / (1.0 + (q * tau) ** 2 + (q * r) ** 2))


def _fields(tau, r, That, pibar, q, eos):
    T = That / tau * HBARC                            # GeV
    e = eos.energy_density(T)
    kap = gubser_kappa(tau, r, q)
    return {"T": T, "e": e, "ut": np.cosh(kap), "ur": np.sinh(kap),
            "pi_bar": pibar, "pi_etaeta_tau2": pibar * (e + eos.pressure(e))}


def gubser_ideal(tau, r, *, q: float = 1.0, T_hat0: float = 1.2, eos=None) -> dict:
    """Ideal Gubser flow at (τ, r) in fm: dict of T (GeV), e (GeV/fm³), u^τ, u^r."""
    eos = eos or ConformalEOS()
    tau, r = np.broadcast_arrays(np.asarray(tau, float), np.asarray(r, float))
    rho = gubser_rho(tau, r, q)
    return _fields(tau, r, T_hat0 / np.cosh(rho) ** (2.0 / 3.0), np.zeros_like(rho), q, eos)


@dataclass
class GubserViscous:
    """Israel–Stewart Gubser flow fixed by T̂(ρ₀) = ``T_hat0``, π̄(ρ₀) = ``pibar0``.

    ``rho_min``/``rho_max`` bound the de Sitter times that can be evaluated; the ODEs are
    solved once with scipy ``solve_ivp`` (DOP853, rtol 1e-11) in both directions from ρ₀.
    """

    q: float = 1.0
    T_hat0: float = 1.2
    eta_s: float = 0.2
    rho0: float = 0.0
    pibar0: float = 0.0
    tau_pi_factor: float = 5.0
    rho_min: float = -8.0
    rho_max: float = 4.0

    def __post_init__(self):
        from scipy.integrate import solve_ivp
        self.eos = ConformalEOS()
        b, es = self.tau_pi_factor, self.eta_s

        def f(rho, y):
            That, pib = y
            th = np.tanh(rho)
            return [That * th * (-2.0 / 3.0 + pib / 3.0),
                    -pib * That / (b * es) + 4.0 / (3.0 * b) * th - 4.0 / 3.0 * pib * pib * th]

        y0 = [self.T_hat0, self.pibar0]
        kw = dict(method="DOP853", rtol=1e-11, atol=1e-14, dense_output=True)
        self._fwd = solve_ivp(f, (self.rho0, self.rho_max), y0, **kw)
        self._bwd = solve_ivp(f, (self.rho0, self.rho_min), y0, **kw)
        if not (self._fwd.success and self._bwd.success):
            raise RuntimeError("Gubser IS ODE integration failed")

    def at_rho(self, rho):
        rho = np.asarray(rho, float)
        if rho.size and (rho.min() < self.rho_min or rho.max() > self.rho_max):
            raise ValueError(f"rho outside [{self.rho_min}, {self.rho_max}]")
        fwd = self._fwd.sol(np.maximum(rho, self.rho0).ravel())
        bwd = self._bwd.sol(np.minimum(rho, self.rho0).ravel())
        ys = np.where((rho >= self.rho0).ravel(), fwd, bwd)
        return ys[0].reshape(rho.shape), ys[1].reshape(rho.shape)

    def __call__(self, tau, r) -> dict:
        """T (GeV), e, u^τ, u^r, π̄ and τ²π^{ηη} (GeV/fm³) at (τ, r) in fm."""
        tau, r = np.broadcast_arrays(np.asarray(tau, float), np.asarray(r, float))
        That, pibar = self.at_rho(gubser_rho(tau, r, self.q))
        return _fields(tau, r, That, pibar, self.q, self.eos)

    def milne_shear(self, tau, x, y) -> dict:
        """Cartesian Milne components π^{xx}, π^{xy}, π^{yy}, π^{ττ}, τ²π^{ηη} at (τ, x, y)."""
        r = np.hypot(x, y)
        f = self(tau, r)
        a = -0.5 * f["pi_etaeta_tau2"]                 # LRF radial = azimuthal component
        ut, ur = f["ut"], f["ur"]
        prr = ut * ut * a                              # boosted radial–radial
        phi = np.arctan2(y, x)
        c, s = np.cos(phi), np.sin(phi)
        return {"xx": prr * c * c + a * s * s, "xy": (prr - a) * c * s, "yy": prr * s * s + a * c * c,
                "tautau": ur * ur * a, "etaeta_tau2": f["pi_etaeta_tau2"]}
