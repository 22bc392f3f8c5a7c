"""A Monte Carlo estimate: value, error and its integrated autocorrelation time."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Estimate:
    """Central value with statistical error.

    ``tau_int`` is the integrated autocorrelation time of the estimate in units
    of the sample spacing (0.5 = uncorrelated), as defined in U. Wolff,
    Comput. Phys. Commun. 156 (2004) 143; ``tau_int_error`` its error
    (Wolff eq. 42).
    """

    value: float
    error: float
    tau_int: float = 0.5
    tau_int_error: float = 0.0

    def __str__(self) -> str:
        """Parenthesis notation with two significant digits of the error, e.g. ``0.1234(56)``."""
        v, e = float(self.value), float(self.error)
        if not (math.isfinite(v) and math.isfinite(e)) or e <= 0:
            return f"{v:.6g} ± {e:.2g}"
        decimals = 1 - math.floor(math.log10(e))
        if decimals > 0 and round(e * 10 ** decimals) >= 100:
            decimals -= 1
        if decimals < 0:
            return f"{v:.6g} ± {e:.2g}"
        digits = int(round(e * 10 ** decimals))
        return f"{v:.{decimals}f}({digits})"

    def to_dict(self) -> dict:
        """Plain dict ``{"value", "error", "tau_int", "tau_int_error"}`` of Python floats."""
        return {k: float(v) for k, v in asdict(self).items()}
