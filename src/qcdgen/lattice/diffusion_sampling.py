"""Generate lattice configurations with a trained diffusion model: ``qcdgen lattice sample``.

Samplers:

- ``ode`` (default): probability-flow ODE with the log-density log q of every proposal
  (exact Jacobians on lattices of up to ``EXACT_MAX_SITES`` sites, Hutchinson otherwise);
- ``sde``: Euler–Maruyama on the reverse SDE; ``pc``: predictor–corrector (no log q).

Exactness: ``metropolis=True`` runs independence Metropolis–Hastings against e^{−S} with
w = e^{−S}/q (exact when log q is exact, i.e. ``divergence="exact"``); ``mala_steps`` then
applies that many MALA steps on the true action to every configuration.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from qcdgen.diffusion import flow_sample, reverse_sde_sample
from qcdgen.errors import InputError
from qcdgen.io import Ensemble, check_writable, write_ensemble
from qcdgen.lattice.diffusion_training import load_model
from qcdgen.lattice.metropolis import MetropolisSummary, draw_proposals, ensemble_attrs, metropolis_correct
from qcdgen.mcmc import MALA
from qcdgen.runtime import make_generator, resolve_device, threads_for
from qcdgen.stats import Estimate
from qcdgen.stats._validate import check_positive_int

EXACT_MAX_SITES = 256
CHECKPOINT_KIND = "lattice-diffusion-sampling"


@dataclass(frozen=True)
class SampleSettings:
    """The ``qcdgen lattice sample`` flags, one to one."""

    configs: int
    sampler: str = "ode"
    metropolis: bool = False
    chains: int = 1
    ode_steps: int = 12
    solver: str = "heun"
    divergence: str = "auto"
    sde_steps: int = 200
    corrector_steps: int = 1
    mala_steps: int = 0
    mala_step_size: float = 0.05
    batch_size: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.configs, "--configs", minimum=2)
        if self.sampler not in ("ode", "sde", "pc"):
            raise InputError(f"--sampler must be ode, sde or pc, got {self.sampler!r}")
        if self.metropolis and self.sampler != "ode":
            raise InputError("--metropolis needs the log-density of the proposals: use --sampler ode")
        if self.divergence not in ("auto", "exact", "hutchinson"):
            raise InputError(f"--divergence must be auto, exact or hutchinson, got {self.divergence!r}")
        for name in ("ode_steps", "sde_steps", "batch_size", "chains"):
            check_positive_int(getattr(self, name), f"--{name.replace('_', '-')}")
        check_positive_int(self.mala_steps, "--mala-steps", minimum=0)
        if not (self.mala_step_size > 0 and math.isfinite(self.mala_step_size)):
            raise InputError(f"--mala-step-size must be a finite number > 0, got {self.mala_step_size!r}")
        if self.metropolis and self.configs < 2 * self.chains:
            raise InputError(f"--configs must be at least 2 per Metropolis chain, got {self.configs} "
                             f"for {self.chains} chains")

    def resolved_divergence(self, volume: int) -> str:
        if self.divergence != "auto":
            return self.divergence
        return "exact" if volume <= EXACT_MAX_SITES else "hutchinson"


@dataclass
class SampleResult:
    """What a sampling run measured about itself."""

    settings: SampleSettings
    divergence: str
    proposals_per_second: float
    seconds: float
    acceptance: float = math.nan
    acceptance_error: float = math.nan
    importance_ess: float = math.nan
    tau_int_abs_m: Estimate = Estimate(math.nan, math.nan)
    log_z: Estimate = Estimate(math.nan, math.nan)
    mala_acceptance: float = math.nan
    exact: bool = False


def _draw_batch(model, settings: SampleSettings, n: int, divergence: str, generator, device):
    shape = (n, *model.action.site_shape)
    if settings.sampler == "ode":
        fs = flow_sample(model.score, model.sde, shape, settings.ode_steps, generator, device,
                         divergence=divergence, solver=settings.solver)
        return fs.x, fs.log_q
    x = reverse_sde_sample(model.score, model.sde, shape, settings.sde_steps, generator, device,
                           corrector_steps=settings.corrector_steps if settings.sampler == "pc" else 0)
    return x, torch.full((n,), math.nan, dtype=torch.float64, device=device)


def _mala(action, phi: torch.Tensor, settings: SampleSettings, generator) -> tuple[torch.Tensor, float]:
    sampler = MALA(lambda x: (action.log_prob(x), action.force(x)), settings.mala_step_size)
    state = sampler.init(phi)
    probs = []
    for _ in range(settings.mala_steps):
        state, prob = sampler.step(state, generator)
        probs.append(prob.mean())
    return state.position, float(torch.stack(probs).mean())


def sample_lattice_diffusion(model_path: str | Path, out: str | Path, settings: SampleSettings,
                             device: str = "cpu", progress: bool = True, checkpoint: str | Path | None = None,
                             stop_after: int | None = None) -> SampleResult:
    """Draw ``settings.configs`` proposals, optionally correct them, and write an HDF5 ensemble."""
    out = check_writable(out, "ensemble")
    dev = resolve_device(device)
    model = load_model(model_path, dev)
    action = model.action
    divergence = settings.resolved_divergence(action.volume)
    ckpt_path = Path(checkpoint) if checkpoint is not None else out.with_name(out.name + ".ckpt.pt")
    check_writable(ckpt_path, "checkpoint")
    generator = make_generator(settings.seed, dev)
    identity = {"settings": asdict(settings), "model": str(Path(model_path).resolve())}
    # exact log q: V vector-Jacobian products per network call, and V x V log-determinants
    work = settings.batch_size * model.settings.channels * action.volume * (action.volume if divergence == "exact" else 1)
    with threads_for(work, dev):
        phi, log_q, seconds = draw_proposals(
            lambda n, gen: _draw_batch(model, settings, n, divergence, gen, dev), settings.configs,
            settings.batch_size, generator, ckpt_path, CHECKPOINT_KIND, identity, f"sampling ({settings.sampler})",
            progress=progress, stop_after=stop_after)
    phi, log_q = phi.to(dev), log_q.to(dev)
    result = SampleResult(settings=settings, divergence=divergence, seconds=seconds,
                          proposals_per_second=settings.configs / max(seconds, 1e-12))
    chain = np.zeros(settings.configs, dtype=np.int32)
    if settings.metropolis:
        phi, chain, imh = metropolis_correct(action, phi, log_q, generator, chains=settings.chains)
        result.acceptance, result.acceptance_error = imh.acceptance, imh.acceptance_error
        result.importance_ess, result.tau_int_abs_m, result.log_z = imh.importance_ess, imh.tau_int_abs_m, imh.log_z
        result.exact = divergence == "exact"
    if settings.mala_steps:
        phi, result.mala_acceptance = _mala(action, phi, settings, generator)
    write_ensemble(out, Ensemble(phi=phi.cpu().numpy(), chain=chain, attrs=_attrs(model, model_path, result)))
    ckpt_path.unlink(missing_ok=True)
    return result


def _attrs(model, model_path, result: SampleResult) -> dict:
    s = result.settings
    sampler = f"diffusion-{s.sampler}" + ("+imh" if s.metropolis else "") + (f"+mala{s.mala_steps}" if s.mala_steps else "")
    summary = MetropolisSummary(acceptance=result.acceptance, acceptance_error=result.acceptance_error,
                                importance_ess=result.importance_ess, tau_int_abs_m=result.tau_int_abs_m,
                                log_z=result.log_z)
    return ensemble_attrs(model.action, sampler=sampler, exact=result.exact, seed=s.seed, model_path=model_path,
                          summary=summary, proposals_per_second=result.proposals_per_second, seconds=result.seconds,
                          train_seconds=model.train_seconds, loss_steps=model.loss_steps,
                          loss_values=model.loss_values, training_file=model.training_file,
                          heldout_fraction=model.settings.heldout_fraction, sde=json_dict(model.sde.to_dict()),
                          sample_settings=json_dict(asdict(s)), divergence=result.divergence,
                          mala_acceptance=result.mala_acceptance)


def json_dict(d: dict) -> dict:
    """A dict of plain values (written as a JSON attribute by the ensemble writer)."""
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in d.items()}
