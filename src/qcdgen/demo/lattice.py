"""The lattice part of ``qcdgen demo``: HMC → diffusion training → sampling + Metropolis → validation.

2D φ⁴ at L = 8, κ = 0.21, λ = 0.022 by default (the ``quick`` preset); ``paper`` is the set-up of
Wang, Aarts & Zhou, JHEP 05 (2024) 060 (L = 32, 5120 configurations, VE SDE σ = 25; for a GPU).
The proposals carry their exact log q, so independence Metropolis against e^{−S} makes the
generated ensemble exact; the validation compares it with HMC observable by observable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from qcdgen.lattice.diffusion_sampling import SampleSettings, sample_lattice_diffusion
from qcdgen.lattice.diffusion_training import PAPER_DIFFUSION, DiffusionSettings, train_lattice_diffusion
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.validation import validate_ensembles
from qcdgen.stats.validation_result import ValidationResult


@dataclass(frozen=True)
class LatticeDemo:
    hmc: HMCSettings
    diffusion: DiffusionSettings
    sampling: SampleSettings


LATTICE_PRESETS = {
    "quick": LatticeDemo(
        hmc=HMCSettings(size=8, kappa=0.21, lam=0.022, configs=2048, chains=4, thermalize=300,
                        integrator="omelyan", fourier_acceleration=True),
        diffusion=DiffusionSettings(channels=16, blocks=2, steps=1500, batch_size=128, lr=3e-3),
        sampling=SampleSettings(configs=800, metropolis=True, ode_steps=12, solver="heun", divergence="exact"),
    ),
    "paper": LatticeDemo(
        hmc=HMCSettings(size=32, kappa=0.21, lam=0.022, configs=5120, chains=8, thermalize=1000,
                        integrator="omelyan", fourier_acceleration=True),
        diffusion=PAPER_DIFFUSION,
        sampling=SampleSettings(configs=5120, metropolis=True, ode_steps=32, solver="heun", divergence="hutchinson"),
    ),
}


def check_lattice_demo(p: LatticeDemo, seed: int, device: str, kappa: float | None) -> HMCSettings:
    """The HMC settings of the run; bad physics parameters are refused before anything is created."""
    hmc = replace(p.hmc, seed=seed, device=device, **({"kappa": kappa} if kappa is not None else {}))
    hmc.action()
    return hmc


def run_lattice_demo(out: Path, p: LatticeDemo, hmc: HMCSettings, seed: int, device: str, progress: bool,
                     log: Callable[[str], None]) -> ValidationResult:
    """Write OUT/{reference.h5, model.pt, generated.h5} and return the validation against HMC."""
    diffusion = replace(p.diffusion, seed=seed)
    sampling = replace(p.sampling, seed=seed + 1)
    log(f"HMC ground truth: {hmc.dim}D phi^4, L={hmc.size}, kappa={hmc.kappa}, lambda={hmc.lam}, "
        f"{hmc.configs} configurations")
    run = generate_hmc_ensemble(out / "reference.h5", hmc, progress=progress)
    log(f"  acceptance {run.acceptance.value:.3f}, tau_int(|M|) = {run.tau_int_abs_m.value:.2f} trajectories, "
        f"{run.trajectories_per_second:.0f} trajectories/s")
    log(f"training: VE SDE sigma={diffusion.sigma}, periodic CNN {diffusion.channels}x{diffusion.blocks} "
        f"(Z2-odd) + Gaussian score, {diffusion.steps} steps")
    model = train_lattice_diffusion(out / "reference.h5", out / "model.pt", diffusion, device=device,
                                    progress=progress)
    log(f"  {model.train_seconds:.0f} s, final loss {model.loss_values[-1]:.4f}")
    log(f"sampling {sampling.configs} proposals (probability-flow ODE, {sampling.ode_steps} {sampling.solver} "
        f"steps, log q {sampling.divergence}) + independence Metropolis")
    sampled = sample_lattice_diffusion(out / "model.pt", out / "generated.h5", sampling, device=device,
                                       progress=progress)
    log(f"  {sampled.proposals_per_second:.1f} proposals/s, acceptance {sampled.acceptance:.3f} "
        f"± {sampled.acceptance_error:.3f}, importance ESS/N {sampled.importance_ess:.3f}, "
        f"tau_int(|M|) = {sampled.tau_int_abs_m.value:.2f} ± {sampled.tau_int_abs_m.error:.2f}")
    log("validation against HMC")
    return validate_ensembles(out / "generated.h5", out / "reference.h5", device=device)
