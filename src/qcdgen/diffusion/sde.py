"""Forward noising SDEs dx = f(x, t) dt + g(t) dw and their Gaussian marginals.

Song, Sohl-Dickstein, Kingma, Kumar, Ermon & Poole, "Score-based generative modeling
through stochastic differential equations", ICLR 2021 (arXiv:2011.13456). Both SDEs
here have linear drift, so p_t(x_t | x_0) = N(a(t) x_0, s(t)² I).

- VE: f = 0, g(t) = σ^t, s(t)² = (σ^{2t} − 1)/(2 ln σ), a = 1 (the choice of Wang, Aarts
  & Zhou, JHEP 05 (2024) 060, with σ = 25, T = 1).
- VP: f = −½β(t)x, g = √β(t), β(t) = β_min + t(β_max − β_min),
  a(t) = exp(−¼t²(β_max − β_min) − ½tβ_min), s(t)² = 1 − a(t)².
"""

from __future__ import annotations

import math

import torch

from qcdgen.errors import InputError

__all__ = ["SDE", "VESDE", "VPSDE", "sde_from_dict"]


class SDE:
    """Interface shared by the SDEs: marginals, drift, diffusion and the prior at t = T."""

    T: float = 1.0
    eps: float = 1e-3  # smallest time used in training and sampling (s(t) → 0 at t = 0)

    def mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def marginal_std(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def noise_ratio(self, t: torch.Tensor) -> torch.Tensor:
        """s(t)/a(t): the noise level of the equivalent VE process (Karras et al. 2022, sec. 4)."""
        return self.marginal_std(t) / self.mean_coeff(t)

    def time_of_noise_ratio(self, ratio: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`noise_ratio`."""
        raise NotImplementedError

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def drift_jacobian_diagonal(self, t: torch.Tensor) -> torch.Tensor:
        """∂f/∂x is c(t)·I for these linear drifts; returns c(t)."""
        raise NotImplementedError

    def prior_std(self) -> float:
        """Standard deviation of the Gaussian prior used at t = T."""
        raise NotImplementedError

    def perturb(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = a(t) x₀ + s(t) z for per-sample times t [batch]."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return self.mean_coeff(t).view(shape) * x0 + self.marginal_std(t).view(shape) * noise

    def prior_sample(self, shape, generator: torch.Generator, device, dtype=torch.float32) -> torch.Tensor:
        return self.prior_std() * torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; 0, σ_T² I), summed over all but the batch dimension."""
        n = x[0].numel()
        s = self.prior_std()
        return -0.5 * x.flatten(1).pow(2).sum(1) / s ** 2 - n * (math.log(s) + 0.5 * math.log(2 * math.pi))

    def to_dict(self) -> dict:
        raise NotImplementedError

    def _check_eps(self) -> None:
        if not (0 < self.eps < self.T):
            raise InputError(f"SDE eps must satisfy 0 < eps < T={self.T}, got {self.eps}")


class VESDE(SDE):
    """Variance-exploding SDE with g(t) = σ^t (σ > 1)."""

    def __init__(self, sigma: float = 25.0, T: float = 1.0, eps: float = 1e-3):
        if not (isinstance(sigma, (int, float)) and sigma > 1):
            raise InputError(f"VE SDE sigma must be > 1, got {sigma!r}")
        if not T > 0:
            raise InputError(f"SDE T must be > 0, got {T!r}")
        self.sigma, self.T, self.eps = float(sigma), float(T), float(eps)
        self._check_eps()

    def mean_coeff(self, t):
        return torch.ones_like(t)

    def marginal_std(self, t):
        log_s = math.log(self.sigma)
        return torch.sqrt(torch.expm1(2 * t * log_s) / (2 * log_s))

    def time_of_noise_ratio(self, ratio):
        log_s = math.log(self.sigma)
        return torch.log1p(2 * log_s * ratio ** 2) / (2 * log_s)

    def drift(self, x, t):
        return torch.zeros_like(x)

    def diffusion(self, t):
        return self.sigma ** t

    def drift_jacobian_diagonal(self, t):
        return torch.zeros_like(t)

    def prior_std(self) -> float:
        return math.sqrt(math.expm1(2 * self.T * math.log(self.sigma)) / (2 * math.log(self.sigma)))

    def to_dict(self) -> dict:
        return {"kind": "ve", "sigma": self.sigma, "T": self.T, "eps": self.eps}


class VPSDE(SDE):
    """Variance-preserving SDE (continuous DDPM) with linear β(t)."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, T: float = 1.0, eps: float = 1e-3):
        if not (0 <= beta_min < beta_max):
            raise InputError(f"VP SDE needs 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        if not T > 0:
            raise InputError(f"SDE T must be > 0, got {T!r}")
        self.beta_min, self.beta_max, self.T, self.eps = float(beta_min), float(beta_max), float(T), float(eps)
        self._check_eps()

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def _log_mean_coeff(self, t):
        return -0.25 * t ** 2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def mean_coeff(self, t):
        return torch.exp(self._log_mean_coeff(t))

    def marginal_std(self, t):
        return torch.sqrt(-torch.expm1(2 * self._log_mean_coeff(t)))

    def time_of_noise_ratio(self, ratio):
        # a(t)² = 1/(1 + ratio²): solve ¼Δβ t² + ½β_min t − ½ log(1 + ratio²) = 0 for t >= 0
        a, b = 0.25 * (self.beta_max - self.beta_min), 0.5 * self.beta_min
        c = -0.5 * torch.log1p(ratio ** 2)
        return (-b + torch.sqrt(b * b - 4 * a * c)) / (2 * a)

    def drift(self, x, t):
        shape = (-1,) + (1,) * (x.dim() - 1)
        return -0.5 * self.beta(t).view(shape) * x

    def diffusion(self, t):
        return torch.sqrt(self.beta(t))

    def drift_jacobian_diagonal(self, t):
        return -0.5 * self.beta(t)

    def prior_std(self) -> float:
        return 1.0

    def to_dict(self) -> dict:
        return {"kind": "vp", "beta_min": self.beta_min, "beta_max": self.beta_max, "T": self.T, "eps": self.eps}


def sde_from_dict(d: dict) -> SDE:
    """Inverse of ``to_dict``."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind == "ve":
        return VESDE(**d)
    if kind == "vp":
        return VPSDE(**d)
    raise InputError(f"unknown SDE kind {kind!r}; expected 've' or 'vp'")
