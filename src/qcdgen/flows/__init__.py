"""Normalizing flows on periodic lattices: coupling layers, splines, reverse-KL training (no physics)."""

from qcdgen.flows.coupling import AffineCoupling, CouplingNet, SplineCoupling, checkerboard
from qcdgen.flows.model import (Flow, SpectralScale, StandardNormal, detached_log_prob, importance_metrics,
                                reverse_kl_loss)
from qcdgen.flows.spline import rational_quadratic_spline

__all__ = ["AffineCoupling", "CouplingNet", "SplineCoupling", "checkerboard", "Flow", "SpectralScale", "StandardNormal",
           "detached_log_prob", "importance_metrics", "reverse_kl_loss", "rational_quadratic_spline"]
