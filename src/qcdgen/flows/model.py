"""A normalizing flow x = f(z), z ~ prior, and its reverse-KL training loss.

    log q(x) = log r(z) − Σ_layers log|det ∂f_l/∂(input)|,   z = f⁻¹(x)

Reverse KL from samples of q alone (Albergo, Kanwar & Shanahan, PRD 100 (2019) 034515):

    L(θ) = E_q[log q(x) − log p̃(x)] = KL(q‖p) − log Z ≥ −log Z,   p̃ = Z p unnormalised,

the variational free energy: it is negative whenever log Z > KL. With w = p̃/q on the batch the
loss reports ``log_z`` = log mean w (≤ log Z on average), ``kl`` = loss + log_z ≥ 0 (Jensen; 0 only
when q ∝ p̃ on the batch) and ``ess`` = (Σw)²/(n Σw²), the normalised Kish effective sample size.

``path_gradient=True`` uses the path gradient (Roeder, Wu & Duvenaud, "Sticking the landing",
NeurIPS 2017; Vaitl, Nicoli, Nakajima & Kessel, "Gradients should stay on path", 2022): the
gradient flows through x = f_θ(z) only, and log q is evaluated at x through the inverse with
*detached* parameters. Same expectation as the standard estimator (the dropped score term has
mean zero), zero variance at q = p.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn


class StandardNormal(nn.Module):
    """Prior r(z) = Π_sites N(z; 0, 1) on fields ``[batch, *site_shape]``."""

    def __init__(self, site_shape: Sequence[int]):
        super().__init__()
        self.site_shape = tuple(site_shape)

    def sample(self, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn((n, *self.site_shape), generator=generator, device=generator.device, dtype=dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        sites = math.prod(self.site_shape)
        return -0.5 * (z * z).flatten(1).sum(1) - 0.5 * sites * math.log(2.0 * math.pi)


class SpectralScale(nn.Module):
    """Learnable translation-invariant Gaussian layer: x = F⁻¹[e^{a(p)} F z] per momentum p.

    a(p) = a(−p) (symmetrised), so the map is a real symmetric positive-definite circulant with
    log|det| = Σ_p a(p). Linear, hence odd (Z₂-equivariant) and exact for any stationary Gaussian
    (e.g. the free field, a(p) = −½ log A(p)); a power-spectrum layer in the spirit of normflow's
    (Komijani & Marinkovic) Fourier blocks. Starts as the identity (a = 0).
    """

    def __init__(self, site_shape: Sequence[int]):
        super().__init__()
        self.site_shape = tuple(site_shape)
        self.log_scale = nn.Parameter(torch.zeros(self.site_shape))

    def _symmetric(self) -> torch.Tensor:
        a = self.log_scale
        axes = tuple(range(a.dim()))
        mirrored = torch.roll(torch.flip(a, axes), shifts=(1,) * a.dim(), dims=axes)  # a(−p)
        return 0.5 * (a + mirrored)

    def _scale(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        axes = tuple(range(1, x.dim()))
        return torch.fft.ifftn(torch.fft.fftn(x, dim=axes) * torch.exp(a), dim=axes).real.to(x.dtype)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self._symmetric()
        return self._scale(z, a), a.sum().expand(len(z))

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self._symmetric()
        return self._scale(x, -a), (-a.sum()).expand(len(x))


class Flow(nn.Module):
    """``Flow(prior, layers)``: x = f_n ∘ … ∘ f_1(z); each layer returns (output, log|det|)."""

    def __init__(self, prior: nn.Module, layers: Sequence[nn.Module]):
        super().__init__()
        self.prior = prior
        self.layers = nn.ModuleList(layers)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f(z) and log|det ∂x/∂z| [batch]."""
        log_det = torch.zeros(len(z), dtype=z.dtype, device=z.device)
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f⁻¹(x) and log|det ∂z/∂x| [batch]."""
        log_det = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for layer in reversed(self.layers):
            x, ld = layer.inverse(x)
            log_det = log_det + ld
        return x, log_det

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n samples x ~ q and log q(x) = log r(z) − log|det ∂x/∂z|."""
        dtype = next(self.parameters()).dtype
        z = self.prior.sample(n, generator, dtype=dtype)
        x, log_det = self(z)
        return x, self.prior.log_prob(z) - log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log q(x) = log r(f⁻¹(x)) + log|det ∂f⁻¹/∂x|."""
        z, log_det = self.inverse(x)
        return self.prior.log_prob(z) + log_det


class _LogProb(nn.Module):
    """``flow.log_prob`` as a module's forward, for :func:`torch.func.functional_call`."""

    def __init__(self, flow: Flow):
        super().__init__()
        self.flow = flow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow.log_prob(x)


def detached_log_prob(flow: Flow, x: torch.Tensor) -> torch.Tensor:
    """log q_θ(x) with θ detached: differentiable in x only (the path-gradient density)."""
    params = {f"flow.{name}": p.detach() for name, p in flow.named_parameters()}
    return torch.func.functional_call(_LogProb(flow), params, (x,))


def importance_metrics(log_w: torch.Tensor) -> dict[str, float]:
    """``ess`` = (Σw)²/(nΣw²) and ``log_z`` = log mean w from log-weights log w = log p̃ − log q."""
    lw = log_w.detach().double()
    n = len(lw)
    ess = torch.exp(2.0 * torch.logsumexp(lw, 0) - torch.logsumexp(2.0 * lw, 0)) / n
    return {"ess": float(ess), "log_z": float(torch.logsumexp(lw, 0) - math.log(n))}


def reverse_kl_loss(model: nn.Module, log_p: Callable[[torch.Tensor], torch.Tensor], batch_size: int,
                    generator: torch.Generator, path_gradient: bool = False) -> tuple[torch.Tensor, dict]:
    """L = mean over a batch x ~ q of [log q(x) − log p̃(x)], with metrics ``ess``, ``log_z``, ``kl``.

    ``model`` is a :class:`Flow` (or a DistributedDataParallel wrapping one); ``log_p`` maps a
    batch to unnormalised log-densities [batch] (any float dtype; the loss takes its dtype).
    The signature fits :func:`qcdgen.train.train_dataless`.
    """
    flow = getattr(model, "module", model)
    dtype = next(flow.parameters()).dtype
    z = flow.prior.sample(batch_size, generator, dtype=dtype)
    x, log_det = model(z)
    log_q = flow.prior.log_prob(z) - log_det
    log_px = log_p(x)
    log_q_grad = detached_log_prob(flow, x) if path_gradient else log_q
    loss = (log_q_grad.to(log_px.dtype) - log_px).mean()
    log_w = log_px.detach().double() - log_q.detach().double()
    metrics = importance_metrics(log_w)
    metrics["kl"] = float(loss.detach()) + metrics["log_z"]
    return loss, metrics
