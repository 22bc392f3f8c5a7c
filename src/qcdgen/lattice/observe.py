"""Observables of an ensemble file, with errors: the pipeline behind ``qcdgen lattice observe``."""

from __future__ import annotations

from pathlib import Path

from qcdgen.io import read_ensemble
from qcdgen.lattice.theories import action_from_dict, measure_field
from qcdgen.runtime import resolve_device
from qcdgen.stats import Estimate


def observe_file(path: str | Path, device: str = "cpu") -> dict[str, Estimate]:
    """Read an HDF5 ensemble (φ⁴ or U(1)) and measure every observable (Γ-method errors within chains)."""
    ensemble = read_ensemble(path)
    action = action_from_dict(ensemble.attrs)
    action.check_field(ensemble.field())
    return measure_field(ensemble.field(resolve_device(device)), action, chains=ensemble.chain)


def observables_json(estimates: dict[str, Estimate]) -> dict:
    """``{"observables": {name: {"value", "error", "tau_int", "tau_int_error"}}}``."""
    return {"observables": {name: est.to_dict() for name, est in estimates.items()}}
