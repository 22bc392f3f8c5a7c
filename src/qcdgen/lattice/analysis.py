"""Deprecated: renamed :mod:`qcdgen.lattice.observe` (the pipeline behind ``qcdgen lattice observe``).

This re-export is kept for one release; import from ``qcdgen.lattice.observe`` instead.
"""

import warnings

from qcdgen.lattice.observe import observables_json, observe_file

warnings.warn("qcdgen.lattice.analysis is deprecated; import from qcdgen.lattice.observe", DeprecationWarning,
              stacklevel=2)

__all__ = ["observe_file", "observables_json"]
