"""Energy-based diffusion model: a scalar network E_θ(x, t) whose score is conservative by construction.

    s_θ(x, t) = −∇ₓ E_θ(x, t)      (autograd gradient of one scalar per sample)

trained by the same denoising score matching as :mod:`.score` (Vincent 2011; Song et al., ICLR 2021),
with the double backward pass this needs (Salimans & Ho, "Should EBMs model the energy or the score?",
2021; Du et al., ICML 2023). Because E is explicit, p_θ(x, t) = e^{−E_θ(x, t)}/Z_θ(t) can be evaluated
and normalised by quadrature in low dimensions (Aarts, Habibi, Wang & Zhou, JHEP 12 (2025) 160).

E_θ(x, t) = net(x, log s(t)) + ½‖x − a(t)μ‖²/(a(t)²c² + s(t)²): the quadratic part is the exact energy
of Gaussian data N(μ, c²I) under the SDE, so the network learns the non-Gaussian remainder and e^{−E}
stays normalisable (an MLP grows at most linearly). Engine module: no physics imports.

Conservativeness checks, independent of the construction: :func:`jacobian_asymmetry` (the Jacobian
of a gradient field is a Hessian, hence symmetric) and :func:`loop_circulation` (∮ s·dl = 0 on
every closed loop, computed by quadrature without autograd).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qcdgen.diffusion.score import dsm_loss
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError, NaNError

__all__ = ["NOISE_SAMPLINGS", "EnergyMLP", "EnergyModel", "energy_dsm_loss", "train_energy_model", "energy_on_points",
           "jacobian_asymmetry", "loop_circulation"]


class EnergyMLP(nn.Module):
    """Scalar network net(x, log s) → [batch]: an MLP with SiLU (smooth, so −∇E is smooth)."""

    def __init__(self, dim: int, hidden: int = 64, layers: int = 3):
        super().__init__()
        if dim < 1 or hidden < 1 or layers < 1:
            raise InputError(f"EnergyMLP needs dim, hidden, layers >= 1, got {dim}, {hidden}, {layers}")
        sizes = [dim + 1] + [hidden] * layers
        blocks = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            blocks += [nn.Linear(a, b), nn.SiLU()]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.head.weight)  # start at the Gaussian energy
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x.flatten(1), log_std.view(-1, 1).to(x.dtype)], dim=1)
        return self.head(self.body(h)).squeeze(1)


class EnergyModel(nn.Module):
    """E(x, t) = net(x, log s(t)) + ½‖x − a(t)μ‖²/(a(t)²c² + s(t)²); ``forward`` returns the score −∇ₓE."""

    def __init__(self, net: nn.Module, sde: SDE, data_std: float = 1.0, data_mean: float = 0.0):
        super().__init__()
        if not (math.isfinite(data_std) and data_std > 0):
            raise InputError(f"data_std must be a number > 0, got {data_std!r}")
        self.net = net
        self.sde = sde
        self.data_std = float(data_std)
        self.data_mean = float(data_mean)

    def energy(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """E_θ(x, t), one scalar per sample [batch]."""
        std = self.sde.marginal_std(t)
        a = self.sde.mean_coeff(t)
        shape = (-1,) + (1,) * (x.dim() - 1)
        quad = (x - a.view(shape) * self.data_mean).pow(2).flatten(1).sum(1)
        gauss = 0.5 * quad / (a ** 2 * self.data_std ** 2 + std ** 2)
        return self.net(x, torch.log(std)) + gauss

    def score(self, x: torch.Tensor, t: torch.Tensor, create_graph: bool | None = None) -> torch.Tensor:
        """s = −∇ₓE by autograd; ``create_graph`` (default: training with grad enabled) keeps the graph
        for a loss that is differentiated again."""
        if create_graph is None:
            create_graph = self.training and torch.is_grad_enabled()
        with torch.enable_grad():
            xg = x if (x.requires_grad and create_graph) else x.detach().requires_grad_(True)
            e = self.energy(xg, t).sum()
            (grad,) = torch.autograd.grad(e, xg, create_graph=create_graph)
        return -grad

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.score(x, t)


NOISE_SAMPLINGS = ("uniform-time", "log-noise")


def energy_dsm_loss(model: EnergyModel, x0: torch.Tensor, generator: torch.Generator,
                    weighting: str = "sigma2", noise_sampling: str = "log-noise") -> torch.Tensor:
    """Denoising score matching E‖s·(−∇E)(x_t, t) + z‖² on the conservative score (the model must be in
    training mode for the double backward pass).

    ``noise_sampling="uniform-time"`` is exactly :func:`qcdgen.diffusion.score.dsm_loss` (t ~ U(eps, T));
    ``"log-noise"`` (default) draws the noise ratio s/a log-uniformly between its values at eps and T
    (Karras et al., NeurIPS 2022), so the small-noise levels, whose density p_θ(·, eps) is used for
    quadrature, get as much training as the large ones (for the VE SDE, s ≈ √t puts 1 % of uniform
    times below s = 0.1).
    """
    if noise_sampling == "uniform-time":
        return dsm_loss(model, x0, generator, weighting=weighting)
    if noise_sampling not in NOISE_SAMPLINGS:
        raise InputError(f"noise_sampling must be one of {NOISE_SAMPLINGS}, got {noise_sampling!r}")
    if weighting not in ("sigma2", "likelihood"):
        raise InputError(f"weighting must be 'sigma2' or 'likelihood', got {weighting!r}")
    sde = getattr(model, "module", model).sde
    ends = sde.noise_ratio(torch.tensor([sde.eps, sde.T], dtype=x0.dtype, device=x0.device)).log()
    u = torch.rand(len(x0), generator=generator, device=x0.device, dtype=x0.dtype)
    t = sde.time_of_noise_ratio(torch.exp(ends[0] + (ends[1] - ends[0]) * u)).clamp(sde.eps, sde.T)
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    xt = sde.perturb(x0, t, z)
    std = sde.marginal_std(t)
    shape = (-1,) + (1,) * (x0.dim() - 1)
    per_sample = (model(xt, t) * std.view(shape) + z).pow(2).flatten(1).mean(1)
    if weighting == "likelihood":
        per_sample = per_sample * (sde.diffusion(t) / std).pow(2)
    return per_sample.mean()


def train_energy_model(model: EnergyModel, data: torch.Tensor, *, steps: int, batch_size: int = 256,
                       lr: float = 2e-3, seed: int = 0, weighting: str = "sigma2", noise_sampling: str = "log-noise",
                       ema_decay: float = 0.0, progress=None) -> list[float]:
    """Adam with cosine decay on :func:`energy_dsm_loss`; minibatches drawn with replacement from ``data``.

    With ``ema_decay`` in (0, 1) the model ends with the exponential moving average of its weights
    (bias-corrected warm start: decay min(ema_decay, (1 + n)/(10 + n)) at step n), which removes most of the
    minibatch noise of the last steps. Returns the loss per step; raises :class:`~qcdgen.errors.NaNError` with
    the step at a non-finite loss. ``progress(step, loss)`` is called every 50 steps if given.
    """
    if not 0.0 <= ema_decay < 1.0:
        raise InputError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
    if steps < 1 or batch_size < 1:
        raise InputError(f"steps and batch_size must be >= 1, got {steps}, {batch_size}")
    gen = torch.Generator(device=data.device).manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.02)
    model.train()
    losses = []
    ema = [p.detach().clone() for p in model.parameters()] if ema_decay > 0 else None
    for step in range(steps):
        idx = torch.randint(len(data), (batch_size,), generator=gen, device=data.device)
        loss = energy_dsm_loss(model, data[idx], gen, weighting=weighting, noise_sampling=noise_sampling)
        if not torch.isfinite(loss):
            raise NaNError(f"energy model training: non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            decay = min(ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.lerp_(p.detach(), 1 - decay)
        losses.append(loss.item())
        if progress is not None and (step % 50 == 0 or step == steps - 1):
            progress(step + 1, losses[-1])
    if ema is not None:
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                p.copy_(e)
    model.eval()
    return losses


@torch.no_grad()
def energy_on_points(model: EnergyModel, x: torch.Tensor, t: float, batch_size: int = 65536) -> torch.Tensor:
    """E_θ(x, t) at many points [n, d] (no gradients), in batches; p_θ ∝ e^{−E} for quadrature."""
    out = []
    for chunk in torch.split(x, batch_size):
        out.append(model.energy(chunk, torch.full((len(chunk),), float(t), dtype=chunk.dtype, device=chunk.device)))
    return torch.cat(out)


def jacobian_asymmetry(field, x: torch.Tensor) -> dict[str, float]:
    """Antisymmetric part of the Jacobian J_ij = ∂f_i/∂x_j of a vector field f: [batch, d] → [batch, d] at
    the points ``x``, by autograd. A gradient field has J = Jᵀ (a Hessian), so ``relative`` = max|J − Jᵀ| /
    max|J| is round-off (~1e-6 in float32) for it and O(1) for a field with a curl (in 2D, J₁₀ − J₀₁ = curl)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        f = field(x)
        d = x.shape[1]
        rows = [torch.autograd.grad(f[:, i].sum(), x, retain_graph=i < d - 1)[0] for i in range(d)]
    jac = torch.stack(rows, dim=1)  # [batch, i, j]
    anti = (jac - jac.transpose(1, 2)).abs().amax()
    scale = jac.abs().amax()
    return {"max_abs": float(anti), "scale": float(scale),
            "relative": float(anti / scale) if scale > 0 else 0.0}


