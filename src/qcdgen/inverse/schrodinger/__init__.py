"""Potentials V(r) from bound-state levels through a differentiable radial Schrödinger solver.

- :mod:`~qcdgen.inverse.schrodinger.solver`: finite-difference radial Hamiltonian, eigenpairs by
  ``torch.linalg.eigh`` (differentiable in V), first-order widths of a complex potential;
- :mod:`~qcdgen.inverse.schrodinger.potential`: ensembles of neural potentials fitted to levels
  (Shi, Zhou, Zhao, Mukherjee, Zhuang, PRD 105 014017);
- :mod:`~qcdgen.inverse.schrodinger.pipeline`: ``run_potential`` behind ``qcdgen inverse potential``.

Level labels: n = 1 is the lowest state of each l (n − 1 radial nodes); hydrogen's principal
quantum number is n + l.  Units: ħ = 1, reduced mass μ, r and V in consistent units.
"""

from qcdgen.inverse.schrodinger.pipeline import PotentialResult, read_levels, run_potential
from qcdgen.inverse.schrodinger.potential import Levels, NeuralPotential, PotentialFit, fit_potential, probed_range
from qcdgen.inverse.schrodinger.solver import (RadialSpectrum, count_nodes, radial_grid, radial_hamiltonian,
                                               solve_levels, solve_radial, widths)

__all__ = ["Levels", "NeuralPotential", "PotentialFit", "PotentialResult", "RadialSpectrum", "count_nodes",
           "fit_potential", "probed_range", "radial_grid", "radial_hamiltonian", "read_levels", "run_potential",
           "solve_levels", "solve_radial", "widths"]
