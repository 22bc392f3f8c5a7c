"""Statistics layer: Γ-method autocorrelation analysis, resampling and validation tables."""

from qcdgen.stats.autocorr import (
    autocorrelation_function,
    effective_sample_size,
    gamma_method,
    integrated_autocorr_time,
)
from qcdgen.stats.compare import ComparisonRow, ValidationTable, compare
from qcdgen.stats.estimate import Estimate
from qcdgen.stats.resampling import bin_data, blocking_error, jackknife, naive_error

__all__ = [
    "Estimate",
    "gamma_method",
    "integrated_autocorr_time",
    "effective_sample_size",
    "autocorrelation_function",
    "bin_data",
    "jackknife",
    "blocking_error",
    "naive_error",
    "ComparisonRow",
    "ValidationTable",
    "compare",
]
