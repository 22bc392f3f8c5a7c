"""Checkerboard coupling layers on a periodic lattice (batch-first fields ``[batch, L, …, L]``).

A coupling layer splits the sites by a mask into *active* and *frozen* ones, leaves the frozen
sites unchanged and transforms every active site by an invertible scalar map whose parameters
are computed by a periodic CNN from the frozen sites alone. The Jacobian is triangular, so
log|det| is the sum of the active sites' log-derivatives (Dinh, Sohl-Dickstein & Bengio,
"Density estimation using Real NVP", ICLR 2017; on the lattice: Albergo, Kanwar & Shanahan,
PRD 100 (2019) 034515). Masks alternate between the two parities of Σ_μ x_μ.

Every layer has ``forward(x) -> (y, log|det ∂y/∂x|)`` and ``inverse(y) -> (x, log|det ∂x/∂y|)``,
and starts as the identity (zero-initialised output convolutions).

Z₂ equivariance (``z2=True``) makes f(−x) = −f(x) with equal log-Jacobians, exactly:

- affine, y = x e^{s(c)} + t(c): s(c) = ½[n(c) + n(−c)] is even and t(c) = ½[m(c) − m(−c)] odd;
- spline, y = g(x; θ(c)): θ(c) = ½[n(c) + mirror(n(−c))] gives θ(−c) = mirror θ(c), and
  g(x; mirror θ) = −g(−x; θ) (see :mod:`qcdgen.flows.spline`), so y(−x) = −y(x).
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.errors import InputError
from qcdgen.flows.spline import mirror_params, n_spline_params, rational_quadratic_spline
from qcdgen.nn.periodic_cnn import PeriodicConv

_ACTIVATIONS = {"tanh": nn.Tanh, "silu": nn.SiLU}


def checkerboard(site_shape: tuple[int, ...], parity: int, device=None) -> torch.Tensor:
    """Float mask [*site_shape]: 1 where (Σ_μ x_μ) mod 2 == parity, else 0."""
    total = torch.zeros(site_shape, dtype=torch.long, device=device)
    for axis, n in enumerate(site_shape):
        shape = [1] * len(site_shape)
        shape[axis] = n
        total = total + torch.arange(n, device=device).reshape(shape)
    return (total % 2 == parity).to(torch.float32)


class CouplingNet(nn.Module):
    """Periodic CNN [batch, 1, *site] → [batch, cout, *site]: a linear convolution plus a nonlinear branch.

    out = W_lin * c + W_out * act(… act(W_1 * c)), ``hidden`` hidden layers of ``channels`` channels
    (``hidden=0``: the linear convolution only). The linear path lets a coupling represent Gaussian
    (free-field) maps exactly; both output convolutions start at zero.
    """

    def __init__(self, dim: int, cout: int, channels: int = 16, hidden: int = 1, kernel_size: int = 3,
                 activation: str = "tanh"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise InputError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.linear = PeriodicConv(dim, 1, cout, kernel_size, bias=True)
        layers: list[nn.Module] = []
        cin = 1
        for _ in range(hidden):
            layers += [PeriodicConv(dim, cin, channels, kernel_size, bias=True), _ACTIVATIONS[activation]()]
            cin = channels
        self.hidden = nn.Sequential(*layers)
        self.out = PeriodicConv(dim, cin, cout, kernel_size, bias=True) if hidden else None
        for conv in (self.linear, self.out):
            if conv is not None:
                nn.init.zeros_(conv.conv.weight)
                nn.init.zeros_(conv.conv.bias)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        out = self.linear(c)
        if self.out is not None:
            out = out + self.out(self.hidden(c))
        return out


class _Coupling(nn.Module):
    """Shared mask handling: ``active`` is the mask of the sites this layer transforms."""

    def __init__(self, site_shape: tuple[int, ...], parity: int):
        super().__init__()
        if len(site_shape) not in (1, 2, 3):
            raise InputError(f"coupling layers support lattices of dimension 1, 2 or 3, got {len(site_shape)}")
        self.site_shape = tuple(site_shape)
        self.register_buffer("active", checkerboard(self.site_shape, parity))

    def _frozen(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1.0 - self.active)

    def _sum_active(self, per_site: torch.Tensor) -> torch.Tensor:
        return (per_site * self.active).flatten(1).sum(1)


class AffineCoupling(_Coupling):
    """RealNVP coupling: y_a = x_a e^{s(x_f)} + t(x_f) on active sites a, y_f = x_f.

    s = B tanh(s_raw/B) with B = ``scale_bound`` keeps every layer's scale within e^{±B}.
    log|det| = Σ_a s_a.
    """

    def __init__(self, site_shape: tuple[int, ...], parity: int, channels: int = 16, hidden: int = 1,
                 kernel_size: int = 3, z2: bool = True, scale_bound: float = 2.0, activation: str = "tanh"):
        super().__init__(site_shape, parity)
        self.z2, self.scale_bound = z2, float(scale_bound)
        self.net = CouplingNet(len(site_shape), 2, channels, hidden, kernel_size, activation)

    def _scale_shift(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.z2:
            plus, minus = self.net(torch.cat([c, -c]).unsqueeze(1)).chunk(2, dim=0)
            s_raw = 0.5 * (plus[:, 0] + minus[:, 0])
            t = 0.5 * (plus[:, 1] - minus[:, 1])
        else:
            out = self.net(c.unsqueeze(1))
            s_raw, t = out[:, 0], out[:, 1]
        return self.scale_bound * torch.tanh(s_raw / self.scale_bound), t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frozen = self._frozen(x)
        s, t = self._scale_shift(frozen)
        y = frozen + self.active * (x * torch.exp(s) + t)
        return y, self._sum_active(s)

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frozen = self._frozen(y)
        s, t = self._scale_shift(frozen)
        x = frozen + self.active * ((y - t) * torch.exp(-s))
        return x, -self._sum_active(s)


class SplineCoupling(_Coupling):
    """Rational-quadratic spline coupling: y_a = g(x_a; θ_a(x_f)) with K = ``bins`` bins on
    [−``bound``, ``bound``] and identity tails (:func:`~qcdgen.flows.spline.rational_quadratic_spline`)."""

    def __init__(self, site_shape: tuple[int, ...], parity: int, channels: int = 16, hidden: int = 1,
                 kernel_size: int = 3, z2: bool = True, bins: int = 8, bound: float = 4.0,
                 activation: str = "tanh"):
        super().__init__(site_shape, parity)
        if not (isinstance(bins, int) and bins >= 2):
            raise InputError(f"bins must be an integer >= 2, got {bins!r}")
        if not bound > 0:
            raise InputError(f"spline bound must be > 0, got {bound!r}")
        self.z2, self.bins, self.bound = z2, bins, float(bound)
        self.net = CouplingNet(len(site_shape), n_spline_params(bins), channels, hidden, kernel_size, activation)

    def _params(self, c: torch.Tensor) -> torch.Tensor:
        """Spline parameters [batch, *site, 3K − 1]."""
        perm = (0, *range(2, c.dim() + 1), 1)  # channels last
        if self.z2:
            plus, minus = self.net(torch.cat([c, -c]).unsqueeze(1)).permute(perm).chunk(2, dim=0)
            return 0.5 * (plus + mirror_params(minus, self.bins))
        return self.net(c.unsqueeze(1)).permute(perm)

    def _transform(self, x: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        frozen = self._frozen(x)
        y, log_deriv = rational_quadratic_spline(x, self._params(frozen), self.bound, inverse=inverse)
        return frozen + self.active * y, self._sum_active(log_deriv)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._transform(x, inverse=False)

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._transform(y, inverse=True)
