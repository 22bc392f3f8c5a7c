"""Posterior engine: designs, simulation campaigns on Dask, PCA+GP emulators, emcee, SBC.

Pipeline (Bernhard et al., Nature Phys. 15 (2019) 1113): a space-filling design over the
parameter box (:mod:`.design`) → the simulator at every point (:mod:`.campaign`, any
simulator callable; the heavy-ion one is :mod:`qcdgen.hic.campaign`) → an emulator of all
outputs with its own uncertainty (:mod:`.emulator`) → the posterior given data with a
Gaussian likelihood whose covariance is data + emulator (:mod:`.data`, :mod:`.likelihood`,
:mod:`.calibrate`, emcee) → checks of the sampler itself (:mod:`.sbc`).

The emulator posterior itself is :func:`qcdgen.inference.calibrate.calibrate` (not re-exported:
the name is also the submodule's). No module here knows any physics. Names below load on first use (PEP 562), so importing
the package does not pull in scikit-learn, emcee or Dask.
"""

import importlib

_LOCATIONS = {
    "Design": "design", "ParameterBox": "design", "make_design": "design", "maximin_lhs": "design",
    "read_design": "design", "write_design": "design", "parse_param": "design",
    "run_campaign": "campaign", "load_runs": "campaign", "point_seed": "campaign", "RunSet": "campaign",
    "CampaignSummary": "campaign",
    "Emulator": "emulator", "GPComponent": "emulator", "fit_gp": "emulator", "load_emulator": "emulator",
    "cross_validate": "emulator", "emulate_runs": "emulator", "EmulatorValidation": "emulator",
    "ExperimentalData": "data", "read_data": "data",
    "GaussianLikelihood": "likelihood", "BoxPrior": "likelihood", "LogPosterior": "likelihood",
    "emulator_likelihood": "likelihood",
    "sample_emcee": "calibrate", "EmceeResult": "calibrate", "split_rhat": "calibrate",
    "CalibrationResult": "calibrate",
    "run_sbc": "sbc", "sbc_ranks": "sbc", "rank_uniformity": "sbc", "expected_coverage": "sbc", "SBCResult": "sbc",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name: str):
    if name in _LOCATIONS:
        value = getattr(importlib.import_module(f"qcdgen.inference.{_LOCATIONS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qcdgen.inference' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOCATIONS))
