"""Normalizing flows (no physics): coupling flows on periodic lattices with reverse-KL training, and
conditional flows that return torch Distributions with seeded sampling (:mod:`.conditional`)."""

from qcdgen.flows.conditional import ConditionalFlow, FlowDistribution, NormalBase, neural_spline_flow, seeded_rsample
from qcdgen.flows.coupling import AffineCoupling, CouplingNet, SplineCoupling, checkerboard
from qcdgen.flows.model import (Flow, SpectralScale, StandardNormal, detached_log_prob, importance_metrics,
                                reverse_kl_loss)
from qcdgen.flows.spline import rational_quadratic_spline

__all__ = ["AffineCoupling", "CouplingNet", "SplineCoupling", "checkerboard", "Flow", "SpectralScale", "StandardNormal",
           "detached_log_prob", "importance_metrics", "reverse_kl_loss", "rational_quadratic_spline",
           "ConditionalFlow", "FlowDistribution", "NormalBase", "neural_spline_flow", "seeded_rsample"]
