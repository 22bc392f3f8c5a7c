"""One point (L, κ) of a sampler study: the plan of every run, running or reusing each row, validation.

Every finished row is written to ``OUT_DIR/L{L}_kappa{κ}/{sampler}.json`` with the full description of
the run that made it; a rerun with the same description reads it back (and reuses trained models),
so an interrupted study resumes. The generative samplers are the registered study samplers
(:func:`qcdgen.lattice.samplers.study_samplers`), each trained and sampled by the shared pipeline.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

from qcdgen.io import atomic_write_text
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.compare_samplers.settings import HMC_SAMPLERS, REFERENCE, CompareSettings
from qcdgen.lattice.compare_samplers.table import SamplerRow
from qcdgen.lattice.samplers import (LatticeSampler, get_sampler, load_sampler_model, sample_lattice_sampler,
                                     train_lattice_sampler)

ROW_KIND = "sampler-study-row"


def point_dir(out_dir: Path, size: int, kappa: float) -> Path:
    return Path(out_dir) / f"L{size}_kappa{kappa:g}"


def plans(settings: CompareSettings, size: int, kappa: float) -> dict[str, dict]:
    """The full configuration of every run at (L, κ): what a finished row must have been made with."""
    from qcdgen.lattice.hmc_ensemble import HMCSettings

    p, s = settings.preset_values, settings
    out: dict[str, dict] = {}
    for name in HMC_SAMPLERS:
        out[name] = {"hmc": HMCSettings(size=size, kappa=kappa, lam=s.lam, dim=s.dim,
                                        configs=s.resolved("hmc_configs"), chains=s.chains,
                                        seed=s.seed + (0 if name == "hmc" else 1), thermalize=p.thermalize,
                                        integrator="omelyan", fourier_acceleration=name == "hmc-fa",
                                        device=s.device)}
    for name in s.samplers:
        if name not in HMC_SAMPLERS:
            out[name] = get_sampler(name).study_plan(s, size ** s.dim)
    return out


def _identity(settings: CompareSettings, plan: dict) -> dict:
    """JSON-comparable description of a run (a finished row is reused only when it matches)."""
    out = {"lam": settings.lam, "dim": settings.dim, "max_abs_pull": settings.max_abs_pull,
           "device": settings.device}
    for key, value in plan.items():
        out[key] = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.loads(json.dumps(out))


def _row_path(out_dir: Path, size: int, kappa: float, sampler: str) -> Path:
    return point_dir(out_dir, size, kappa) / f"{sampler}.json"


def _load_row(path: Path, identity: dict) -> SamplerRow | None:
    """The finished row at ``path`` if it was made with ``identity`` and its ensemble is still there."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if payload.get("kind") != ROW_KIND or payload.get("identity") != identity:
        return None
    row = SamplerRow.from_dict(payload["row"])
    return row if Path(row.ensemble).is_file() else None


def _save_row(path: Path, identity: dict, row: SamplerRow) -> None:
    atomic_write_text(path, json.dumps({"kind": ROW_KIND, "identity": identity, "row": row.to_dict()},
                                       indent=2) + "\n")


def _validate(row: SamplerRow, reference: Path, settings: CompareSettings) -> None:
    from qcdgen.lattice.validation import validate_ensembles

    result = validate_ensembles(row.ensemble, reference, max_abs_pull=settings.max_abs_pull,
                                device=settings.device)
    pulls = [abs(r.pull) for r in result.table.rows]
    row.max_abs_pull = max(pulls) if pulls and all(math.isfinite(p) for p in pulls) else math.inf
    row.passed = bool(result.passed)
    failed_checks = [c.name for c in result.checks if not c.passed]
    if failed_checks:
        row.note = (row.note + "; " if row.note else "") + "failed: " + ", ".join(failed_checks)


def _run_hmc(name: str, plan: dict, directory: Path, progress: bool) -> SamplerRow:
    from qcdgen.lattice.hmc_ensemble import generate_hmc_ensemble

    hmc = plan["hmc"]
    out = directory / f"{name}.h5"
    result = generate_hmc_ensemble(out, hmc, progress=progress)
    tau = result.tau_int_abs_m
    return SamplerRow(sampler=name, size=hmc.size, kappa=hmc.kappa, lam=hmc.lam, exact=True,
                      configs=int(result.trajectories), configs_per_second=result.trajectories_per_second,
                      acceptance=result.acceptance.value, acceptance_error=result.acceptance.error,
                      tau_int=tau.value, tau_int_error=tau.error, ensemble=str(out),
                      note=f"{hmc.chains} chains, dt {result.step_size:.3g} x {result.n_steps}",
                      generation_seconds=float(sum(result.seconds.values())))


