"""Score-based diffusion models on any tensor dataset (no physics inside).

SDEs (:mod:`.sde`), the score model and denoising score-matching loss (:mod:`.score`),
EMA weights (:mod:`.ema`), reverse-SDE samplers (:mod:`.sampling`) and the
probability-flow ODE with log-likelihoods (:mod:`.flow`).
"""

from qcdgen.train.ema import EMA
from qcdgen.diffusion.flow import FlowSamples, flow_sample, log_likelihood
from qcdgen.diffusion.sampling import reverse_sde_sample
from qcdgen.diffusion.score import ScoreModel, StationaryGaussian, dsm_loss
from qcdgen.diffusion.sde import SDE, VESDE, VPSDE, sde_from_dict

__all__ = ["EMA", "FlowSamples", "flow_sample", "log_likelihood", "reverse_sde_sample", "ScoreModel", "StationaryGaussian",
           "dsm_loss", "SDE", "VESDE", "VPSDE", "sde_from_dict"]
