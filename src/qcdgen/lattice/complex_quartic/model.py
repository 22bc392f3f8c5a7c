"""The complex quartic model S(x) = ½σ₀x² + ¼λx⁴, σ₀ = A + iB, weight e^{−S} on real x.

Exact results (Aarts, Habibi, Wang & Zhou, JHEP 12 (2025) 160; Aarts, Giudice & Seiler,
Ann. Phys. 337 (2013) 238):

- Z = ∫dx e^{−S} = √(4ξ/σ₀) e^ξ K_{1/4}(ξ), ξ = σ₀²/(8λ) (K_{−ν} = K_ν), valid for Re σ₀ > 0
  (|arg ξ| < π keeps K on its principal branch);
- ⟨x²⟩ = σ₀/(2λ) [K_{3/4}(ξ)/K_{1/4}(ξ) − 1];
- higher moments from the Schwinger–Dyson equations ∫dx ∂ₓ(x^{n+1}e^{−S}) = 0:
  (n+1)⟨xⁿ⟩ = σ₀⟨x^{n+2}⟩ + λ⟨x^{n+4}⟩.

Two independent quadratures check them (and give the moments for Re σ₀ ≤ 0): adaptive
quadrature on the real line with the complex weight, and Gauss–Legendre on the rotated contour
x = e^{iθ}t, |θ| < π/8 (so Re(λe^{4iθ}) > 0), with θ chosen to make σ₀e^{2iθ} as close to
real positive as allowed, which removes the oscillation of the weight.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np

from qcdgen.errors import InputError

__all__ = ["QuarticModel", "parse_complex", "bessel_partition_function", "bessel_moments",
           "real_line_moments", "contour_moments", "exact_moments"]


def parse_complex(text, name: str = "--sigma") -> complex:
    """'1+1j', '1+1i', '-2', (re, im) or a number → complex; InputError otherwise."""
    if isinstance(text, (int, float, complex)) and not isinstance(text, bool):
        value = complex(text)
    elif isinstance(text, (tuple, list)) and len(text) == 2:
        value = complex(float(text[0]), float(text[1]))
    else:
        try:
            value = complex(str(text).strip().replace(" ", "").replace("i", "j"))
        except ValueError:
            raise InputError(f"{name} must be a complex number such as 1+1j, got {text!r}") from None
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        raise InputError(f"{name} must be finite, got {text!r}")
    return value


@dataclass(frozen=True)
class QuarticModel:
    """S(z) = ½σz² + ¼λz⁴ continued to complex z; drift K(z) = −S'(z) = −σz − λz³."""

    sigma: complex
    lam: float

    def __post_init__(self):
        object.__setattr__(self, "sigma", parse_complex(self.sigma))
        lam = self.lam
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam <= 0:
            raise InputError(f"--lam must be a real number > 0 (the integral diverges otherwise), got {lam!r}")
        object.__setattr__(self, "lam", float(lam))

    def action(self, z):
        return 0.5 * self.sigma * z * z + 0.25 * self.lam * z ** 4

    def drift(self, z):
        return -self.sigma * z - self.lam * z ** 3

    def drift_derivative(self, z):
        """K'(z) = −S''(z)."""
        return -self.sigma - 3 * self.lam * z * z


def _model(model_or_sigma, lam=None) -> QuarticModel:
    return model_or_sigma if isinstance(model_or_sigma, QuarticModel) else QuarticModel(model_or_sigma, lam)


def bessel_partition_function(sigma, lam) -> complex:
    """Z = √(4ξ/σ₀) e^ξ K_{1/4}(ξ), ξ = σ₀²/(8λ); requires Re σ₀ > 0."""
    from scipy.special import kv

    m = _model(sigma, lam)
    if not m.sigma.real > 0:
        raise InputError(f"the Bessel formula needs Re sigma > 0, got sigma={m.sigma}; use the contour quadrature")
    xi = m.sigma ** 2 / (8 * m.lam)
    return complex(cmath.sqrt(4 * xi / m.sigma) * cmath.exp(xi) * kv(0.25, xi))


