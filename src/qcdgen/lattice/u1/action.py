"""The Wilson action of compact U(1) gauge theory on an L×L torus.

    S[θ] = −β Σ_P cos θ_P,   θ_P(x) = θ_0(x) + θ_1(x + 0̂) − θ_0(x + 1̂) − θ_1(x)

Links are angles θ_μ(x) stored batch-first as ``[batch, 2, L, L]``: index 1 is the direction μ
(0 = the first lattice axis, tensor axis −2; 1 = the second, tensor axis −1). The plaquette at x
is the ordered product U_0(x) U_1(x+0̂) U_0(x+1̂)† U_1(x)†. The geometric topological charge is
Q = (1/2π) Σ_P [θ_P], with [·] the angle wrapped into (−π, π]; on the torus it is an integer.
The measure is Π_ℓ dθ_ℓ over [−π, π) for every link (Haar, unnormalised), so Z(β = 0) = (2π)^{2V}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qcdgen.errors import InputError
from qcdgen.flows.von_mises import wrap_angle  # noqa: F401 (re-exported)

THEORY = "u1"


def plaquettes(theta: torch.Tensor) -> torch.Tensor:
    """θ_P(x) [batch, L, L] of links ``theta`` [batch, 2, L, L] (not wrapped)."""
    t0, t1 = theta[:, 0], theta[:, 1]
    return t0 + torch.roll(t1, -1, -2) - torch.roll(t0, -1, -1) - t1


def topological_charge(theta: torch.Tensor) -> torch.Tensor:
    """Geometric Q = Σ_P [θ_P]/2π per configuration [batch] (float; an integer up to rounding)."""
    return wrap_angle(plaquettes(theta)).sum(dim=(-2, -1)) / (2 * math.pi)


def check_u1_parameters(size, beta) -> None:
    """Refuse a lattice or coupling U(1) cannot use (InputError naming the flag)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise InputError(f"--size must be an integer >= 2, got {size!r}")
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not math.isfinite(beta) or beta <= 0:
        raise InputError(f"--beta must be a finite number > 0, got {beta!r}")


@dataclass(frozen=True)
class U1Action:
    """Wilson action of 2D U(1) gauge theory; call it on links [batch, 2, L, L] for S per configuration."""

    size: int
    beta: float

    tracked_name = "q"  # the observable whose autocorrelation Markov chains report (attribute suffix)
    tracked_label = "Q"

    def __post_init__(self) -> None:
        check_u1_parameters(self.size, self.beta)

    @property
    def site_shape(self) -> tuple[int, int, int]:
        return (2, self.size, self.size)

    @property
    def volume(self) -> int:
        """Number of plaquettes (= sites) V = L²."""
        return self.size * self.size

    @property
    def links(self) -> int:
        return 2 * self.volume

    def check_field(self, theta: torch.Tensor) -> None:
        if theta.dim() != 4 or tuple(theta.shape[1:]) != self.site_shape:
            raise InputError(f"U(1) links must have shape [batch, 2, {self.size}, {self.size}], got {tuple(theta.shape)}")

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return -self.beta * torch.cos(plaquettes(theta)).sum(dim=(-2, -1))

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        """−S (unnormalised)."""
        return -self(theta)

    def force(self, theta: torch.Tensor) -> torch.Tensor:
        """−∂S/∂θ_μ(x): link θ_0(x) enters P(x) with + and P(x − 1̂) with −; θ_1(x) enters P(x − 0̂) with + and P(x) with −."""
        s = torch.sin(plaquettes(theta))
        f0 = torch.roll(s, 1, -1) - s
        f1 = s - torch.roll(s, 1, -2)
        return self.beta * torch.stack([f0, f1], dim=1)

    def tracked(self, theta: torch.Tensor) -> torch.Tensor:
        """Q per configuration: the observable whose τ_int sets the spacing of saved configurations."""
        return topological_charge(theta)

    @staticmethod
    def canonical(theta):
        """Link angles wrapped into (−π, π] (NumPy or torch)."""
        return math.pi - (math.pi - theta) % (2 * math.pi)

    def random_start(self, chains: int, generator: torch.Generator, device=None) -> torch.Tensor:
        """Uniform (hot) links."""
        u = torch.rand((chains, *self.site_shape), dtype=torch.float64, generator=generator, device=device)
        return (2 * u - 1) * math.pi

    def to_dict(self) -> dict:
        return {"action": THEORY, "size": self.size, "beta": float(self.beta)}

    @classmethod
    def from_dict(cls, attrs: dict) -> "U1Action":
        if attrs.get("action") != THEORY:
            raise InputError(f"not a U(1) gauge ensemble or model (action {attrs.get('action')!r})")
        return cls(size=int(attrs["size"]), beta=float(attrs["beta"]))
