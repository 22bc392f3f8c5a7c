"""Hadron resonance gas chemistry at chemical freeze-out, from the PDG tables of ``particle``.

Thermal number density of species i (quantum statistics, chemical potential μ_i = B_i μ_B):

    n_i = g_i/(2π²) Σ_{k≥1} (∓1)^{k+1} (m_i² T/k) K₂(k m_i/T) e^{k μ_i/T}      (ħ = c = 1)

(upper sign bosons). With T_ch ≈ 156 MeV at μ_B ≈ 0 this reproduces the LHC hadron
ratios (Andronic, Braun-Munzinger, Redlich, Stachel, Nature 561 (2018) 321) once the
strong decays of the resonances are added (:mod:`qcdgen.hic.generators.decays`).

The species list is the set of hadrons whose main decays qcdgen performs, so every
resonance that is produced also feeds down; heavier states are left out, which lowers
the pion feed-down fraction compared with a full PDG gas (documented weakness).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import kn

from qcdgen.errors import InputError

__all__ = ["HRG_SPECIES", "HadronGas", "antiparticle", "SELF_CONJUGATE", "pdg_properties"]

HBARC = 0.1973269804  # GeV fm

#: particle codes (particles only; antiparticles are added) of the thermal species
HRG_SPECIES = (
    211, 111, 321, 311, 221, 213, 113, 223, 323, 313, 331, 333, 9010221, 225,
    2212, 2112, 3122, 3222, 3212, 3112, 2224, 2214, 2114, 1114, 3224, 3214, 3114,
    3322, 3312, 3324, 3314, 3334,
    # heavier states that feed the pions, kaons and nucleons
    20213, 20113, 10213, 10113, 10223, 215, 115, 20223, 335,
    10323, 10313, 20323, 20313, 325, 315,
    12212, 12112, 2124, 1214, 22212, 22112, 13122, 3124,
)
#: codes that are their own antiparticle
SELF_CONJUGATE = frozenset({111, 221, 331, 113, 223, 333, 9010221, 225, 22, 130, 310,
                            20113, 10113, 10223, 115, 20223, 335})


def antiparticle(code: int) -> int:
    return code if code in SELF_CONJUGATE else -code


@lru_cache(maxsize=None)
def pdg_properties(code: int) -> tuple[float, float, int, int]:
    """(mass GeV, width GeV, spin degeneracy 2J+1, baryon number) from the PDG table."""
    from fractions import Fraction

    from particle import Particle

    p = Particle.from_pdgid(code)
    spin = Fraction(str(p.J)) if p.J is not None else Fraction(0)
    width = (p.width or 0.0) / 1000.0
    baryon = int(np.sign(code)) if 1000 <= abs(code) < 10000 else 0
    return p.mass / 1000.0, width, int(2 * spin + 1), baryon


@dataclass(frozen=True)
class HadronGas:
    """Ideal hadron resonance gas at temperature ``T`` and baryon chemical potential ``mu_b`` (GeV)."""

    T: float = 0.156
    mu_b: float = 0.0
    terms: int = 8

    def __post_init__(self):
        if not (0.05 <= self.T <= 0.3):
            raise InputError(f"chemical freeze-out temperature must be in [0.05, 0.3] GeV, got {self.T}")
        if not abs(self.mu_b) < 0.9:
            raise InputError(f"mu_b must be below 0.9 GeV in magnitude, got {self.mu_b}")

    @property
    def codes(self) -> np.ndarray:
        out = []
        for c in HRG_SPECIES:
            out.append(c)
            if antiparticle(c) != c:
                out.append(antiparticle(c))
        return np.array(out, dtype=np.int64)

    def masses(self) -> np.ndarray:
        return np.array([pdg_properties(abs(int(c)))[0] for c in self.codes])

    def widths(self) -> np.ndarray:
        return np.array([pdg_properties(abs(int(c)))[1] for c in self.codes])

    def densities(self) -> np.ndarray:
        """Number densities n_i in fm⁻³ for :attr:`codes`, by the Bessel series above."""
        out = []
        T = self.T
        for c in self.codes:
            m, _, g, baryon = pdg_properties(abs(int(c)))
            b = baryon * int(np.sign(c))
            fermion = baryon != 0
            k = np.arange(1, self.terms + 1)
            sign = (-1.0) ** (k + 1) if fermion else np.ones_like(k, dtype=float)
            series = sign * (m * m * T / k) * kn(2, k * m / T) * np.exp(k * b * self.mu_b / T)
            out.append(g / (2 * np.pi ** 2) * series.sum() / HBARC ** 3)
        return np.array(out)

    def fractions(self) -> np.ndarray:
        """Share of each species in the total thermal hadron number (sums to 1)."""
        n = self.densities()
        return n / n.sum()
