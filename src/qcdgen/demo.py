"""The end-to-end demo: HMC → train → sample (+ Metropolis) → validate → report.

It orchestrates every layer (lattice pipelines and the report), so it sits on top beside
the CLI. ``run_demo`` takes the same arguments as ``qcdgen demo``.

Presets:

- ``quick`` (default, minutes on 2 CPU cores): 2D φ⁴, L = 8, κ = 0.21, λ = 0.022, 2048 HMC
  configurations, a small Z₂-odd periodic CNN on top of the fitted Gaussian score, exact
  probability-flow log q and independence Metropolis.
- ``paper`` (for a GPU): the set-up of Wang, Aarts & Zhou, JHEP 05 (2024) 060: L = 32,
  κ = 0.21, λ = 0.022, 5120 HMC configurations, VE SDE with σ = 25, T = 1.

Writes DIR/reference.h5, DIR/model.pt, DIR/generated.h5, DIR/validation.json, DIR/report.html.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from qcdgen.errors import InputError
from qcdgen.lattice.diffusion_sampling import SampleSettings, sample_lattice_diffusion
from qcdgen.lattice.diffusion_training import PAPER_DIFFUSION, DiffusionSettings, train_lattice_diffusion
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.validation import validate_ensembles
from qcdgen.stats.validation_result import ValidationResult


@dataclass(frozen=True)
class DemoPreset:
    hmc: HMCSettings
    diffusion: DiffusionSettings
    sampling: SampleSettings


PRESETS = {
    "quick": DemoPreset(
        hmc=HMCSettings(size=8, kappa=0.21, lam=0.022, configs=2048, chains=4, thermalize=300,
                        integrator="omelyan", fourier_acceleration=True),
        diffusion=DiffusionSettings(channels=16, blocks=2, steps=1500, batch_size=128, lr=3e-3),
        sampling=SampleSettings(configs=800, metropolis=True, ode_steps=12, solver="heun", divergence="exact"),
    ),
    "paper": DemoPreset(
        hmc=HMCSettings(size=32, kappa=0.21, lam=0.022, configs=5120, chains=8, thermalize=1000,
                        integrator="omelyan", fourier_acceleration=True),
        diffusion=PAPER_DIFFUSION,
        sampling=SampleSettings(configs=5120, metropolis=True, ode_steps=32, solver="heun", divergence="hutchinson"),
    ),
}


def _prepare(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {str(out)!r}: cannot create the directory ({exc.strerror})") from None
    return out


def run_demo(out: str | Path = "qcdgen-demo", preset: str | DemoPreset = "quick", seed: int = 0,
             device: str = "cpu", kappa: float | None = None, progress: bool | None = None) -> ValidationResult:
    """Run the whole chain and return the validation result (also written as JSON and HTML)."""
    from qcdgen.report import write_report

    if isinstance(preset, DemoPreset):
        p = preset
    elif preset in PRESETS:
        p = PRESETS[preset]
    else:
        raise InputError(f"--preset must be one of {sorted(PRESETS)}, got {preset!r}")
    hmc = replace(p.hmc, seed=seed, device=device, **({"kappa": kappa} if kappa is not None else {}))
    hmc.action()  # refuse bad physics parameters before creating anything
    out = _prepare(Path(out))
    show = sys.stderr.isatty() if progress is None else progress
    diffusion = replace(p.diffusion, seed=seed)
    sampling = replace(p.sampling, seed=seed + 1)

    print(f"[1/4] HMC ground truth: {hmc.dim}D phi^4, L={hmc.size}, kappa={hmc.kappa}, lambda={hmc.lam}, "
          f"{hmc.configs} configurations")
    run = generate_hmc_ensemble(out / "reference.h5", hmc, progress=show)
    print(f"      acceptance {run.acceptance.value:.3f}, tau_int(|M|) = {run.tau_int_abs_m.value:.2f} trajectories, "
          f"{run.trajectories_per_second:.0f} trajectories/s")
    print(f"[2/4] training: VE SDE sigma={diffusion.sigma}, periodic CNN {diffusion.channels}x{diffusion.blocks} "
          f"(Z2-odd) + Gaussian score, {diffusion.steps} steps")
    model = train_lattice_diffusion(out / "reference.h5", out / "model.pt", diffusion, device=device, progress=show)
    print(f"      {model.train_seconds:.0f} s, final loss {model.loss_values[-1]:.4f}")
    print(f"[3/4] sampling {sampling.configs} proposals (probability-flow ODE, {sampling.ode_steps} "
          f"{sampling.solver} steps, log q {sampling.divergence}) + independence Metropolis")
    sampled = sample_lattice_diffusion(out / "model.pt", out / "generated.h5", sampling, device=device, progress=show)
    print(f"      {sampled.proposals_per_second:.1f} proposals/s, acceptance {sampled.acceptance:.3f} "
          f"± {sampled.acceptance_error:.3f}, "
          f"importance ESS/N {sampled.importance_ess:.3f}, tau_int(|M|) = {sampled.tau_int_abs_m.value:.2f} "
          f"± {sampled.tau_int_abs_m.error:.2f}")
    print("[4/4] validation against HMC")
    result = validate_ensembles(out / "generated.h5", out / "reference.h5", device=device)
    write_report(result, html_path=out / "report.html", json_path=out / "validation.json")
    print(result.table.format())
    for check in result.checks:
        print(f"{check.name}: {'PASSED' if check.passed else 'FAILED'}: {check.detail}")
    worst = max(abs(r.pull) for r in result.table.rows)
    print(f"\n{'PASS' if result.passed else 'FAIL'}: max |pull| = {worst:.2f} over {len(result.table.rows)} "
          f"observables; wrote {out}/ (report.html, validation.json)")
    return result
