"""Real scalar φ⁴ theory on a periodic hypercubic lattice, in hopping form.

    S[φ] = Σ_x [ −2κ Σ_μ φ(x) φ(x+μ̂) + (1 − 2λ) φ(x)² + λ φ(x)⁴ ]

(Lüscher & Weisz, Nucl. Phys. B290 (1987) 25; the convention of Wang, Aarts & Zhou,
JHEP 05 (2024) 060). With the rescaling ϕ = √(2κ) φ, a = 1, it is the bare action

    S = Σ_x [ ½ Σ_μ (ϕ(x+μ̂) − ϕ(x))² + ½ m₀² ϕ² + (λ₀/4!) ϕ⁴ ]

with m₀² = (1 − 2λ)/κ − 2d and λ₀ = 4!·λ/(4κ²) = 6λ/κ²  (see :func:`hopping_to_bare`).

Fields are batch-first tensors ``[batch, L, ..., L]`` (d lattice axes), float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from qcdgen.errors import InputError

MAX_DIM = 4


@dataclass(frozen=True)
class Phi4Action:
    """φ⁴ action in hopping form on an ``L^d`` periodic lattice.

    Call it on a field batch to get S per configuration; :meth:`force` gives −∂S/∂φ.
    """

    size: int
    kappa: float
    lam: float
    dim: int = 2

    def __post_init__(self) -> None:
        validate_phi4_parameters(self.size, self.kappa, self.lam, self.dim)

    # ----------------------------------------------------------------- geometry
    @property
    def site_shape(self) -> tuple[int, ...]:
        return (self.size,) * self.dim

    @property
    def volume(self) -> int:
        return self.size**self.dim

    @property
    def lattice_axes(self) -> tuple[int, ...]:
        """Tensor axes of the lattice in a batch-first field ``[batch, L, ..., L]``."""
        return tuple(range(1, self.dim + 1))

    def check_field(self, phi: torch.Tensor) -> None:
        if phi.dim() != self.dim + 1 or tuple(phi.shape[1:]) != self.site_shape:
            raise InputError(
                f"field must have shape [batch, {', '.join(['L'] * self.dim)}] with L={self.size}, "
                f"got {tuple(phi.shape)}"
            )

    # ------------------------------------------------------------------ physics
    def neighbour_sum(self, phi: torch.Tensor) -> torch.Tensor:
        """Σ_μ [φ(x+μ̂) + φ(x−μ̂)] at every site."""
        total = torch.zeros_like(phi)
        for axis in self.lattice_axes:
            total = total + torch.roll(phi, 1, axis) + torch.roll(phi, -1, axis)
        return total

    def density(self, phi: torch.Tensor) -> torch.Tensor:
        """Action per site s(x), so that S = Σ_x s(x). Each link counted once (forward)."""
        hop = torch.zeros_like(phi)
        for axis in self.lattice_axes:
            hop = hop + phi * torch.roll(phi, -1, axis)
        phi2 = phi * phi
        return -2.0 * self.kappa * hop + (1.0 - 2.0 * self.lam) * phi2 + self.lam * phi2 * phi2

    def __call__(self, phi: torch.Tensor) -> torch.Tensor:
        """S[φ] for each configuration of the batch, shape ``[batch]``."""
        return self.density(phi).flatten(1).sum(1)

    def force(self, phi: torch.Tensor) -> torch.Tensor:
        """Analytic force F = −∂S/∂φ(x) = 2κ Σ_±μ φ(x±μ̂) − 2(1−2λ)φ(x) − 4λφ(x)³."""
        return (
            2.0 * self.kappa * self.neighbour_sum(phi)
            - 2.0 * (1.0 - 2.0 * self.lam) * phi
            - 4.0 * self.lam * phi**3
        )

    # the observable whose autocorrelation Markov chains report (attribute suffix, printed label)
    tracked_name = "abs_m"
    tracked_label = "|M|"

    def tracked(self, phi: torch.Tensor) -> torch.Tensor:
        """|M| = |Σ_x φ(x)|/V per configuration: the slowest common mode, sets the spacing of saved configurations."""
        return phi.flatten(1).mean(1).abs()

    def random_start(self, chains: int, generator: torch.Generator, device=None) -> torch.Tensor:
        """Gaussian start of width ½ (thermalised away)."""
        return 0.5 * torch.randn((chains, *self.site_shape), dtype=torch.float64, device=device, generator=generator)

    def log_prob(self, phi: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-density −S[φ] (the form the generic samplers take)."""
        return -self(phi)

    def grad_log_prob(self, phi: torch.Tensor) -> torch.Tensor:
        """∇ log p = −∂S/∂φ = :meth:`force`."""
        return self.force(phi)

    # --------------------------------------------------------- free-field pieces
    def quadratic_kernel(self, device=None) -> torch.Tensor:
        """Momentum-space kernel A(p) of the quadratic part, S₂ = ½ Σ_p A(p)|φ̃(p)|²/V:

            A(p) = 2(1 − 2λ) − 4κ Σ_μ cos p_μ,   p_μ = 2π n_μ / L.

        At λ = 0 this is the inverse free propagator 1/⟨|φ̃(p)|²⟩·V.
        """
        cos_sum = torch.zeros(self.site_shape, dtype=torch.float64, device=device)
        for axis in range(self.dim):
            p = 2.0 * math.pi * torch.arange(self.size, dtype=torch.float64, device=device) / self.size
            shape = [1] * self.dim
            shape[axis] = self.size
            cos_sum = cos_sum + torch.cos(p).reshape(shape)
        return 2.0 * (1.0 - 2.0 * self.lam) - 4.0 * self.kappa * cos_sum

    def fourier_acceleration_kernel(self, mass: float | None = None, device=None) -> torch.Tensor:
        """Positive kernel M(p) = 4κ Σ_μ (1 − cos p_μ) + m² for Fourier-accelerated HMC.

        It follows the lattice Laplacian of the hopping term, so long-wavelength modes move
        as fast as short ones (Davies et al., Phys. Rev. D 37 (1988) 1581). The default mass
        is A(0) when positive (symmetric phase: then M = A exactly at λ = 0), else 4κ·(2π/L)²
        so the zero mode keeps a sensible scale. Normalised to mean 1 over momenta so a
        tuned step size stays comparable with the unaccelerated one.
        """
        a_zero = 2.0 * (1.0 - 2.0 * self.lam) - 4.0 * self.kappa * self.dim
        if mass is None:
            mass = a_zero if a_zero > 0 else 4.0 * self.kappa * (2.0 * math.pi / self.size) ** 2
        if not mass > 0:
            raise InputError(f"Fourier-acceleration mass must be > 0, got {mass}")
        kernel = self.quadratic_kernel(device) - a_zero + mass
        return kernel / kernel.mean()

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        return {"action": "phi4", **asdict(self)}

    @classmethod
    def from_dict(cls, attrs: dict) -> "Phi4Action":
        if attrs.get("action") != "phi4":
            raise InputError(f"unknown action {attrs.get('action')!r}; qcdgen knows 'phi4'")
        return cls(size=int(attrs["size"]), kappa=float(attrs["kappa"]), lam=float(attrs["lam"]),
                   dim=int(attrs["dim"]))

    @classmethod
    def from_bare(cls, size: int, m0_sq: float, lambda0: float, dim: int = 2) -> "Phi4Action":
        kappa, lam = bare_to_hopping(m0_sq, lambda0, dim)
        return cls(size=size, kappa=kappa, lam=lam, dim=dim)


