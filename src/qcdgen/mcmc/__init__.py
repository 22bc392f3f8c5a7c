"""Markov-chain Monte Carlo engines over any log-density (no physics domain knowledge)."""

from qcdgen.mcmc.hmc import HMC, DualAveraging, HMCInfo, HMCState, autograd_log_prob_and_grad
from qcdgen.mcmc.independence import (IndependenceChain, importance_ess, independence_metropolis,
                                      log_partition_estimate)
from qcdgen.mcmc.integrators import INTEGRATORS, leapfrog, omelyan
from qcdgen.mcmc.kinetic import EuclideanKinetic, FourierKinetic
from qcdgen.mcmc.mala import MALA

__all__ = [
    "HMC", "DualAveraging", "HMCInfo", "HMCState", "autograd_log_prob_and_grad",
    "IndependenceChain", "importance_ess", "independence_metropolis", "log_partition_estimate", "MALA",
    "INTEGRATORS", "leapfrog", "omelyan", "EuclideanKinetic", "FourierKinetic",
]
