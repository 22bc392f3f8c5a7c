"""Score-based diffusion models and the shared ODE/SDE integrator (no physics inside).

The integrator (:mod:`.integrator`: Euler, Heun, RK4 and Euler–Maruyama steps, with the divergence or
the exact step Jacobian for densities) serves every domain; SDEs (:mod:`.sde`), the score model and
denoising score-matching loss (:mod:`.score`), EMA weights (:mod:`qcdgen.train.ema`), reverse-SDE
samplers (:mod:`.sampling`), the probability-flow ODE with log-likelihoods (:mod:`.flow`) and the
trajectory-balance path sampler (:mod:`.trajectory_balance`) are built on it.
"""

from qcdgen.train.ema import EMA
from qcdgen.diffusion.flow import FlowSamples, flow_sample, log_likelihood
from qcdgen.diffusion.integrator import (Step, euler_maruyama_step, grid_steps, ode_step, ode_step_with_divergence,
                                         ode_step_with_jacobian, odeint, uniform_steps)
from qcdgen.diffusion.sampling import reverse_sde_sample
from qcdgen.diffusion.score import ScoreModel, StationaryGaussian, dsm_loss
from qcdgen.diffusion.sde import SDE, VESDE, VPSDE, sde_from_dict

__all__ = ["EMA", "FlowSamples", "flow_sample", "log_likelihood", "reverse_sde_sample", "ScoreModel", "StationaryGaussian",
           "dsm_loss", "SDE", "VESDE", "VPSDE", "sde_from_dict", "Step", "euler_maruyama_step", "grid_steps", "ode_step",
           "ode_step_with_divergence", "ode_step_with_jacobian", "odeint", "uniform_steps"]
