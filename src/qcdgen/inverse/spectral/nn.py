"""Neural-network spectral reconstruction: NN (whole spectrum) and NN-P2P (point to point).

After Wang, Shi, Zhou, "Reconstructing spectral functions via automatic differentiation",
PRD 106 L051502 (2022), arXiv:2111.14760:

- **NN**: a constant input drives an MLP whose n_ω outputs are the spectrum on the grid,
  ρ_j = s · softplus(z_j); the loss adds the smoothness penalty λ Σ_j (ρ_{j+1} − ρ_j)² (their eq. 3),
  here in the grid-independent form R = W Σ_j (ρ̂_{j+1} − ρ̂_j)² / (ω_{j+1} − ω_j) ≈ W ∫ (dρ̂/dω)² dω
  with W = ω_max − ω_min and ρ̂ = ρ/s (on a uniform grid R = (n_ω − 1) Σ_j (Δρ̂_j)²).
- **NN-P2P**: one network ω ↦ ρ(ω) = s · softplus(f(u)), u = 2(ω − ω_min)/W − 1 ∈ [−1, 1] (so any ω
  range looks the same to the network), evaluated on the grid; the penalty is weight decay,
  R = mean of the squared parameters.

Both fit by Adam on the whitened χ² with λ annealed down and a discrepancy-principle stop
(see :mod:`qcdgen.inverse.spectral.nn_train`).  The scale s is the best constant spectrum, so
the options below are dimensionless and mean the same at every noise level.
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError
from qcdgen.inverse.spectral.nn_train import DTYPE, Whitened, init_parameters_, train, train_options, whiten

_ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU, "elu": nn.ELU}


def _mlp(n_in: int, width: int, depth: int, n_out: int, activation: str) -> nn.Sequential:
    if activation not in _ACTIVATIONS:
        raise InputError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {activation!r}")
    width = check_positive_int(width, "width")
    depth = check_positive_int(depth, "depth")
    layers, n = [], n_in
    for _ in range(depth):
        layers += [nn.Linear(n, width), _ACTIVATIONS[activation]()]
        n = width
    layers.append(nn.Linear(n, n_out))
    return nn.Sequential(*layers)


class SpectrumNet(nn.Module):
    """NN: constant input 1 → MLP → softplus → ρ̂ on all n_ω grid points at once."""

    def __init__(self, n_omega: int, width: int, depth: int, activation: str):
        super().__init__()
        self.body = _mlp(1, width, depth, n_omega, activation)
        self.register_buffer("one", torch.ones(1, 1, dtype=DTYPE))

    def forward(self) -> torch.Tensor:
        return nn.functional.softplus(self.body(self.one)).reshape(-1)


class PointNet(nn.Module):
    """NN-P2P: ρ̂(ω_j) = softplus(f(u_j)), one shared network applied to every scaled grid point."""

    def __init__(self, omega: torch.Tensor, width: int, depth: int, activation: str):
        super().__init__()
        self.body = _mlp(1, width, depth, 1, activation)
        span = omega[-1] - omega[0]
        self.register_buffer("u", (2.0 * (omega - omega[0]) / span - 1.0).reshape(-1, 1))

    def forward(self) -> torch.Tensor:
        return nn.functional.softplus(self.body(self.u)).reshape(-1)


def smoothness(omega: torch.Tensor):
    """R(ρ̂) = W Σ_j (ρ̂_{j+1} − ρ̂_j)² / Δω_j, the discretised W ∫ (dρ̂/dω)² dω."""
    gaps = omega[1:] - omega[:-1]
    width = omega[-1] - omega[0]

    def penalty(rho_hat: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        d = rho_hat[1:] - rho_hat[:-1]
        return width * (d * d / gaps).sum()

    return penalty


def weight_decay(rho_hat: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """R(θ) = mean of θ² over all parameters (L2 on the network's weights and biases)."""
    return (theta * theta).mean()


def _build(model: nn.Module, problem: Whitened, generator: torch.Generator) -> nn.Module:
    model = model.to(DTYPE)
    init_parameters_(model, generator)
    return model.to(problem.Kw.device)


def fit_nn(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor, omega: torch.Tensor, *,
           generator: torch.Generator, device: str | torch.device = "cpu",
           width: int = 64, depth: int = 2, activation: str = "tanh",
           iterations: int = 200, reg: float = 1e-2, reg_final: float = 1e-6, anneal: int = 40,
           chi2_target: float = 1.0, patience: int = 20, starts: int = 1, return_info: bool = False):
    """NN reconstruction of ρ on ``omega`` from D = K ρ ± σ (Wang, Shi, Zhou 2022, "NN").

    Options: ``width``/``depth`` of the MLP (hidden layers), ``activation`` (tanh, silu, elu);
    ``iterations`` (Levenberg–Marquardt steps at most); smoothness strength ``reg`` annealed
    geometrically to ``reg_final`` over the first ``anneal`` steps; stop once χ²/n_x ≤
    ``chi2_target`` (discrepancy principle; lower it only for noise-free data) or after
    ``patience`` steps past the annealing without 1 % improvement of χ².
    ``starts``: fit from that many initialisations and keep the smoothest of those that fit the data
    as well as the best (:func:`smoothest_fit`): a guard against the rare rough solution at the same χ²
    (on the two-peak mock one start in five lands there, with 5–8× the squared error).
    ``return_info=True`` also returns the diagnostics dict of :func:`~.nn_train.train`.
    Returns ρ [n_omega] float64 on the CPU, ρ ≥ 0.
    """
    opts = train_options(iterations, reg, reg_final, anneal, chi2_target, patience)
    problem = whiten(K, data, sigma, omega, device)
    fits = []
    for _ in range(check_positive_int(starts, "--starts")):
        model = _build(SpectrumNet(problem.omega.numel(), width, depth, activation), problem, generator)
        fits.append(train(model, problem, smoothness(problem.omega), opts, "NN"))
    rho, info = smoothest_fit(fits, omega, chi2_target)
    return (rho, info) if return_info else rho


def roughness(rho: torch.Tensor, omega) -> float:
    """R[ρ] = Σ_j (ρ_{j+1} − ρ_j)² / Δω_j, the discrete ∫ (dρ/dω)² dω."""
    omega = torch.as_tensor(omega, dtype=torch.float64).reshape(-1).cpu()
    rho = torch.as_tensor(rho, dtype=torch.float64).reshape(-1).cpu()
    return float((rho.diff() ** 2 / omega.diff()).sum())


def smoothest_fit(fits, omega, chi2_target: float):
    """Of (ρ, info) fits, those with χ²/n_x ≤ 1.1 max(target, best χ²/n_x); of them the least rough.

    Equal χ² does not single out a solution of the ill-posed problem; the smoothest is the one a
    smoothness prior prefers. ``info`` gains ``starts`` and ``roughness`` (of every start)."""
    chi2 = [f[1]["chi2_per_point"] for f in fits]
    cut = 1.1 * max(chi2_target, min(chi2))
    rough = [roughness(rho, omega) for rho, _ in fits]
    best = min((k for k in range(len(fits)) if chi2[k] <= cut), key=lambda k: rough[k])
    rho, info = fits[best]
    return rho, dict(info, starts=len(fits), roughness=rough, chosen=best)


def fit_p2p(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor, omega: torch.Tensor, *,
            generator: torch.Generator, device: str | torch.device = "cpu",
            width: int = 32, depth: int = 2, activation: str = "tanh",
            iterations: int = 200, reg: float = 1e-2, reg_final: float = 1e-6, anneal: int = 40,
            chi2_target: float = 1.0, patience: int = 20, return_info: bool = False):
    """NN-P2P reconstruction: ρ(ω) = s · softplus(f(u(ω))) on ``omega`` (Wang, Shi, Zhou 2022, "NN-P2P").

    Options as for :func:`fit_nn`, except that ``reg`` → ``reg_final`` weights the weight decay
    (mean squared parameter) instead of the smoothness penalty.
    Returns ρ [n_omega] float64 on the CPU, ρ ≥ 0.
    """
    opts = train_options(iterations, reg, reg_final, anneal, chi2_target, patience)
    problem = whiten(K, data, sigma, omega, device)
    model = _build(PointNet(problem.omega, width, depth, activation), problem, generator)
    rho, info = train(model, problem, weight_decay, opts, "NN-P2P")
    return (rho, info) if return_info else rho
