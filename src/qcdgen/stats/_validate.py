"""Deprecated: the checks moved to the public module :mod:`qcdgen.checks`.

This re-export is kept for one release; import from ``qcdgen.checks`` instead.
"""

from __future__ import annotations

import warnings

from qcdgen.checks import (NonFiniteDataError, as_1d, as_data, check_positive_float,  # noqa: F401  (re-exported)
                           check_positive_int, eval_func, replica_groups)

warnings.warn("qcdgen.stats._validate is deprecated; import from qcdgen.checks", DeprecationWarning, stacklevel=2)

__all__ = ["NonFiniteDataError", "as_data", "as_1d", "replica_groups", "check_positive_int",
           "check_positive_float", "eval_func"]