def _run_generative(spec: LatticeSampler, plan: dict, action: Phi4Action, directory: Path, data: SamplerRow | None,
                    device: str, progress: bool) -> SamplerRow:
    """Train (or reuse) and sample one generative sampler; ``data``: the HMC row it trains on, if it does."""
    model_path, out = directory / f"{spec.name}.pt", directory / f"{spec.name}.h5"
    settings = plan["train"]
    target = data.ensemble if spec.trains_on_data else action
    model = _reuse(spec, model_path, device, settings, target)
    if model is None:
        model = train_lattice_sampler(spec.name, target, model_path, settings, device=device, progress=progress)
    r = sample_lattice_sampler(model_path, out, {"metropolis": True, **plan["sample"]}, sampler=spec.name,
                               device=device, progress=progress)
    return SamplerRow(sampler=spec.name, size=action.size, kappa=action.kappa, lam=action.lam, exact=r.exact,
                      configs=r.configs, configs_per_second=r.proposals_per_second, acceptance=r.acceptance,
                      acceptance_error=r.acceptance_error, tau_int=r.tau_int_abs_m.value,
                      tau_int_error=r.tau_int_abs_m.error, train_seconds=float(model.train_seconds),
                      data_seconds=data.generation_seconds if data is not None else None, generation_seconds=r.seconds,
                      importance_ess=r.importance_ess, log_z=r.log_z.value if r.exact else None,
                      log_z_error=r.log_z.error if r.exact else None, ensemble=str(out),
                      note=spec.study_note(model, r, data.sampler if data is not None else None))


def _reuse(spec: LatticeSampler, path: Path, device: str, settings, target):
    """The trained model at ``path`` if it was made with ``settings`` on ``target`` (an interrupted study
    resumes), else None."""
    if not path.is_file():
        return None
    try:
        model = load_sampler_model(path, device, spec.name)
    except Exception:  # noqa: BLE001 - an unreadable or foreign file is simply retrained
        return None
    same_input = (model.training_file == str(Path(target).resolve()) if spec.trains_on_data
                  else model.action == target)
    return model if model.settings == settings and same_input else None


def run_point(settings: CompareSettings, size: int, kappa: float, out_dir: Path, progress: bool,
              reused: list[str]) -> list[SamplerRow]:
    """Every sampler of ``settings`` at (L, κ), HMC first; rows found finished are read back (their
    labels appended to ``reused``), the others run, validated against plain HMC and saved."""
    action = Phi4Action(size=size, kappa=kappa, lam=settings.lam, dim=settings.dim)
    directory = point_dir(out_dir, size, kappa)
    directory.mkdir(parents=True, exist_ok=True)
    point_plans = plans(settings, size, kappa)
    done: dict[str, SamplerRow] = {}
    for sampler in settings.samplers:
        plan = point_plans[sampler]
        if "data" in plan:  # the training data are part of what the row depends on
            plan = {**plan, "data_identity": _identity(settings, point_plans[plan["data"]])}
        identity = _identity(settings, plan)
        path = _row_path(out_dir, size, kappa, sampler)
        row = _load_row(path, identity)
        label = f"{sampler} L={size} kappa={kappa:g}"
        if row is not None:
            reused.append(label)
        else:
            t0 = time.perf_counter()
            if sampler in HMC_SAMPLERS:
                row = _run_hmc(sampler, plan, directory, progress)
            else:
                row = _run_generative(get_sampler(sampler), plan, action, directory, done.get(plan.get("data")),
                                      settings.device, progress)
            if sampler != REFERENCE:
                _validate(row, Path(done[REFERENCE].ensemble), settings)
            row.run_seconds = time.perf_counter() - t0
            _save_row(path, identity, row)
            if progress:
                print(f"  {label}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        done[sampler] = row
    return list(done.values())
