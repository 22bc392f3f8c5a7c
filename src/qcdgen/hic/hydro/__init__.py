"""Boost-invariant (2+1)D viscous hydrodynamics (Milne coordinates, KT scheme, conformal IS).

Quick use::

    from qcdgen.hic.hydro import evolve
    res = evolve(e0, dx=0.1, tau0=0.6, tau_end=10.0, eta_s=0.08, save_taus=[0.6, 2, 5, 10])
    res.e, res.ux, res.uy, res.pi      # [nt, (batch,) nx, ny] (+ 7 shear components)

Modules: :mod:`.evolve` (API, driver), :mod:`.kt` (Kurganov–Tadmor fluxes, limiters),
:mod:`.viscous` (Israel–Stewart sources), :mod:`.state` (conserved ↔ primitive),
:mod:`.eos` (conformal; HotQCD + hadron gas; first-order bag model), :mod:`.initial` (TRENTo → e(τ0), (η/s)(T)), and the independent reference solutions :mod:`.gubser`, :mod:`.bjorken`.
Torch is imported only when :func:`evolve` runs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "evolve": "evolve", "HydroResult": "evolve", "HydroBlowUp": "evolve", "cell_centers": "evolve",
    "PI_COMPONENTS": "state",
    "ConformalEOS": "eos", "get_eos": "eos", "HBARC": "eos", "QGP_DEGENERACY": "eos",
    "gubser_ideal": "gubser", "GubserViscous": "gubser", "gubser_rho": "gubser",
    "gubser_kappa": "gubser",
    "bjorken_ideal_T": "bjorken", "bjorken_navier_stokes_T": "bjorken",
    "bjorken_israel_stewart": "bjorken",
    "LatticeEOS": "eos", "FirstOrderEOS": "eos", "EtaOverS": "initial", "initial_energy_density": "initial",
    "entropy_to_energy": "initial",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value
