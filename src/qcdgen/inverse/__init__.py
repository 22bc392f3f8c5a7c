"""Posterior engine: continuous functions from a few noisy numbers.

A neural (or classical) representation of the unknown function is pushed through a
differentiable forward model and fitted by automatic differentiation:

- :mod:`qcdgen.inverse.kernels`: integral kernels of Euclidean correlators, discretised;
- :mod:`qcdgen.inverse.spectral`: spectral functions ρ(ω) from correlators (NN, NN-P2P, MEM, Tikhonov);
- :mod:`qcdgen.inverse.tov`: neutron-star equation of state through a differentiable TOV solver;
- :mod:`qcdgen.inverse.schrodinger`: potentials V(r) through a differentiable radial Schrödinger solver.
"""
