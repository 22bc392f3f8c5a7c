"""The fitting loop shared by the neural spectral reconstructions (NN and NN-P2P).

A network outputs ρ̂ ≥ 0 on the ω grid; the spectrum is ρ = s ρ̂ with a data-derived scale s,
and the parameters θ minimise (Wang, Shi, Zhou, PRD 106 L051502 (2022), arXiv:2111.14760)

    J(θ) = χ²/n_x + λ(t) R(ρ̂, θ),     χ² = Σ_i ((D_i − (Kρ)_i)/σ_i)²,

with a penalty R (smoothness for NN, weight decay for P2P) whose strength λ(t) is annealed
geometrically from ``reg`` to ``reg_final`` over the first ``anneal`` steps.  Our choices:

- **whitening**: K and D are divided by σ once, so χ² is a plain sum of squares;
- **scale**: s = argmin_c χ²(c·1) (the best constant spectrum), so ρ̂ = O(1) and R is
  dimensionless, the same at every noise level and in every unit system;
- **optimiser**: Levenberg–Marquardt (Gauss–Newton on the n_x data residuals, damped) instead
  of the paper's Adam.  At σ = 1e-5 D the whitened χ² spans ~10 decades of curvature; measured on
  the Breit–Wigner/KL test, 6000 Adam steps stalled at χ²/n_x ~ 1e3 (relative L2 error 0.35) while
  LM reaches χ²/n_x = 1 in 20–200 steps.  The damping itself regularises (iteratively regularised
  Gauss–Newton, Bakushinsky 1992);
- **discrepancy stop** (Morozov): the fit stops as soon as χ²/n_x ≤ ``chi2_target`` (default 1),
  i.e. at the most regularised spectrum the data allow, or when χ² stops improving.

Non-finite losses raise :class:`~qcdgen.errors.NaNError` naming the method and the iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.kernels import check_problem
from qcdgen.runtime import resolve_device

DTYPE = torch.float64  # networks and solver alike: χ² at σ = 1e-5 D needs more than float32's 7 digits


@dataclass(frozen=True)
class Whitened:
    """The problem in units of the errors: χ² = ||Kw ρ − dw||², ρ = scale · ρ̂."""

    Kw: torch.Tensor      # [n_x, n_omega] K_ij / σ_i on the device
    dw: torch.Tensor      # [n_x] D_i / σ_i
    scale: float          # s > 0, the best constant spectrum
    omega: torch.Tensor   # [n_omega] on the device

    @property
    def n_x(self) -> int:
        return self.dw.numel()

    def chi2_per_point(self, rho_hat: torch.Tensor) -> torch.Tensor:
        r = self.Kw @ (self.scale * rho_hat) - self.dw
        return (r * r).mean()


def whiten(K, data, sigma, omega, device) -> Whitened:
    """Validate the method interface's inputs and return the whitened problem on ``device``."""
    dev = resolve_device(device)
    K, data, sigma, omega = check_problem(K, data, sigma, omega)
    Kw, dw = K.detach().to(DTYPE) / sigma[:, None], data / sigma
    ones = Kw.sum(dim=1)
    scale = float(ones @ dw) / float(ones @ ones) if float(ones @ ones) > 0 else math.nan
    if not (math.isfinite(scale) and scale > 0):  # data not positive on average: fall back to norms
        scale = float(dw.norm()) / float(ones.norm()) if float(ones.norm()) > 0 else math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise InputError("cannot set the scale of rho: data are all zero or K has no positive weight")
    return Whitened(Kw.to(dev), dw.to(dev), scale, omega.to(dev))


