"""Markov-chain Monte Carlo engines over any log-density (no physics domain knowledge)."""

from qcdgen.mcmc.hmc import HMC, DualAveraging, HMCInfo, HMCState, autograd_log_prob_and_grad
from qcdgen.mcmc.integrators import INTEGRATORS, leapfrog, omelyan
from qcdgen.mcmc.kinetic import EuclideanKinetic, FourierKinetic

__all__ = [
    "HMC", "DualAveraging", "HMCInfo", "HMCState", "autograd_log_prob_and_grad",
    "INTEGRATORS", "leapfrog", "omelyan", "EuclideanKinetic", "FourierKinetic",
]
