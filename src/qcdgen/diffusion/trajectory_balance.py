"""Stochastic path sampler trained by trajectory balance (no data: only an unnormalised log-density).

(Formerly ``qcdgen.diffusion.path_sampler``, which remains as a deprecated alias.)

A controlled SDE on the grid t_k = kΔt, k = 0 … K, Δt = 1/K, carries x_0 ~ π_0 = N(0, σ₀² I)
towards the target p ∝ R (Zhang & Chen, "Path Integral Sampler", ICLR 2022; Vargas, Grathwohl &
Doucet, "Denoising Diffusion Samplers", ICLR 2023). Euler–Maruyama kernels:

    P_F(x_{k+1} | x_k)  = N(x_{k+1}; x_k + f(x_k, t_k) Δt,         σ²Δt I)
    P_B(x_k | x_{k+1})  = N(x_k;     x_{k+1} + b(x_{k+1}, t_{k+1}) Δt, σ²Δt I)

with drifts

    f(x, t) = NN_f(x, t) + c_R(t) · clip(∇log R(x)) + c_x(t) · x        (Langevin preconditioning)
    b(x, t) = −σ² x / (σ₀² + σ² t) + NN_b(x, t)                         (NN_b = 0: fixed reference)

The fixed part of b is the exact mean of the time reversal of the uncontrolled process
(x_k | x_{k+1} for dx = σ dw from π_0), a Brownian-bridge-like reference; c_R, c_x are small
MLPs of t; every learned output starts at zero, so the untrained sampler is importance sampling
from N(0, (σ₀² + σ²) I).

The work of a path τ = (x_0, …, x_K) is

    W(τ) = log π_0(x_0) + Σ_k log P_F(x_{k+1}|x_k) − Σ_k log P_B(x_k|x_{k+1}) − log R(x_K)

and, because P_B·R/Z is a normalised path density, E_F[e^{−W}] = Z exactly for any drifts
(Jarzynski / Crooks), while ⟨W⟩_F = KL(P_F ‖ P_B R/Z) − log Z ≥ −log Z: a loss that goes below
zero means log Z > 0, not a bug. Independence Metropolis in path space with log-weight −W is exact
for the x_K marginal.

Losses, both on-policy with detached trajectories (no backpropagation through the SDE; the
gradient flows through the drifts inside the kernel densities only):

- ``"tb"``: trajectory balance (log Z_θ + W)² with a learned scalar log Z_θ (Malkin et al.,
  NeurIPS 2022; Sendera et al., "Improved off-policy training of diffusion samplers", NeurIPS 2024);
- ``"logvar"``: the batch variance of W (Richter & Berner, "Improved sampling via learned
  diffusions", ICLR 2024), which needs no log Z; log Z_θ is then fitted alongside to −⟨W⟩ without
  touching the drifts.

Z₂: with odd networks (``odd=True``), an odd ∇log R and even coefficients, f and b are odd in x and
the path measure is symmetric under x → −x.

States and kernel densities are float64 (networks run in their own dtype, float32 by default).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from qcdgen.diffusion.integrator import euler_maruyama_step
from qcdgen.errors import InputError, NaNError
from qcdgen.mcmc.independence import log_partition_estimate
from qcdgen.nn.periodic_cnn import noise_features

__all__ = ["LOSSES", "LOG_Z_SCALE", "gaussian_log_density", "TimeMLP", "MLPDrift", "PathSampler", "path_loss",
           "sample_work", "log_partition_from_work", "work_summary"]

LOSSES = ("tb", "logvar")
# log Z_θ is stored divided by this: with Adam that is a 100× larger learning rate for the scalar,
# as Sendera et al. (2024) use (0.1 for log Z vs 1e-3 for the drifts).
LOG_Z_SCALE = 100.0


def gaussian_log_density(residual: torch.Tensor, variance: float) -> torch.Tensor:
    """log N(r; 0, v I) summed over all but the batch axis: −|r|²/(2v) − (D/2) log(2πv)."""
    dim = residual[0].numel()
    return -0.5 * residual.flatten(1).pow(2).sum(1) / variance - 0.5 * dim * math.log(2 * math.pi * variance)


class TimeMLP(nn.Module):
    """t ↦ n_out scalars: sinusoidal features of t → SiLU MLP; the last layer starts at zero."""

    def __init__(self, n_out: int, features: int = 16, hidden: int = 32):
        super().__init__()
        self.features = features
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.SiLU(), nn.Linear(hidden, n_out))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net(noise_features(t, self.features))


class MLPDrift(nn.Module):
    """Drift net(x, t) for flat targets of any ``shape``: an MLP with FiLM time conditioning.

    ``odd=True`` makes it exactly odd in x (no biases, tanh, gains that depend on t only).
    The output layer starts at zero.
    """

    def __init__(self, features: int, hidden: int = 64, layers: int = 2, odd: bool = False, embed_dim: int = 16):
        super().__init__()
        if not (isinstance(features, int) and features >= 1 and isinstance(layers, int) and layers >= 1):
            raise InputError(f"MLPDrift needs features >= 1 and layers >= 1, got {features!r}, {layers!r}")
        self.odd, self.embed_dim = odd, embed_dim
        sizes = [features] + [hidden] * layers
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=not odd) for a, b in zip(sizes[:-1], sizes[1:]))
        self.films = nn.ModuleList(nn.Linear(embed_dim, hidden if odd else 2 * hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, features, bias=not odd)
        nn.init.zeros_(self.out.weight)
        if self.out.bias is not None:
            nn.init.zeros_(self.out.bias)
        self.act = torch.tanh if odd else nn.functional.silu

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = noise_features(t.to(x.dtype), self.embed_dim)
        h = x.flatten(1)
        for layer, film in zip(self.layers, self.films):
            u, mod = layer(h), film(emb)
            if self.odd:
                u = u * (1 + mod)
            else:
                gain, shift = mod.chunk(2, dim=1)
                u = u * (1 + gain) + shift
            h = self.act(u)
        return self.out(h).view_as(x)


class PathSampler(nn.Module):
    """Controlled SDE sampler of R = e^{log_density} (see the module doc for every formula).

    ``log_density(x)`` and ``grad_log_density(x)`` take float64 ``x [batch, *shape]`` and return
    ``[batch]`` and ``[batch, *shape]``. ``forward_net(x, t)`` / ``backward_net(x, t)`` take
    ``x`` in ``net_dtype`` and t ``[batch]``; ``backward_net=None`` keeps the fixed reference
    backward kernel. Calling the module, ``sampler(n, generator)``, returns a rollout
    ``(x_K, W)`` whose W carries gradients through the drifts (what the losses need).
    """

    def __init__(self, log_density: Callable, grad_log_density: Callable, shape, forward_net: nn.Module,
                 backward_net: nn.Module | None = None, time_steps: int = 20, sigma: float = 1.0,
                 sigma0: float = 1.0, grad_clip: float = 100.0, net_dtype: torch.dtype = torch.float32):
        super().__init__()
        if not (isinstance(time_steps, int) and not isinstance(time_steps, bool) and time_steps >= 1):
            raise InputError(f"time_steps must be an integer >= 1, got {time_steps!r}")
        for name, v in (("sigma", sigma), ("sigma0", sigma0), ("grad_clip", grad_clip)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be a finite number > 0, got {v!r}")
        self.log_density, self.grad_log_density = log_density, grad_log_density
        self.shape = tuple(int(s) for s in shape)
        self.forward_net, self.backward_net = forward_net, backward_net
        self.coefficients = TimeMLP(2)  # (c_R(t), c_x(t)) of the forward drift
        self.log_z_raw = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.register_buffer("log_z_initialised", torch.zeros((), dtype=torch.bool))
        self.time_steps, self.sigma, self.sigma0 = time_steps, float(sigma), float(sigma0)
        self.grad_clip, self.net_dtype = float(grad_clip), net_dtype

    @property
    def log_z(self) -> torch.Tensor:
        """The learned log Z_θ = LOG_Z_SCALE · (raw parameter): Adam moves it LOG_Z_SCALE× faster."""
        return LOG_Z_SCALE * self.log_z_raw

    # ------------------------------------------------------------------ kernels
    @property
    def dt(self) -> float:
        return 1.0 / self.time_steps

    def _times(self, t: float, n: int, device) -> torch.Tensor:
        return torch.full((n,), t, dtype=self.net_dtype, device=device)

    def forward_drift(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """f(x, t_k) = NN_f(x, t_k) + c_R(t_k) clip(∇log R(x)) + c_x(t_k) x, float64."""
        t = self._times(k * self.dt, len(x), x.device)
        drift = self.forward_net(x.to(self.net_dtype), t).to(torch.float64)
        c = self.coefficients(t[:1]).to(torch.float64)[0]
        grad = self.grad_log_density(x).to(torch.float64).clamp(-self.grad_clip, self.grad_clip)
        return drift + c[0] * grad + c[1] * x

    def backward_drift(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """b(x, t_k) = −σ² x/(σ₀² + σ² t_k) + NN_b(x, t_k), float64 (k = 1 … K)."""
        t_k = k * self.dt
        drift = -self.sigma ** 2 * x / (self.sigma0 ** 2 + self.sigma ** 2 * t_k)
        if self.backward_net is not None:
            t = self._times(t_k, len(x), x.device)
            drift = drift + self.backward_net(x.to(self.net_dtype), t).to(torch.float64)
        return drift

    def log_prior(self, x0: torch.Tensor) -> torch.Tensor:
        """log π_0(x_0) = log N(x_0; 0, σ₀² I)."""
        return gaussian_log_density(x0, self.sigma0 ** 2)

    def log_forward_kernel(self, x_next: torch.Tensor, x: torch.Tensor, k: int) -> torch.Tensor:
        """log P_F(x_{k+1} | x_k) = log N(x_{k+1}; x_k + f(x_k, t_k)Δt, σ²Δt I)."""
        return gaussian_log_density(x_next - x - self.forward_drift(x, k) * self.dt, self.sigma ** 2 * self.dt)

    def log_backward_kernel(self, x: torch.Tensor, x_next: torch.Tensor, k: int) -> torch.Tensor:
        """log P_B(x_k | x_{k+1}) = log N(x_k; x_{k+1} + b(x_{k+1}, t_{k+1})Δt, σ²Δt I)."""
        return gaussian_log_density(x - x_next - self.backward_drift(x_next, k + 1) * self.dt,
                                    self.sigma ** 2 * self.dt)

    # ------------------------------------------------------------------ rollout
    def forward(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch of paths: ``(x_K [n, *shape] float64, W [n] float64)``.

        States are detached between steps (on-policy, no backpropagation through the SDE);
        W keeps the gradient of the kernel densities with respect to the drift parameters.
        """
        device = self.log_z_raw.device
        noise = dict(generator=generator, device=device, dtype=torch.float64)
        x = self.sigma0 * torch.randn((n, *self.shape), **noise)
        work = self.log_prior(x)
        scale = self.sigma * math.sqrt(self.dt)
        for k in range(self.time_steps):
            f = self.forward_drift(x, k)
            x_next = euler_maruyama_step(x, f.detach(), self.dt, scale, generator).detach()
            log_pf = gaussian_log_density(x_next - x - f * self.dt, self.sigma ** 2 * self.dt)
            work = work + log_pf - self.log_backward_kernel(x, x_next, k)
            x = x_next
        work = work - self.log_density(x).to(torch.float64)
        return x, work

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_K, W)`` for n paths, without gradients. A non-finite W raises :class:`NaNError`."""
        x, work = self(n, generator)
        if not bool(torch.isfinite(work).all()):
            bad = int((~torch.isfinite(work)).sum())
            raise NaNError(f"{bad} of {n} sampled paths have a non-finite work W (NaN or inf drift, or a "
                           "non-finite log-density); lower --sigma or the learning rate, or raise --time-steps")
        return x, work


# ---------------------------------------------------------------------- losses
def _kish_ess(log_w: torch.Tensor) -> float:
    """(Σw)²/(nΣw²) of w = e^{log_w}, computed in log space."""
    return float(torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0)) / len(log_w))


def path_loss(model: nn.Module, batch_size: int, generator: torch.Generator,
              loss: str = "tb") -> tuple[torch.Tensor, dict[str, float]]:
    """Trajectory-balance (``"tb"``) or log-variance (``"logvar"``) loss of one on-policy batch.

    Matches the ``loss_fn`` of :func:`qcdgen.train.train_dataless`; ``model`` is a
    :class:`PathSampler` or its DDP wrapper. Metrics: ``ess`` (Kish of e^{−W}, per path),
    ``log_z`` (log mean e^{−W}), ``log_z_tb`` (the learned scalar), ``mean_work``.
    """
    if loss not in LOSSES:
        raise InputError(f"--loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    sampler = model.module if hasattr(model, "module") else model
    _, work = model(batch_size, generator)
    mean_work = work.detach().mean()
    if not bool(sampler.log_z_initialised):  # start log Z_θ at the first batch's estimate, not at 0
        with torch.no_grad():
            if torch.isfinite(mean_work):
                sampler.log_z_raw.copy_(-mean_work / LOG_Z_SCALE)
                sampler.log_z_initialised.fill_(True)
    if loss == "tb":
        value = (sampler.log_z + work).pow(2).mean()
    else:  # Var(W) for the drifts; log Z_θ tracks −⟨W⟩ without feeding back
        value = (work - work.mean()).pow(2).mean() + (sampler.log_z + mean_work).pow(2)
    log_w = -work.detach()
    metrics = {"ess": _kish_ess(log_w), "log_z": float(torch.logsumexp(log_w, 0) - math.log(len(log_w))),
               "log_z_tb": float(sampler.log_z.detach()), "mean_work": float(mean_work)}
    return value, metrics


# ------------------------------------------------------------------ estimates
def sample_work(sampler: PathSampler, n: int, generator: torch.Generator,
                batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_K, W)`` for n paths drawn in batches (CPU float64)."""
    xs, ws = [], []
    for start in range(0, n, batch_size):
        x, w = sampler.sample(min(batch_size, n - start), generator)
        xs.append(x.cpu())
        ws.append(w.cpu())
    return torch.cat(xs), torch.cat(ws)


def log_partition_from_work(work) -> tuple[float, float]:
    """log Z = log⟨e^{−W}⟩_F with its delta-method error (:func:`~qcdgen.mcmc.log_partition_estimate`)."""
    w = np.asarray(torch.as_tensor(work).detach().cpu().double())
    return log_partition_estimate(-w)


def work_summary(work) -> dict[str, float]:
    """log Z ± err, ⟨W⟩ ± err (standard error of i.i.d. paths) and the Kish ESS per path."""
    w = torch.as_tensor(work).detach().cpu().double()
    log_z, log_z_err = log_partition_from_work(w)
    return {"log_z": log_z, "log_z_error": log_z_err, "mean_work": float(w.mean()),
            "mean_work_error": float(w.std() / math.sqrt(len(w))), "ess": _kish_ess(-w)}