def init_parameters_(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialisation U(±1/√fan_in), drawn from ``generator`` (reproducible)."""
    if not isinstance(generator, torch.Generator):
        raise InputError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    if p is not None:
                        u = torch.rand(p.shape, generator=generator, device=generator.device, dtype=DTYPE)
                        p.copy_(((2.0 * u - 1.0) * bound).to(p.device))


@dataclass(frozen=True)
class TrainOptions:
    """Optimiser settings (validated by :func:`train_options`)."""

    iterations: int
    reg: float
    reg_final: float
    anneal: int
    chi2_target: float
    patience: int


def train_options(iterations, reg, reg_final, anneal, chi2_target, patience) -> TrainOptions:
    """Check the tuning options; each bad value raises InputError naming the option."""
    iterations = check_positive_int(iterations, "iterations")
    reg = _nonneg_float(reg, "reg")
    reg_final = _nonneg_float(reg_final, "reg_final")
    if reg_final > reg:
        raise InputError(f"reg_final must be <= reg (λ is annealed down), got reg_final={reg_final} > reg={reg}")
    anneal = check_positive_int(anneal, "anneal", minimum=0)
    chi2_target = check_positive_float(chi2_target, "chi2_target")
    patience = check_positive_int(patience, "patience")
    return TrainOptions(iterations, reg, reg_final, anneal, chi2_target, patience)


def _nonneg_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or v < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def annealed(opts: TrainOptions, step: int) -> float:
    """λ(t): geometric from ``reg`` to ``reg_final`` over ``anneal`` steps, then constant."""
    if opts.reg == 0 or opts.reg_final == opts.reg or step >= opts.anneal:
        return opts.reg_final if step >= opts.anneal else opts.reg
    if opts.reg_final == 0:  # geometric down to 1e-6 reg, then switched off
        return opts.reg * 1e-6 ** (step / opts.anneal)
    return opts.reg * (opts.reg_final / opts.reg) ** (step / opts.anneal)


_UNDERSHOOT = 0.5  # a step may not take χ²/n_x below half the target: the stop lands near it
Penalty = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # R(ρ̂, θ_flat)


def train(model: nn.Module, problem: Whitened, penalty: Penalty, opts: TrainOptions,
          method: str) -> tuple[torch.Tensor, dict]:
    """Fit ``model()`` → ρ̂ by Levenberg–Marquardt on J(θ); return (ρ = s ρ̂ on the CPU, diagnostics).

    Step: δ = −(2AᵀA + μ diag(2AᵀA + m))⁻¹ ∇J, m = mean of diag(2AᵀA), with A = ∂r/∂θ / √n_x the Jacobian of the data
    residuals (n_x rows, so the solve goes through the n_x × n_x Woodbury form); μ shrinks after
    an accepted step (÷10) and grows after a rejected one (×2) (Marquardt, SIAM J. Appl. Math. 11,
    431 (1963)); a step that would drop χ²/n_x below half the target is rejected too, so the
    discrepancy stop lands in [target/2, target].
    Diagnostics: ``chi2_per_point``, ``iterations``, ``reg`` (λ at the end), ``stopped``
    ("target": χ²/n_x ≤ chi2_target, "plateau", "stalled": no step lowers J, "iterations").
    """
    from torch.func import functional_call, jacrev

    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    buffers = dict(model.named_buffers())
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    root_n = math.sqrt(problem.n_x)

    def rho_hat(v: torch.Tensor) -> torch.Tensor:
        params, i = {}, 0
        for k, shape in zip(names, shapes):
            n = math.prod(shape)
            params[k] = v[i:i + n].reshape(shape)
            i += n
        return functional_call(model, (params, buffers), ())

    def residual(v: torch.Tensor) -> torch.Tensor:
        return (problem.Kw @ (problem.scale * rho_hat(v)) - problem.dw) / root_n

    def objective(v: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
        r_hat = rho_hat(v)
        chi2 = problem.chi2_per_point(r_hat)
        return (chi2 + lam * penalty(r_hat, v) if lam > 0 else chi2), chi2

    eye = torch.eye(problem.n_x, dtype=DTYPE, device=theta.device)
    mu, best, since_best, stopped, lam, step = 1e-2, math.inf, 0, "iterations", opts.reg, 0
    for step in range(opts.iterations):
        lam = annealed(opts, step)
        v = theta.clone().requires_grad_(True)
        J, chi2 = objective(v, lam)
        if not bool(torch.isfinite(J)):
            raise NaNError(f"{method}: the loss became non-finite at iteration {step} (χ²/n_x = {float(chi2.detach()):g})")
        grad, = torch.autograd.grad(J, v)
        J, chi2 = float(J.detach()), float(chi2.detach())
        if chi2 <= opts.chi2_target:
            stopped = "target"
            break
        if chi2 < 0.99 * best:
            best, since_best = chi2, 0
        elif step >= opts.anneal:
            since_best += 1
            if since_best >= opts.patience:
                stopped = "plateau"
                break
        A = jacrev(residual)(theta)                      # [n_x, P]
        d = 2.0 * (A * A).sum(dim=0)
        d = d + float(d.mean()) + 1e-300                  # half Marquardt, half plain μI
        As, gs = A / d.sqrt(), grad / d.sqrt()
        small = 2.0 * As @ As.T
        Ag = As @ gs
        for _ in range(30):
            # (2ÃᵀÃ + μ I)⁻¹ g̃ = (g̃ − 2Ãᵀ (μ I + 2ÃÃᵀ)⁻¹ Ã g̃) / μ   (Woodbury)
            inner = torch.linalg.solve(small + mu * eye, Ag)
            delta = -((gs - 2.0 * As.T @ inner) / mu) / d.sqrt()
            with torch.no_grad():
                J_new, chi2_new = objective(theta + delta, lam)
            # accept a descent step unless it overshoots far below the discrepancy level
            if (bool(torch.isfinite(J_new)) and float(J_new) < J
                    and float(chi2_new) >= _UNDERSHOOT * opts.chi2_target):
                theta, mu = theta + delta, max(mu / 10.0, 1e-12)
                break
            mu *= 2.0
        else:
            stopped = "stalled"
            break
    with torch.no_grad():
        r_hat = rho_hat(theta)
        chi2 = float(problem.chi2_per_point(r_hat))
        rho = (problem.scale * r_hat).to("cpu", DTYPE)
    if not (math.isfinite(chi2) and bool(torch.isfinite(rho).all())):
        raise NaNError(f"{method}: non-finite spectrum after {step + 1} iterations")
    return rho, {"chi2_per_point": chi2, "iterations": step + 1, "reg": lam, "stopped": stopped}
