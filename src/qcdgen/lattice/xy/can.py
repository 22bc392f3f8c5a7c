"""A continuous autoregressive network (CAN) for the XY model (Wang, Jiang, He & Zhou, CPL 39 (2022)
120502; the discrete-spin original: Wu, Wang & Zhang, PRL 122 (2019) 080602).

Sites are ordered row by row, i = a L + b. The density is exact and O(2)-invariant:

    q(θ) = (1/2π) Π_{i ≥ 1} q_i(θ_i − θ_0 | θ_{<i}),   q_i(x) = Σ_k π_ik e^{κ_ik cos(x − μ_ik)} / (2π I_0(κ_ik)),

site 0 uniform and every later site a mixture of K von Mises densities of its angle relative to
θ_0. The mixture parameters come from a PixelCNN (van den Oord et al., 2016) fed with
(cos(θ_j − θ_0), sin(θ_j − θ_0), 1): one masked convolution of type A (sees only earlier sites),
``depth − 1`` residual masked convolutions of type B (also the site itself), zero padding (no wrap,
which would break the ordering), and a 1×1 head giving logits, (cos μ, sin μ) and κ = softplus + 10⁻⁴.

Zero padding hides the periodic bonds: the last site of a row does not see the first site of its row,
nor a site of the last row the site of the first row below it, although both are its neighbours and were
drawn earlier. They are fed in explicitly (:func:`periodic_inputs`: at (a, L−1) the angle of (a, 0), at
(L−1, b) that of (0, b), with indicator channels), through a 1×1 convolution added after the type-A layer
(these inputs at site i hold only sites j < i, so the ordering is kept). Without them the seam bonds come
out ~20 % weaker than the others and the importance weights heavy-tailed.

Training minimises the reverse KL F = E_q[log q + S] (S = H/T) with the score-function gradient
∇F = E_q[(log q + S − b) ∇ log q], b the batch mean (no gradient through the sampling).

Sampling needs one network pass per site; the output row a depends on input rows a − depth·r … a
(r = kernel_size // 2), so each pass runs on that window only (exact, as the padding rows above the
window never reach row a). log q of a drawn batch is then recomputed in one full pass, so the log q the
Metropolis step sees is that of :meth:`CAN.log_prob`; networks run in float32 (``dtype``), densities
in float64, and the two passes agree to float32 rounding of the mixture parameters.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from qcdgen.flows.von_mises import sample_von_mises, von_mises_log_prob  # noqa: F401 (re-exported)
from qcdgen.lattice.xy.action import XYAction, wrap_angle
from qcdgen.lattice.xy.can_settings import check_can_size

LOG_2PI = math.log(2 * math.pi)


class MaskedConv(nn.Conv2d):
    """A k×k convolution that sees only sites before the centre in raster order (type A) or up to it (type B)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, include_centre: bool):
        super().__init__(c_in, c_out, kernel_size, padding=kernel_size // 2)
        mask = torch.zeros(kernel_size, kernel_size)
        r = kernel_size // 2
        mask[:r] = 1
        mask[r, :r + (1 if include_centre else 0)] = 1
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def periodic_inputs(relative: torch.Tensor) -> torch.Tensor:
    """[batch, 6, L, L]: (cos, sin, 1) of the wrapped right neighbour θ(a, 0) at (a, L−1) and of the wrapped
    lower neighbour θ(0, b) at (L−1, b); zero elsewhere. Both neighbours precede the site in raster order."""
    batch, size = relative.shape[0], relative.shape[-1]
    out = relative.new_zeros((batch, 6, size, size))
    right, below = relative[:, :, 0], relative[:, 0, :]
    out[:, 0, :, -1], out[:, 1, :, -1], out[:, 2, :, -1] = torch.cos(right), torch.sin(right), 1.0
    out[:, 3, -1, :], out[:, 4, -1, :], out[:, 5, -1, :] = torch.cos(below), torch.sin(below), 1.0
    return out


class CAN(nn.Module):
    """The XY CAN on an L×L lattice (see the module docstring); weights from ``seed``, not the global RNG."""

    def __init__(self, size: int, channels: int = 16, depth: int = 3, kernel_size: int = 5, components: int = 4,
                 seed: int = 0, dtype: torch.dtype = torch.float32):
        super().__init__()
        check_can_size(size, kernel_size)
        self.size, self.depth, self.kernel_size, self.components = size, depth, kernel_size, components
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.first = MaskedConv(3, channels, kernel_size, include_centre=False)
            self.wrap = nn.Conv2d(6, channels, 1, bias=False)
            self.blocks = nn.ModuleList(MaskedConv(channels, channels, kernel_size, include_centre=True)
                                        for _ in range(depth - 1))
            self.head = nn.Conv2d(channels, 4 * components, 1)
        nn.init.zeros_(self.head.weight)  # start: every conditional a mixture of flat-ish von Mises
        nn.init.zeros_(self.head.bias)
        self.to(dtype)

    @property
    def rows_needed(self) -> int:
        """Input rows above a site that its output depends on (the receptive field's height)."""
        return self.depth * (self.kernel_size // 2)

    def params(self, relative: torch.Tensor, wrap: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture log-weights, means and concentrations [batch, K, rows, L] from relative angles [batch, rows, L]
        and the :func:`periodic_inputs` of the same rows (None: ``relative`` is the whole lattice)."""
        dtype = self.head.weight.dtype
        if wrap is None:
            wrap = periodic_inputs(relative)
        x = torch.stack([torch.cos(relative), torch.sin(relative), torch.ones_like(relative)], 1).to(dtype)
        h = self.first(x) + self.wrap(wrap.to(dtype))
        for block in self.blocks:
            h = h + block(F.silu(h))
        out = self.head(F.silu(h)).double()
        k = self.components
        logits, cx, sx, kap = out[:, :k], out[:, k:2 * k], out[:, 2 * k:3 * k], out[:, 3 * k:]
        offsets = torch.linspace(-math.pi, math.pi, k + 1, dtype=out.dtype, device=out.device)[:k].view(1, k, 1, 1)
        mu = torch.atan2(sx, 1.0 + cx) + offsets  # components start spread over the circle
        kappa = F.softplus(kap + 0.5) + 1e-4
        return torch.log_softmax(logits, dim=1), mu, kappa

    @staticmethod
    def _site_log_prob(x, log_w, mu, kappa):
        """log q_i(x) of the mixture, x [...], parameters [..., K] along dim 1."""
        return torch.logsumexp(log_w + von_mises_log_prob(x.unsqueeze(1), mu, kappa), dim=1)

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        """log q(θ) [batch] (float64) of angles [batch, L, L] (any representative mod 2π)."""
        theta = theta.double()
        relative = wrap_angle(theta - theta[:, :1, :1])
        log_w, mu, kappa = self.params(relative)
        site = self._site_log_prob(relative, log_w, mu, kappa).flatten(1)
        return site[:, 1:].sum(1) - LOG_2PI

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n configurations θ ~ q [n, L, L] in (−π, π] and log q(θ) [n] (float64)."""
        device = self.head.weight.device
        size = self.size
        relative = torch.zeros((n, size, size), dtype=torch.float64, device=device)
        with torch.no_grad():
            for i in range(1, size * size):
                a, b = divmod(i, size)
                top = max(0, a - self.rows_needed)
                wrap = periodic_inputs(relative)[:, :, top:a + 1]
                log_w, mu, kappa = (p[:, :, a - top, b] for p in self.params(relative[:, top:a + 1], wrap))
                pick = torch.multinomial(log_w.exp(), 1, generator=generator)  # [n, 1]
                relative[:, a, b] = sample_von_mises(mu.gather(1, pick).squeeze(1), kappa.gather(1, pick).squeeze(1),
                                                     generator)
            theta0 = (2.0 * torch.rand((n, 1, 1), generator=generator, dtype=torch.float64, device=device) - 1.0) * math.pi
            theta = wrap_angle(relative + theta0)
            return theta, self.log_prob(theta)


def can_reverse_kl_loss(action: XYAction):
    """``loss(module, n, generator) -> (loss, metrics)`` for :func:`qcdgen.train.train_dataless`: the value is
    F_q = ⟨log q + S⟩ over the batch, the gradient the score-function estimator with the batch-mean baseline;
    metrics ``ess``, ``log_z``, ``kl`` as for the flows."""
    from qcdgen.flows.model import importance_metrics

    def loss(module: nn.Module, n: int, generator: torch.Generator):
        net = getattr(module, "module", module)
        with torch.no_grad():
            theta, _ = net.sample(n, generator)
        log_q = module.log_prob(theta) if hasattr(module, "log_prob") else net.log_prob(theta)
        log_p = action.log_prob(theta)
        f = (log_q - log_p).detach()
        advantage = f - f.mean()
        value = (advantage * log_q).mean()
        total = value - value.detach() + f.mean()
        metrics = importance_metrics(log_p - log_q.detach())
        metrics["kl"] = float(f.mean()) + metrics["log_z"]
        return total, metrics

    return loss
