"""Lattice observables of φ⁴ theory, measured per configuration and analysed with errors.

Per configuration we record *primary* observables (moments of the magnetisation, site
moments, the action density, the two-point function along the axes and the lowest
non-zero momentum propagator). Everything in the table is a function of their ensemble
means, with errors from Wolff's Γ-method (autocorrelations within each chain).

Conventions (V = L^d, Φ = Σ_x φ(x), M = Φ/V):

- ``m``, ``abs_m``, ``m2``   ⟨M⟩, ⟨|M|⟩, ⟨M²⟩
- ``chi2``                   χ₂ = V(⟨M²⟩ − ⟨M⟩²)
- ``chi2_abs``               V(⟨M²⟩ − ⟨|M|⟩²), the connected susceptibility with |M|
- ``binder``                 U_L = 1 − ⟨M⁴⟩ / (3⟨M²⟩²)
- ``phi2``                   ⟨φ²⟩, site average
- ``action_density``         ⟨S⟩ / V
- ``kappa2`` … ``kappa8``    K_n(Φ)/V: cumulants of the total field per volume (V^{n−1} times
                             the cumulants of M), finite away from criticality; κ₂ ≡ χ₂
- ``site_kappa2`` …          cumulants of the single-site distribution of φ(x), pooled over sites
- ``G_r{r}``                 connected G(r) = (1/dV) Σ_{x,μ} ⟨φ(x)φ(x+rμ̂)⟩ − ⟨M⟩², r = 0 … L/2
- ``xi2``                    second-moment correlation length,
                             ξ₂ = √(χ₂/F − 1) / (2 sin(π/L)), F = ⟨|φ̃(p_min)|²⟩/V
                             (Cooper, Freedman, Preston, Nucl. Phys. B210 (1982) 210)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.stats import Estimate, gamma_method

MAX_CUMULANT = 8


def magnetisation(phi: torch.Tensor) -> torch.Tensor:
    """M = (1/V) Σ_x φ(x) per configuration."""
    return phi.flatten(1).mean(1)


def correlator(phi: torch.Tensor) -> torch.Tensor:
    """Per-configuration (1/dV) Σ_{x,μ} φ(x)φ(x + rμ̂) for r = 0 … L/2, via FFT; shape [batch, L//2+1]."""
    dims = tuple(range(1, phi.dim()))
    size = phi.shape[1]
    volume = phi[0].numel()
    power = torch.fft.rfftn(phi, dim=dims).abs().pow(2)
    full = torch.fft.irfftn(power, s=phi.shape[1:], dim=dims) / volume
    r = torch.arange(size // 2 + 1, device=phi.device)
    along_axes = []
    for axis in dims:
        index = [0] * len(dims)
        index[axis - 1] = r
        along_axes.append(full[(slice(None), *index)])
    return torch.stack(along_axes).mean(0)


def lowest_momentum_power(phi: torch.Tensor) -> torch.Tensor:
    """F = |φ̃(p_min)|²/V per configuration, φ̃(p) = Σ_x e^{ipx} φ(x), averaged over the d axes."""
    dims = tuple(range(1, phi.dim()))
    volume = phi[0].numel()
    hat = torch.fft.rfftn(phi, dim=dims)
    powers = []
    for axis in dims:
        index = [0] * len(dims)
        index[axis - 1] = 1
        powers.append(hat[(slice(None), *index)].abs().pow(2) / volume)
    return torch.stack(powers).mean(0)


def cumulants_from_moments(moments: np.ndarray) -> np.ndarray:
    """Cumulants κ₁…κ_n from raw moments μ'₁…μ'_n:  κ_n = μ'_n − Σ_{k=1}^{n−1} C(n−1, k−1) κ_k μ'_{n−k}."""
    n_max = len(moments)
    mu = np.concatenate([[1.0], np.asarray(moments, dtype=float)])
    kappa = np.zeros(n_max + 1)
    for n in range(1, n_max + 1):
        kappa[n] = mu[n] - sum(math.comb(n - 1, k - 1) * kappa[k] * mu[n - k] for k in range(1, n))
    return kappa[1:]


@dataclass(frozen=True)
class PrimaryLayout:
    """Column layout of the per-configuration primary observables."""

    volume: int
    size: int

    @property
    def n_radii(self) -> int:
        return self.size // 2 + 1

    # column slices
    @property
    def z(self) -> slice:  # z^k, z = Φ/√V, k = 1..8
        return slice(0, MAX_CUMULANT)

    @property
    def abs_z(self) -> int:
        return MAX_CUMULANT

    @property
    def site(self) -> slice:  # (1/V) Σ φ^k, k = 1..8
        return slice(MAX_CUMULANT + 1, 2 * MAX_CUMULANT + 1)

    @property
    def action(self) -> int:
        return 2 * MAX_CUMULANT + 1

    @property
    def corr(self) -> slice:
        start = 2 * MAX_CUMULANT + 2
        return slice(start, start + self.n_radii)

    @property
    def f_pmin(self) -> int:
        return 2 * MAX_CUMULANT + 2 + self.n_radii

    @property
    def width(self) -> int:
        return self.f_pmin + 1


def primary_observables(phi: torch.Tensor, action) -> np.ndarray:
    """Per-configuration primaries, float64 array [configs, columns] (see :class:`PrimaryLayout`)."""
    action.check_field(phi)
    phi = phi.to(torch.float64)
    volume = action.volume
    z = phi.flatten(1).sum(1) / math.sqrt(volume)
    powers = torch.arange(1, MAX_CUMULANT + 1, device=phi.device, dtype=torch.float64)
    z_moments = z[:, None] ** powers
    flat = phi.flatten(1)
    site_moments = torch.stack([flat.pow(k).mean(1) for k in range(1, MAX_CUMULANT + 1)], 1)
    columns = [
        z_moments,
        z.abs()[:, None],
        site_moments,
        (action(phi) / volume)[:, None],
        correlator(phi),
        lowest_momentum_power(phi)[:, None],
    ]
    return torch.cat(columns, 1).cpu().numpy()


def derived_names(size: int, dim: int) -> list[str]:
    names = ["m", "abs_m", "m2", "chi2", "chi2_abs", "binder", "phi2", "action_density"]
    names += [f"kappa{n}" for n in range(2, MAX_CUMULANT + 1)]
    names += [f"site_kappa{n}" for n in range(2, MAX_CUMULANT + 1)]
    names += [f"G_r{r}" for r in range(size // 2 + 1)]
    names += ["xi2"]
    return names


def derived_observables(means: np.ndarray, layout: PrimaryLayout) -> np.ndarray:
    """All table observables as functions of the primary means (the order of :func:`derived_names`)."""
    volume = layout.volume
    z = means[layout.z]
    z1, z2, z4 = z[0], z[1], z[3]
    chi2 = z2 - z1**2
    kappa_z = cumulants_from_moments(z)
    kappa = [volume ** (n / 2 - 1) * kappa_z[n - 1] for n in range(2, MAX_CUMULANT + 1)]
    site_kappa = cumulants_from_moments(means[layout.site])[1:]
    m_sq = z1**2 / volume
    g_r = means[layout.corr] - m_sq
    ratio = chi2 / means[layout.f_pmin] - 1.0
    xi2 = math.sqrt(ratio) / (2.0 * math.sin(math.pi / layout.size)) if ratio > 0 else math.nan
    values = [
        z1 / math.sqrt(volume),
        means[layout.abs_z] / math.sqrt(volume),
        z2 / volume,
        chi2,
        z2 - means[layout.abs_z] ** 2,
        1.0 - z4 / (3.0 * z2**2),
        means[layout.site][1],
        means[layout.action],
        *kappa,
        *site_kappa,
        *g_r,
        xi2,
    ]
    return np.asarray(values, dtype=float)


def measure(phi: torch.Tensor, action, chains: np.ndarray | None = None) -> dict[str, Estimate]:
    """Every observable of the module docstring with Γ-method errors.

    ``chains`` labels the Markov chain each configuration came from (configurations of
    one chain in Monte Carlo order); autocorrelations are measured within chains.
    A configuration batch without labels is treated as one chain.
    """
    if phi.shape[0] < 2:
        raise InputError(f"need at least 2 configurations to estimate errors, got {phi.shape[0]}")
    primaries = primary_observables(phi, action)
    layout = PrimaryLayout(volume=action.volume, size=action.size)
    names = derived_names(action.size, action.dim)
    estimates = gamma_method(primaries, lambda a: _finite_or_zero(derived_observables(a, layout)),
                             replicas=chains)
    result = dict(zip(names, estimates))
    central = derived_observables(primaries.mean(0), layout)
    if not math.isfinite(central[-1]):
        warnings.warn("second-moment correlation length undefined (chi2 <= F(p_min)); xi2 omitted")
        result.pop("xi2")
    return result


def _finite_or_zero(values: np.ndarray) -> np.ndarray:
    """Keep the Γ-method's finite differences defined where ξ₂ does not exist (reported apart)."""
    return np.where(np.isfinite(values), values, 0.0)