def validate_phi4_parameters(size, kappa, lam, dim) -> None:
    """Refuse parameters outside the theory's domain with a message naming each one."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise InputError(f"lattice size L must be an integer >= 2, got {size!r}")
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= MAX_DIM:
        raise InputError(f"dimension d must be an integer in 1..{MAX_DIM}, got {dim!r}")
    if not math.isfinite(kappa) or kappa < 0:
        raise InputError(f"kappa must be a finite number >= 0, got {kappa!r}")
    if not math.isfinite(lam) or lam < 0:
        raise InputError(f"lambda must be a finite number >= 0, got {lam!r}")
    if lam == 0 and kappa >= 1.0 / (2 * dim):
        raise InputError(
            f"free field (lambda=0) needs kappa < 1/(2d) = {1 / (2 * dim):g} to be normalisable, got {kappa!r}"
        )


def hopping_to_bare(kappa: float, lam: float, dim: int) -> tuple[float, float]:
    """(κ, λ) → (m₀², λ₀):  m₀² = (1 − 2λ)/κ − 2d,  λ₀ = 6λ/κ²  (bare field ϕ = √(2κ) φ)."""
    if kappa <= 0:
        raise InputError(f"the bare parametrisation needs kappa > 0, got {kappa!r}")
    return (1.0 - 2.0 * lam) / kappa - 2.0 * dim, 6.0 * lam / kappa**2


def bare_to_hopping(m0_sq: float, lambda0: float, dim: int) -> tuple[float, float]:
    """(m₀², λ₀) → (κ, λ), the inverse of :func:`hopping_to_bare`.

    From 1 − 2λ = κ(m₀² + 2d) and λ = λ₀κ²/6:  (λ₀/3) κ² + (m₀² + 2d) κ − 1 = 0,
    taking the positive root.
    """
    if lambda0 < 0:
        raise InputError(f"lambda0 must be >= 0, got {lambda0!r}")
    b = m0_sq + 2.0 * dim
    a = lambda0 / 3.0
    if a == 0 and b <= 0:
        raise InputError(f"the free field needs m0^2 > -2d = {-2 * dim}, got m0^2={m0_sq!r}")
    # 2/(b + sqrt(b^2 + 4a)) is the positive root, written without cancellation.
    kappa = 2.0 / (b + math.sqrt(b * b + 4.0 * a))
    return kappa, lambda0 * kappa**2 / 6.0
