"""Deprecated alias of :mod:`qcdgen.diffusion.trajectory_balance` (the trajectory-balance path sampler).

Import from ``qcdgen.diffusion.trajectory_balance``; this module re-exports the same objects and
will be removed.
"""

import warnings

from qcdgen.diffusion.trajectory_balance import *  # noqa: F403
from qcdgen.diffusion.trajectory_balance import __all__, _kish_ess  # noqa: F401

warnings.warn("qcdgen.diffusion.path_sampler is deprecated; import qcdgen.diffusion.trajectory_balance instead",
              DeprecationWarning, stacklevel=2)
