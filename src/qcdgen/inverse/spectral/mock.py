"""Mock spectral functions, the correlators they imply, and the accuracy metrics of the benchmark.

Shapes (ω ≥ 0, float64 tensors in and out):

- Breit–Wigner:  ρ(ω) = 4AΓω / ((M² + Γ² − ω²)² + 4Γ²ω²)
  (Wang, Shi, Zhou, PRD 106 (2022) L051502, eq. 6);
- Gaussian peak: ρ(ω) = A exp(−(ω − M)² / (2w²));
- double peak:   the sum of two well-separated Breit–Wigners (M₁ = 2, M₂ = 5, Γ₁ = Γ₂ = 0.5).

The mock correlator is the **rectangle sum on the reconstruction grid itself**,
clean_i = Σ_j K(x_i, ω_j) ρ_true(ω_j) Δω_j (:func:`qcdgen.inverse.kernels.kernel_matrix`): the
discretised problem is the definition, so an exact method can reach ρ_true exactly.
Noise is relative and uncorrelated, σ_i = ε·clean_i, data_i = clean_i + σ_i ξ_i with ξ_i ~ N(0, 1).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from qcdgen.checks import check_real
from qcdgen.errors import InputError
from qcdgen.inverse.kernels import check_kernel, kernel_matrix, rectangle_weights

#: Relative error given to noiseless mock data (noise = 0) so that χ² stays defined.
NOISELESS_SIGMA = 1e-8
#: Temperature used by the thermal kernel when none is given (β = 1/T = 10 in the units of ω).
DEFAULT_TEMPERATURE = 0.1


def _omega_tensor(omega) -> torch.Tensor:
    w = torch.as_tensor(np.asarray(omega, dtype=float) if not torch.is_tensor(omega) else omega,
                        dtype=torch.float64)
    if not torch.isfinite(w).all():
        raise InputError("omega contains NaN or inf values; only finite numbers are allowed")
    return w


def _check_params(**params) -> None:
    for name, value in params.items():
        check_real(value, name, low=0.0)


def breit_wigner(omega, A: float = 1.0, M: float = 2.0, Gamma: float = 0.5) -> torch.Tensor:
    """ρ(ω) = 4AΓω / ((M² + Γ² − ω²)² + 4Γ²ω²): a resonance of mass M and width Γ, ρ(0) = 0."""
    _check_params(A=A, M=M, Gamma=Gamma)
    w = _omega_tensor(omega)
    return 4.0 * A * Gamma * w / ((M ** 2 + Gamma ** 2 - w ** 2) ** 2 + 4.0 * Gamma ** 2 * w ** 2)


def gaussian_peak(omega, A: float = 1.0, M: float = 2.0, width: float = 0.5) -> torch.Tensor:
    """ρ(ω) = A exp(−(ω − M)² / (2 width²))."""
    _check_params(A=A, M=M, width=width)
    w = _omega_tensor(omega)
    return A * torch.exp(-0.5 * ((w - M) / width) ** 2)


def double_peak(omega, A1: float = 0.8, M1: float = 2.0, Gamma1: float = 0.5,
                A2: float = 1.0, M2: float = 5.0, Gamma2: float = 0.5) -> torch.Tensor:
    """Two Breit–Wigners; the defaults give peak heights ≈ 0.79 at ω ≈ 2 and ≈ 0.40 at ω ≈ 5."""
    return breit_wigner(omega, A1, M1, Gamma1) + breit_wigner(omega, A2, M2, Gamma2)


SHAPES: dict[str, Callable[..., torch.Tensor]] = {"bw": breit_wigner, "gauss": gaussian_peak,
                                                  "double": double_peak}


def default_x(kernel: str, temperature: float | None = None) -> torch.Tensor:
    """50 abscissae: p ∈ [0.1, 10] (KL); τ = 0.1 … 5 (Laplace); τ = β/100 … β/2 (thermal, β = 1/T)."""
    if kernel == "kl":
        return torch.linspace(0.1, 10.0, 50, dtype=torch.float64)
    if kernel == "laplace":
        return 0.1 * torch.arange(1, 51, dtype=torch.float64)
    beta = 1.0 / temperature
    return beta / 100.0 * torch.arange(1, 51, dtype=torch.float64)


def default_omega(kernel: str) -> torch.Tensor:
    """500 points on [0, 20] (KL, Laplace); on [0.04, 20] for the thermal kernel, singular at ω = 0."""
    if kernel == "thermal":
        return torch.linspace(0.04, 20.0, 500, dtype=torch.float64)
    return torch.linspace(0.0, 20.0, 500, dtype=torch.float64)


@dataclass(frozen=True)
class MockCorrelator:
    """A mock problem: the truth ρ_true on ``omega``, the clean and noisy correlator at ``x``."""

    x: torch.Tensor
    omega: torch.Tensor
    rho_true: torch.Tensor
    clean: torch.Tensor
    data: torch.Tensor
    sigma: torch.Tensor
    kernel: str
    temperature: float | None
    noise: float

    @property
    def K(self) -> torch.Tensor:
        """The discretised kernel K_ij Δω_j the mock was made with."""
        return kernel_matrix(self.kernel, self.x, self.omega, self.temperature)


def make_mock(shape: str | Callable[[torch.Tensor], torch.Tensor], kernel: str = "kl", noise: float = 1e-3,
              x=None, omega=None, temperature: float | None = None,
              generator: torch.Generator | None = None) -> MockCorrelator:
    """Mock correlator for ``shape`` (a key of :data:`SHAPES` or a callable ω ↦ ρ(ω)).

    ``noise`` ε ∈ [0, 1) is the relative error σ_i = ε·clean_i; with ε = 0 the data are the clean
    correlator and σ_i = 1e-8·|clean_i| (:data:`NOISELESS_SIGMA`; a tiny floor so that χ² is defined).
    ``x``/``omega`` default to :func:`default_x`/:func:`default_omega`; the thermal kernel uses
    ``temperature`` (default :data:`DEFAULT_TEMPERATURE`), the other kernels ignore it (stored as None).
    ``generator`` draws the noise; None means a fixed seed 0, so the mock is always reproducible.
    """
    if callable(shape):
        rho_fn = shape
    elif isinstance(shape, str) and shape in SHAPES:
        rho_fn = SHAPES[shape]
    else:
        raise InputError(f"shape must be one of {', '.join(SHAPES)} (or a callable), got {shape!r}")
    if kernel not in ("kl", "laplace", "thermal"):
        check_kernel(kernel)  # raises the standard message
    if kernel == "thermal":
        temperature = DEFAULT_TEMPERATURE if temperature is None else temperature
        check_kernel(kernel, temperature)
    else:
        temperature = None
    if (not isinstance(noise, numbers.Real) or isinstance(noise, bool) or not math.isfinite(noise)
            or not 0.0 <= noise < 1.0):
        raise InputError(f"noise must be a relative error in [0, 1), got {noise!r}")

    x = default_x(kernel, temperature) if x is None else torch.as_tensor(np.asarray(x, dtype=float)).reshape(-1)
    omega = default_omega(kernel) if omega is None else _omega_tensor(omega).reshape(-1)
    K = kernel_matrix(kernel, x, omega, temperature)  # validates both grids
    rho_true = torch.as_tensor(rho_fn(omega), dtype=torch.float64).reshape(-1)
    if rho_true.shape != omega.shape or not torch.isfinite(rho_true).all() or bool((rho_true < 0).any()):
        raise InputError("the spectral function must give one finite value >= 0 per omega point")
    clean = K @ rho_true
    if not bool((clean > 0).all()):
        raise InputError("the mock correlator must be > 0 at every x (is ρ_true zero on the grid?)")
    if noise == 0:
        sigma, data = NOISELESS_SIGMA * clean, clean.clone()
    else:
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        sigma = noise * clean
        data = clean + sigma * torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    return MockCorrelator(x=x.to(torch.float64), omega=omega, rho_true=rho_true, clean=clean, data=data,
                          sigma=sigma, kernel=kernel, temperature=temperature, noise=float(noise))


def two_peak_paper_mock(generator: torch.Generator | None = None) -> MockCorrelator:
    """The two-peak Källén–Lehmann mock of Wang, Shi, Zhou, PRD 106 (2022) L051502: :func:`double_peak`
    (M = 2, 5; Γ = 0.5; A = 0.8, 1) on 500 ω points in [0.04, 20], 100 momenta p ∈ [0.2, 20], and
    relative noise growing with p, σ_i = 10⁻⁴ (p_i/0.2) D_i. ``generator`` as in :func:`make_mock`."""
    x = torch.linspace(0.2, 20.0, 100, dtype=torch.float64)
    omega = torch.linspace(0.04, 20.0, 500, dtype=torch.float64)
    clean = make_mock("double", kernel="kl", noise=0.0, x=x, omega=omega)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    sigma = 1e-4 * (x / 0.2) * clean.clean
    data = clean.clean + sigma * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    return MockCorrelator(x=x, omega=omega, rho_true=clean.rho_true, clean=clean.clean, data=data, sigma=sigma,
                          kernel="kl", temperature=None, noise=1e-4)


def _pair(rho, rho_true) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.as_tensor(np.asarray(rho, dtype=float) if not torch.is_tensor(rho) else rho, dtype=torch.float64)
    b = torch.as_tensor(np.asarray(rho_true, dtype=float) if not torch.is_tensor(rho_true) else rho_true,
                        dtype=torch.float64)
    a, b = a.detach().cpu().reshape(-1), b.detach().cpu().reshape(-1)
    if a.shape != b.shape:
        raise InputError(f"the two spectra must have the same length, got {a.numel()} and {b.numel()}")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise InputError("the spectra contain NaN or inf values; only finite numbers are allowed")
    return a, b


def mse(rho, rho_true) -> float:
    """Mean squared error (1/N) Σ_j (ρ_j − ρ_true,j)² over the ω grid."""
    a, b = _pair(rho, rho_true)
    return float(((a - b) ** 2).mean())


def relative_l2(rho, rho_true) -> float:
    """‖ρ − ρ_true‖₂ / ‖ρ_true‖₂ on the grid."""
    a, b = _pair(rho, rho_true)
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def kl_divergence(rho_true, rho, omega, floor: float = 1e-12) -> float:
    """Kullback–Leibler divergence D(p_true ‖ p) = Σ_j p_true,j ln(p_true,j / p_j) ≥ 0.

    p_j = ρ_j Δω_j / Σ_k ρ_k Δω_k are the spectra normalised to unit area with the rectangle weights;
    each is mixed with ``floor`` per cell and renormalised, p → (p + floor)/(1 + N floor), so the log
    is finite and the result remains a divergence between distributions (0 iff identical, else > 0).
    The direction is truth ‖ reconstruction: missing weight where ρ_true has some is penalised most.
    """
    p, q = _pair(rho_true, rho)
    w = rectangle_weights(_omega_tensor(omega).reshape(-1))
    if w.shape != p.shape:
        raise InputError(f"omega must have one point per spectral value, got {w.numel()} and {p.numel()}")
    if not (floor > 0 and math.isfinite(floor)):
        raise InputError(f"floor must be a finite number > 0, got {floor!r}")
    out = []
    for name, r in (("rho_true", p), ("rho", q)):
        if bool((r < 0).any()):
            raise InputError(f"{name} must be >= 0 everywhere for the KL divergence, got minimum {float(r.min()):g}")
        area = float((r * w).sum())
        if area <= 0:
            raise InputError(f"{name} has zero area on the grid; the KL divergence needs a normalisable spectrum")
        out.append((r * w / area + floor) / (1.0 + floor * r.numel()))
    p, q = out
    return float((p * torch.log(p / q)).sum())
