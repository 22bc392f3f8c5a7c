"""Statistics layer: Γ-method autocorrelation analysis, resampling and validation tables.

The names below are loaded on first use (PEP 562), so importing a light submodule such as
``qcdgen.stats.estimate`` does not pull in SciPy and torch: ``qcdgen --help`` stays fast.
"""

import importlib

# ``compare`` is both a submodule and a function: bind the function now, or a later
# ``import qcdgen.stats.compare`` would leave the module object under that name.
from qcdgen.stats.compare import ComparisonRow, ValidationTable, compare  # noqa: F401

_LOCATIONS = {
    "autocorrelation_function": "autocorr",
    "effective_sample_size": "autocorr",
    "gamma_method": "autocorr",
    "integrated_autocorr_time": "autocorr",
    "ComparisonRow": "compare",
    "ValidationTable": "compare",
    "compare": "compare",
    "Estimate": "estimate",
    "sample_cumulants": "cumulants",
    "bin_data": "resampling",
    "blocking_error": "resampling",
    "jackknife": "resampling",
    "naive_error": "resampling",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name: str):
    if name in _LOCATIONS:
        value = getattr(importlib.import_module(f"qcdgen.stats.{_LOCATIONS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qcdgen.stats' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOCATIONS))