def _schwinger_dyson(sigma: complex, lam: float, x2: complex, orders) -> dict[int, complex]:
    """⟨x^{n+4}⟩ = ((n+1)⟨xⁿ⟩ − σ⟨x^{n+2}⟩)/λ from ⟨x⁰⟩ = 1 and ⟨x²⟩; odd moments vanish."""
    top = max(orders)
    even = {0: 1.0 + 0j, 2: complex(x2)}
    for n in range(0, top - 3, 2):
        even[n + 4] = ((n + 1) * even[n] - sigma * even[n + 2]) / lam
    return {n: (even[n] if n % 2 == 0 else 0j) for n in orders}


def bessel_moments(sigma, lam, orders=(2, 4)) -> dict[int, complex]:
    """⟨xⁿ⟩ from ⟨x²⟩ = σ₀/(2λ)[K_{3/4}(ξ)/K_{1/4}(ξ) − 1] and the Schwinger–Dyson recursion (Re σ₀ > 0)."""
    from scipy.special import kv

    m = _model(sigma, lam)
    if not m.sigma.real > 0:
        raise InputError(f"the Bessel formula needs Re sigma > 0, got sigma={m.sigma}; use the contour quadrature")
    xi = m.sigma ** 2 / (8 * m.lam)
    x2 = m.sigma / (2 * m.lam) * (kv(0.75, xi) / kv(0.25, xi) - 1)
    return _schwinger_dyson(m.sigma, m.lam, complex(x2), orders)


def _cutoff(m: QuarticModel, c: complex) -> float:
    """|t| beyond which |e^{−S(ct)}| < e^{−60} for the rotated weight (quartic part dominates)."""
    q = (m.lam * c ** 4).real / 4
    s = (m.sigma * c * c).real / 2
    # q t⁴ + s t² > 60 ⇐ t² > (−s + √(s² + 240 q)) / (2q)
    t2 = (-s + math.sqrt(s * s + 240 * q)) / (2 * q)
    return math.sqrt(max(t2, 1e-6)) * 1.2 + 1.0


def real_line_moments(sigma, lam, orders=(2, 4)) -> dict[int, complex]:
    """⟨xⁿ⟩ = ∫xⁿe^{−S}dx / ∫e^{−S}dx on the real line (scipy.integrate.quad, real and imaginary parts)."""
    from scipy.integrate import quad

    m = _model(sigma, lam)
    cut = _cutoff(m, 1.0)

    def integral(n: int) -> complex:
        def part(f):
            return quad(lambda x: f(x ** n * np.exp(-m.action(x))), -cut, cut, limit=400,
                        epsabs=1e-14, epsrel=1e-12)[0]
        return complex(part(np.real), part(np.imag))

    z = integral(0)
    return {n: integral(n) / z for n in orders}


def contour_moments(sigma, lam, orders=(2, 4), theta: float | None = None, nodes: int = 800) -> dict[int, complex]:
    """⟨xⁿ⟩ on the rotated contour x = e^{iθ}t (Cauchy: no contribution at infinity for |θ| < π/8),
    Gauss–Legendre with ``nodes`` points; θ defaults to −arg(σ₀)/2 clipped to ±π/16 (so the quartic
    damping Re e^{4iθ} ≥ cos(π/4) keeps the integration range short)."""
    m = _model(sigma, lam)
    if theta is None:
        limit = math.pi / 16
        theta = min(max(-cmath.phase(m.sigma) / 2, -limit), limit)
    if not abs(theta) < math.pi / 8:
        raise InputError(f"contour angle theta must satisfy |theta| < pi/8 for lam > 0, got {theta}")
    c = cmath.exp(1j * theta)
    cut = _cutoff(m, c)
    t, w = np.polynomial.legendre.leggauss(nodes)
    t, w = t * cut, w * cut
    weight = w * np.exp(-m.action(c * t)) * c
    z = weight.sum()
    return {n: complex((weight * (c * t) ** n).sum() / z) for n in orders}


def exact_moments(sigma, lam, orders=(2, 4)) -> dict[int, complex]:
    """The reference values: the Bessel formula where it holds (Re σ₀ > 0), the rotated-contour quadrature otherwise."""
    m = _model(sigma, lam)
    if m.sigma.real > 0:
        return bessel_moments(m, None, orders)
    return contour_moments(m, None, orders)
