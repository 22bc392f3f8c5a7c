"""A Schrödinger bridge between N(0, I) and the data, learned as a probability-flow ODE ([SF]²M).

Tong, Malkin, Fatras, Atanackovic, Zhang, Huguet, Wolf & Bengio, "Simulation-free Schrödinger bridges
via score and flow matching", AISTATS 2024 (arXiv:2307.03672). The Schrödinger bridge with reference
process σ dW on t ∈ [0, 1] is the mixture of Brownian bridges over the entropic optimal-transport plan
π_ε(x₀, x₁) with cost ‖x₀ − x₁‖² and ε = 2σ² (Léonard 2014). Given pairs from π_ε,

    x_t = (1 − t) x₀ + t x₁ + σ √(t(1 − t)) z,   u_t = (x₁ − x₀) + σ (1 − 2t) / (2 √(t(1 − t))) z,

and regressing v_θ(x_t, t) on u_t (flow matching on :class:`BrownianBridgePath`) gives the velocity of the
bridge's probability-flow ODE: dx/dt = v carries N(0, I) to the data through the bridge's marginals.
The pairs come from a minibatch plan (:func:`sinkhorn_plan`, log-domain Sinkhorn; Cuturi, NeurIPS
2013), as in [SF]²M. Because what is learned is an ODE, sampling and the exact log q are those of
flow matching (:func:`qcdgen.diffusion.flow_matching.transport_sample`), and independence Metropolis
is exact. (The iterative-proportional-fitting DSB of De Bortoli et al., NeurIPS 2021, samples by an
SDE, which has no tractable log q.)

For Gaussian data the bridge is known in closed form (Bunne, Hsieh, Cuturi & Krause, AISTATS 2023):
per Fourier mode of variance P the entropic plan between N(0, 1) and N(0, P) has covariance
ρ = ½(√(4P + σ⁴) − σ²) (Janati, Muzellec, Peyré & Cuturi, NeurIPS 2020, with their σ² = ε/2), and the
marginal variance is Σ_t = (1 − t)² + t²P + 2t(1 − t)ρ + σ²t(1 − t); ``coupling="independent"``
(ρ = 0) is the Brownian-bridge stochastic interpolant instead.
"""

from __future__ import annotations

import math

import torch

from qcdgen.errors import InputError, NaNError

__all__ = ["COUPLINGS", "BrownianBridgePath", "entropic_covariance", "sinkhorn_plan", "sample_coupling"]

COUPLINGS = ("sinkhorn", "independent")


def entropic_covariance(power: torch.Tensor, sigma: float) -> torch.Tensor:
    """Cov(x₀, x₁) under the entropic plan (ε = 2σ²) between N(0, 1) and N(0, P), per mode."""
    return 0.5 * (torch.sqrt(4 * power + sigma ** 4) - sigma ** 2)


class BrownianBridgePath:
    """Brownian bridge of noise level σ between x₀ and x₁; times t ∈ [t_min, 1 − t_min] in training
    (the target's noise term diverges like t^{-1/2} at the ends)."""

    def __init__(self, sigma: float, coupling: str = "sinkhorn", t_min: float = 1e-2):
        if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and math.isfinite(sigma)
                and sigma > 0):
            raise InputError(f"bridge sigma must be a finite number > 0, got {sigma!r}")
        if coupling not in COUPLINGS:
            raise InputError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        if not 0 < t_min < 0.5:
            raise InputError(f"t_min must be in (0, 0.5), got {t_min!r}")
        self.sigma, self.coupling, self.t_min = float(sigma), coupling, float(t_min)
        self.t_range = (self.t_min, 1 - self.t_min)

    def interpolate(self, x0, x1, t, z):
        tt = t.to(x0.dtype).view((-1,) + (1,) * (x0.dim() - 1))
        root = torch.sqrt(tt * (1 - tt))
        xt = (1 - tt) * x0 + tt * x1 + self.sigma * root * z
        return xt, x1 - x0 + self.sigma * (1 - 2 * tt) / (2 * root) * z

    def gaussian_variance(self, t, power):
        """Σ_t of one Fourier mode of Gaussian data with variance P, and dΣ_t/dt (module docstring)."""
        s2 = self.sigma ** 2
        rho = entropic_covariance(power, self.sigma) if self.coupling == "sinkhorn" else torch.zeros_like(power)
        var = (1 - t) ** 2 + t ** 2 * power + 2 * t * (1 - t) * rho + s2 * t * (1 - t)
        dvar = -2 * (1 - t) + 2 * t * power + 2 * (1 - 2 * t) * rho + s2 * (1 - 2 * t)
        return var, dvar

    def to_dict(self) -> dict:
        return {"kind": "brownian-bridge", "sigma": self.sigma, "coupling": self.coupling, "t_min": self.t_min}


def sinkhorn_plan(x0: torch.Tensor, x1: torch.Tensor, epsilon: float, iters: int = 100,
                  tol: float = 1e-3, dtype=torch.float64) -> torch.Tensor:
    """log π of the entropic OT plan between the uniform empirical measures of x0 [n, …] and x1 [m, …],
    cost ‖x₀ − x₁‖², regularisation ε (log-domain Sinkhorn in ``dtype``). Columns sum exactly to 1/m;
    rows to 1/n within ``tol`` (relative) or after ``iters`` iterations."""
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise InputError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    a, b = x0.flatten(1).to(dtype), x1.flatten(1).to(dtype)
    cost = torch.cdist(a, b).pow(2) / epsilon
    n, m = cost.shape
    log_a, log_b = -math.log(n), -math.log(m)
    f = torch.zeros(n, dtype=dtype, device=cost.device)
    g = torch.zeros(m, dtype=dtype, device=cost.device)
    for k in range(iters):
        f = log_a - torch.logsumexp(g[None, :] - cost, dim=1)
        g = log_b - torch.logsumexp(f[:, None] - cost, dim=0)
        if k % 10 == 9:  # the rows are off by f's next update: stop when that is below tol
            if float((torch.logsumexp(g[None, :] - cost, dim=1) + f - log_a).abs().max()) < tol:
                break
    log_plan = f[:, None] + g[None, :] - cost
    if not torch.isfinite(log_plan).all():
        raise NaNError("Sinkhorn produced a non-finite plan; increase the bridge sigma")
    return log_plan


def sample_coupling(x0: torch.Tensor, x1: torch.Tensor, epsilon: float, generator: torch.Generator,
                    iters: int = 100) -> torch.Tensor:
    """x₀ partners of the batch x1: for every x₁ⱼ an x₀ drawn from the plan's conditional π(· | x₁ⱼ)."""
    log_plan = sinkhorn_plan(x0, x1, epsilon, iters, dtype=torch.float32)
    probs = torch.softmax(log_plan, dim=0).T.float()  # [m, n]: row j is π(i | j)
    index = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    return x0[index]
