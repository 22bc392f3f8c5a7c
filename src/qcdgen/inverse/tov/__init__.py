"""Neutron-star equation of state through a differentiable TOV solver.

- :mod:`~qcdgen.inverse.tov.eos`: EoS representations in the enthalpy form (piecewise polytropes
  of Read et al. 2009 on the SLy crust, incompressible, tabulated, neural c_s²(ε));
- :mod:`~qcdgen.inverse.tov.solver`: batched RK4 TOV + tidal (Love number k2, Λ) integration in h,
  differentiable end to end; M-R curves and M_max;
- :mod:`~qcdgen.inverse.tov.inference`: profile-χ² fit of an ensemble of neural EoSs to M-R data,
  quantile bands;
- :mod:`~qcdgen.inverse.tov.pipeline`: :func:`run_tov`, the ``qcdgen inverse tov`` command.
"""

from qcdgen.inverse.tov.eos import (MEV_FM3_TO_KM2, MSUN_KM, Incompressible, NeuralEoS, PiecewisePolytrope,
                                    Polytrope, TabulatedEoS, read_sly_pp, sly_crust)
from qcdgen.inverse.tov.inference import EnsembleFit, FitConfig, Observations, fit_ensemble
from qcdgen.inverse.tov.pipeline import TOVResult, run_tov
from qcdgen.inverse.tov.solver import MassRadiusCurve, TOVSolution, mass_radius_curve, solve_tov, solve_tov_pc

__all__ = ["MEV_FM3_TO_KM2", "MSUN_KM", "Incompressible", "NeuralEoS", "PiecewisePolytrope", "Polytrope",
           "TabulatedEoS", "read_sly_pp", "sly_crust", "EnsembleFit", "FitConfig", "Observations",
           "fit_ensemble", "TOVResult", "run_tov", "MassRadiusCurve", "TOVSolution", "mass_radius_curve",
           "solve_tov", "solve_tov_pc"]
