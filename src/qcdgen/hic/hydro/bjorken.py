"""Bjorken flow (uniform, boost-invariant, no transverse expansion) for a conformal gas.

Ideal:          T(τ) = T₀ (τ₀/τ)^{1/3}.
Navier–Stokes:  de/dτ = −(e + p − Φ)/τ with Φ = 4η/(3τ), η = (η/s) s, which for e ∝ T⁴ gives
                T(τ) = T₀ (τ₀/τ)^{1/3} [1 + (2/3)(η/s)/(τ₀T₀) (1 − (τ₀/τ)^{2/3})]   (T in fm⁻¹ here).
Israel–Stewart: de/dτ = −(e + p − Φ)/τ,
                dΦ/dτ = −(Φ − 4η/(3τ))/τ_π − (4/3) Φ/τ,   τ_π = b_π η/(e + p),
integrated with scipy ``solve_ivp``; Φ = −τ²π^{ηη} = 2π^{xx} = 2π^{yy}.
All temperatures in GeV at the interface, times in fm.
"""

from __future__ import annotations

import numpy as np

from qcdgen.hic.hydro.eos import HBARC, ConformalEOS

__all__ = ["bjorken_ideal_T", "bjorken_navier_stokes_T", "bjorken_israel_stewart"]


def bjorken_ideal_T(tau, *, tau0: float, T0: float):
    return T0 * (tau0 / np.asarray(tau, float)) ** (1.0 / 3.0)


def bjorken_navier_stokes_T(tau, *, tau0: float, T0: float, eta_s: float):
    tau = np.asarray(tau, float)
    T0fm = T0 / HBARC
    return T0 * (tau0 / tau) ** (1.0 / 3.0) * (
        1.0 + 2.0 / 3.0 * eta_s / (tau0 * T0fm) * (1.0 - (tau0 / tau) ** (2.0 / 3.0)))


def bjorken_israel_stewart(tau, *, tau0: float, T0: float, eta_s: float, phi0: float = 0.0,
                           tau_pi_factor: float = 5.0, eos=None) -> dict:
    """T (GeV), e and Φ (GeV/fm³) at the times ``tau`` (fm) from the IS ODEs."""
    from scipy.integrate import solve_ivp
    eos = eos or ConformalEOS()
    tau = np.asarray(tau, float)

    def f(t, y):
        e, phi = y
        T_fm = eos.temperature(e) / HBARC
        w = e + eos.pressure(e)
        eta = eta_s * w / T_fm
        tpi = tau_pi_factor * eta / w
        return [-(w - phi) / t, -(phi - 4.0 * eta / (3.0 * t)) / tpi - 4.0 / 3.0 * phi / t]

    sol = solve_ivp(f, (tau0, float(tau.max())), [eos.energy_density(T0), phi0], method="DOP853",
                    rtol=1e-11, atol=1e-14, dense_output=True)
    e, phi = sol.sol(tau.ravel())
    return {"T": eos.temperature(e).reshape(tau.shape), "e": e.reshape(tau.shape),
            "phi": phi.reshape(tau.shape)}
