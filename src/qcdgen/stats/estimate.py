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
        """Parenthesis notation with two significant digits of the error, e.g. ``0.1234(56)``, ``1234(56)``,
        ``-1.2(11)e+06``, ``1.00(20)e-09``; ``value ± error`` when the error is zero or not finite."""
        v, e = float(self.value), float(self.error)
        if not (math.isfinite(v) and math.isfinite(e)) or e <= 0:
            return f"{v:.6g} ± {e:.2g}"
        decimals = 1 - math.floor(math.log10(e))
        if decimals > 0 and round(e * 10 ** decimals) >= 100:
            decimals -= 1
        if not 0 <= decimals <= 6:  # error >= 100 or < 1e-5: scientific, e.g. -1.2(11)e+06, 1.00(20)e-09
            exponent = math.floor(math.log10(max(abs(v), e)))
            return f"{Estimate(v / 10 ** exponent, e / 10 ** exponent)}e{exponent:+03d}"
        digits = int(round(e * 10 ** decimals))
        return f"{v:.{decimals}f}({digits})"

    def to_dict(self) -> dict:
        """Plain dict ``{"value", "error", "tau_int", "tau_int_error"}`` of Python floats."""
        return {k: float(v) for k, v in asdict(self).items()}