def loop_circulation(field, centers: torch.Tensor, radius: float, points: int = 128, dims=(0, 1)) -> dict[str, float]:
    """∮ f·dl around circles of ``radius`` about each centre in the plane ``dims`` (periodic trapezoid rule,
    spectrally accurate for a smooth field), relative to ∮|f||dl|. Zero for a conservative field (Stokes);
    a rotation f = ω(−y, x) gives 2πωr²."""
    centers = centers.detach()
    n, d = centers.shape
    phi = torch.arange(points, dtype=centers.dtype, device=centers.device) * (2 * math.pi / points)
    i, j = dims
    pts = centers.repeat_interleave(points, 0).clone()
    cos, sin = torch.cos(phi).repeat(n), torch.sin(phi).repeat(n)
    pts[:, i] += radius * cos
    pts[:, j] += radius * sin
    f = field(pts).detach()
    tangent_i, tangent_j = -sin * radius, cos * radius  # dl/dφ
    integrand = (f[:, i] * tangent_i + f[:, j] * tangent_j).view(n, points)
    magnitude = (f[:, [i, j]].norm(dim=1) * radius).view(n, points)
    circ = integrand.mean(1) * 2 * math.pi
    ref = magnitude.mean(1) * 2 * math.pi
    rel = (circ.abs() / ref.clamp_min(1e-30)).amax()
    return {"max_abs": float(circ.abs().amax()), "relative": float(rel)}
