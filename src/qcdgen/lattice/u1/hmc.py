"""HMC ensembles of 2D U(1) gauge theory: ``qcdgen lattice u1-hmc``.

The link angles are the HMC coordinates (a flat torus, so the Euclidean kinetic term and plain
leapfrog/Omelyan integration are exact up to ΔH); the force is the analytic −∂S/∂θ of
:class:`~qcdgen.lattice.u1.action.U1Action`. Thermalisation, step-size tuning, the pilot that sets
the spacing of saved configurations from τ_int(Q), checkpoints and resume are those of
:mod:`qcdgen.lattice.hmc_ensemble`; Q is the slow mode (topological freezing at large β).
"""

from __future__ import annotations

from dataclasses import dataclass

from qcdgen.errors import InputError
from qcdgen.lattice.hmc_ensemble import MarkovSettings, generate_hmc_ensemble
from qcdgen.lattice.u1.action import U1Action

__all__ = ["U1HMCSettings", "generate_hmc_ensemble"]


@dataclass(frozen=True, kw_only=True)
class U1HMCSettings(MarkovSettings):
    """A U(1) HMC run (the ``u1-hmc`` flags): lattice extent and Wilson coupling plus the chain flags."""

    size: int
    beta: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fourier_acceleration:
            raise InputError("Fourier acceleration is a φ⁴ option; U(1) HMC runs on link angles without it")
        self.action()

    def action(self) -> U1Action:
        return U1Action(size=self.size, beta=self.beta)
