"""The 2D XY model on an L×L torus.

    H[θ] = −J Σ_⟨ij⟩ cos(θ_i − θ_j),   weight e^{−H/T},   J = 1 (T in units of J)

Spins are angles θ(x) stored batch-first as ``[batch, L, L]``; the bonds are (x, x + μ̂) for
μ = 0, 1 (tensor axes −2, −1), 2V bonds on V = L² sites. The measure is Π_x dθ_x over [−π, π),
so Z(T = ∞) = (2π)^V. The action the samplers see is S = H/T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qcdgen.errors import InputError
from qcdgen.flows.von_mises import wrap_angle  # noqa: F401 (re-exported)

THEORY = "xy"


def bond_differences(theta: torch.Tensor) -> torch.Tensor:
    """θ(x) − θ(x + μ̂) as [batch, 2, L, L] (index 1: μ)."""
    return torch.stack([theta - torch.roll(theta, -1, -2), theta - torch.roll(theta, -1, -1)], dim=1)


def energy_per_site(theta: torch.Tensor) -> torch.Tensor:
    """H/(J V) = −(1/V) Σ_⟨ij⟩ cos(θ_i − θ_j) per configuration [batch]."""
    return -torch.cos(bond_differences(theta)).sum(dim=(1, 2, 3)) / (theta.shape[-1] * theta.shape[-2])


def check_xy_parameters(size, temperature) -> None:
    """Refuse a lattice or temperature the XY model cannot use (InputError naming the flag)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise InputError(f"--size must be an integer >= 2, got {size!r}")
    if (not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not math.isfinite(temperature)
            or temperature <= 0):
        raise InputError(f"--temperature must be a finite number > 0 (in units of J), got {temperature!r}")


@dataclass(frozen=True)
class XYAction:
    """S = H/T of the 2D XY model; call it on angles [batch, L, L] for S per configuration."""

    size: int
    temperature: float

    tracked_name = "abs_m"  # the observable whose autocorrelation Markov chains report (attribute suffix)
    tracked_label = "|M|"
    lam = None  # not a phi^4 coupling: qcdgen.lattice.exact.exact_log_partition reads it (None: no exact log Z)

    def __post_init__(self) -> None:
        check_xy_parameters(self.size, self.temperature)

    @property
    def beta(self) -> float:
        """β = J/T."""
        return 1.0 / self.temperature

    @property
    def site_shape(self) -> tuple[int, int]:
        return (self.size, self.size)

    @property
    def volume(self) -> int:
        return self.size * self.size

    @property
    def dim(self) -> int:
        return 2

    def check_field(self, theta: torch.Tensor) -> None:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != self.site_shape:
            raise InputError(f"XY spins must have shape [batch, {self.size}, {self.size}], got {tuple(theta.shape)}")

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return self.beta * self.volume * energy_per_site(theta)

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        """−H/T (unnormalised)."""
        return -self(theta)

    def force(self, theta: torch.Tensor) -> torch.Tensor:
        """−∂S/∂θ(x) = −β Σ_μ [sin(θ(x) − θ(x+μ̂)) − sin(θ(x−μ̂) − θ(x))]."""
        s = torch.sin(bond_differences(theta))
        return -self.beta * (s[:, 0] - torch.roll(s[:, 0], 1, -2) + s[:, 1] - torch.roll(s[:, 1], 1, -1))

    def tracked(self, theta: torch.Tensor) -> torch.Tensor:
        """|M|/V per configuration: the observable whose τ_int sets the spacing of saved configurations."""
        from qcdgen.lattice.xy.observables import magnetisation

        return magnetisation(theta)

    @staticmethod
    def canonical(theta):
        """Angles wrapped into (−π, π] (NumPy or torch)."""
        return wrap_angle(theta)

    def random_start(self, chains: int, generator: torch.Generator, device=None) -> torch.Tensor:
        """Uniform (hot) spins."""
        u = torch.rand((chains, *self.site_shape), dtype=torch.float64, generator=generator, device=device)
        return (2 * u - 1) * math.pi

    def to_dict(self) -> dict:
        return {"action": THEORY, "size": self.size, "temperature": float(self.temperature)}

    @classmethod
    def from_dict(cls, attrs: dict) -> "XYAction":
        if attrs.get("action") != THEORY:
            raise InputError(f"not an XY-model ensemble or model (action {attrs.get('action')!r})")
        return cls(size=int(attrs["size"]), temperature=float(attrs["temperature"]))
