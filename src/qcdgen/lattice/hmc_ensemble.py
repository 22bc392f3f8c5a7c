"""Ground-truth ensembles from HMC (φ⁴; U(1) gauge links via :mod:`qcdgen.lattice.u1.hmc`):
thermalise and tune, measure τ_int, then sample.

The run has three phases, all checkpointed so an interrupted run resumes exactly where it
stopped (same seed and parameters → bit-identical result, interrupted or not):

1. ``thermalize``: trajectories with the step size tuned by dual averaging towards the
   target acceptance; afterwards the step size is frozen.
2. ``pilot``: trajectories that measure the integrated autocorrelation time of the action's
   tracked observable (|M| for φ⁴, the topological charge Q for U(1); Γ-method over chains); the
   default separation between saved configurations is ⌈2 (τ_int + δτ_int)⌉ trajectories. The pilot doubles (up to 12800 trajectories) while it is
   shorter than 25 τ_int per chain or the Γ-method window cannot be fixed.
3. ``production``: one configuration saved every ``separation`` trajectories per chain,
   the tracked observable and ΔH recorded at every trajectory so τ_int and ⟨e^{−ΔH}⟩ come out with errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.io import Ensemble, write_ensemble
from qcdgen.io.checkpoint import default_checkpoint_path  # noqa: F401 (also imported from here)
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.phased_run import checkpoint_paths, drive_phases
from qcdgen.mcmc import HMC, DualAveraging, FourierKinetic
from qcdgen.runtime import make_generator, resolve_device, threaded
from qcdgen.stats import Estimate, gamma_method

CHECKPOINT_KIND = "hmc-ensemble"
PILOT_MIN = 200
PILOT_MAX = 12800
PILOT_TAUS = 25  # the pilot must span this many τ_int per chain


@dataclass(frozen=True, kw_only=True)
class MarkovSettings:
    """The Markov-chain part of an HMC run (flags shared by every theory; the action comes from a subclass)."""

    configs: int
    chains: int = 4
    seed: int = 0
    thermalize: int = 500
    separation: int | None = None  # None: ⌈2 (τ_int + δτ_int)⌉ of the tracked observable from the pilot
    integrator: str = "omelyan"
    trajectory_length: float = 1.0
    step_size: float = 0.1
    target_acceptance: float = 0.8
    fourier_acceleration: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("configs", "chains"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"--{name} must be an integer >= 1, got {value!r}")
        if self.configs < 2:
            raise InputError(f"--configs must be >= 2 (errors need at least two), got {self.configs}")
        if self.configs < 2 * self.chains:
            raise InputError(f"--configs must be at least 2 per chain (2 x --chains = {2 * self.chains}), "
                             f"got {self.configs}; lower --chains or raise --configs")
        if not isinstance(self.thermalize, int) or self.thermalize < 0:
            raise InputError(f"--thermalize must be an integer >= 0, got {self.thermalize!r}")
        if self.separation is not None and (not isinstance(self.separation, int) or self.separation < 1):
            raise InputError(f"--separation must be an integer >= 1, got {self.separation!r}")

    @property
    def configs_per_chain(self) -> int:
        """Configurations generated per chain; chains beyond ``configs % chains`` keep one fewer."""
        return math.ceil(self.configs / self.chains)

    def kept_per_chain(self) -> list[int]:
        base, extra = divmod(self.configs, self.chains)
        return [base + (c < extra) for c in range(self.chains)]

    def action(self):
        raise NotImplementedError

    def kinetic(self, action, device):
        """The kinetic term: None (Euclidean) unless Fourier acceleration is asked for."""
        if self.fourier_acceleration:
            return FourierKinetic(action.fourier_acceleration_kernel(device=device))
        return None


@dataclass(frozen=True, kw_only=True)
class HMCSettings(MarkovSettings):
    """Everything that defines a φ⁴ HMC ensemble run (the CLI flags, one to one)."""

    size: int
    kappa: float
    lam: float
    dim: int = 2

    def action(self) -> Phi4Action:
        return Phi4Action(size=self.size, kappa=self.kappa, lam=self.lam, dim=self.dim)


@dataclass
class HMCRunResult:
    """Summary of a finished run (also stored as file attributes)."""

    settings: HMCSettings
    step_size: float
    n_steps: int
    separation: int
    acceptance: Estimate
    exp_minus_dh: Estimate
    mean_dh: Estimate
    tau_int: Estimate  # of the action's tracked observable (|M|, Q), in trajectories, from the production history
    tau_int_saved: Estimate  # of the same in the saved series, in units of saved configurations
    trajectories: int  # production trajectories over all chains
    seconds: dict = field(default_factory=dict)

    @property
    def tau_int_abs_m(self) -> Estimate:
        """τ_int(|M|) of a φ⁴ run (the tracked observable)."""
        return self.tau_int

    @property
    def trajectories_per_second(self) -> float:
        return self.trajectories / max(self.seconds.get("production", 0.0), 1e-12)


class _Run:
    """State of one HMC run; every field that matters for resuming is in :meth:`state_dict`."""

    def __init__(self, settings: HMCSettings):
        self.settings = settings
        self.action = settings.action()
        self.device = resolve_device(settings.device)
        self.generator = make_generator(settings.seed, self.device)
        kinetic = settings.kinetic(self.action, self.device)
        self.hmc = HMC(lambda x: (self.action.log_prob(x), self.action.force(x)),
                       step_size=settings.step_size, trajectory_length=settings.trajectory_length,
                       integrator=settings.integrator, kinetic=kinetic)
        self.adapter = DualAveraging(settings.step_size, target=settings.target_acceptance)
        start = self.action.random_start(settings.chains, self.generator, self.device)
        self.state = self.hmc.init(start)
        self.phase = "thermalize"
        self.done = 0  # trajectories done in the current phase (per chain)
        self.pilot_length = PILOT_MIN
        self.separation = settings.separation
        self.pilot_tracked: list[torch.Tensor] = []
        self.tracked: list[torch.Tensor] = []  # production, every trajectory [chains]
        self.delta_h: list[torch.Tensor] = []
        self.accept_prob: list[torch.Tensor] = []
        self.saved: list[torch.Tensor] = []  # [chains, *site] each
        self.seconds = {"thermalize": 0.0, "pilot": 0.0, "production": 0.0}

    # -------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        stack = lambda xs, shape: torch.stack(xs).cpu() if xs else torch.empty(shape)  # noqa: E731
        chains = self.settings.chains
        return {
            "kind": CHECKPOINT_KIND,
            "settings": asdict(self.settings),
            "position": self.state.position.cpu(),
            "generator": self.generator.get_state().cpu(),
            "adapter": self.adapter.state_dict(),
            "step_size": self.hmc.step_size,
            "phase": self.phase,
            "done": self.done,
            "pilot_length": self.pilot_length,
            "separation": self.separation,
            "pilot_tracked": stack(self.pilot_tracked, (0, chains)),
            "tracked": stack(self.tracked, (0, chains)),
            "delta_h": stack(self.delta_h, (0, chains)),
            "accept_prob": stack(self.accept_prob, (0, chains)),
            "saved": stack(self.saved, (0, chains, *self.action.site_shape)),
            "seconds": dict(self.seconds),
        }

    def load_state_dict(self, ckpt: dict) -> None:
        dev = self.device
        self.state = self.hmc.init(ckpt["position"].to(dev))
        self.generator.set_state(ckpt["generator"])
        self.adapter.load_state_dict(ckpt["adapter"])
        self.hmc.step_size = float(ckpt["step_size"])
        self.phase, self.done = ckpt["phase"], int(ckpt["done"])
        self.pilot_length, self.separation = int(ckpt["pilot_length"]), ckpt["separation"]
        unstack = lambda t: [row.to(dev) for row in t]  # noqa: E731
        self.pilot_tracked = unstack(ckpt["pilot_tracked"])
        self.tracked = unstack(ckpt["tracked"])
        self.delta_h = unstack(ckpt["delta_h"])
        self.accept_prob = unstack(ckpt["accept_prob"])
        self.saved = unstack(ckpt["saved"])
        self.seconds = dict(ckpt["seconds"])

    # ------------------------------------------------------------------ phases
    def trajectory(self):
        self.state, info = self.hmc.step(self.state, self.generator)
        if not torch.all(torch.isfinite(self.state.position)):
            raise NaNError("HMC produced a non-finite field; lower --step-size or check the action parameters")
        return info

    def phase_length(self) -> int:
        s = self.settings
        if self.phase == "thermalize":
            return s.thermalize
        if self.phase == "pilot":
            return self.pilot_length
        return s.configs_per_chain * self.separation

    def advance_phase(self) -> None:
        """Move to the next phase once the current one is complete."""
        if self.phase == "thermalize":
            if self.settings.thermalize > 0:
                self.hmc.step_size = self.adapter.final_step_size
            self.phase, self.done = ("pilot" if self.separation is None else "production"), 0
        elif self.phase == "pilot":
            series = torch.stack(self.pilot_tracked).cpu().numpy()  # [trajectories, chains]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                tau = _tau_over_chains(series)
            window_found = not any("window" in str(w.message).lower() for w in caught)
            too_short = not window_found or self.pilot_length < PILOT_TAUS * tau.tau_int
            if too_short and self.pilot_length < PILOT_MAX:
                self.pilot_length *= 2  # chains too short to trust τ_int: keep going
                return
            # upper 1σ estimate: a noisy pilot must not leave saved configurations correlated
            self.separation = max(1, math.ceil(2.0 * (tau.tau_int + tau.tau_int_error)))
            self.phase, self.done = "production", 0

    def step_phase(self) -> None:
        info = self.trajectory()
        if self.phase == "thermalize":
            self.hmc.step_size = self.adapter.update(float(info.acceptance_prob.mean()))
        elif self.phase == "pilot":
            self.pilot_tracked.append(self.action.tracked(self.state.position))
        else:
            self.tracked.append(self.action.tracked(self.state.position))
            self.delta_h.append(info.delta_h)
            self.accept_prob.append(info.acceptance_prob)
            if (self.done + 1) % self.separation == 0:
                self.saved.append(self.state.position.clone())
        self.done += 1


def _tau_over_chains(series: np.ndarray) -> Estimate:
    """Γ-method τ_int of a [time, chains] series, chains as independent replicas."""
    chains = np.repeat(np.arange(series.shape[1]), series.shape[0])
    return gamma_method(series.T.reshape(-1), replicas=chains)


@threaded(lambda a: a["settings"].chains * math.prod(a["settings"].action().site_shape))
def generate_hmc_ensemble(out: str | Path, settings: HMCSettings, checkpoint: str | Path | None = None,
                          checkpoint_seconds: float = 60.0, progress: bool = True,
                          stop_after: int | None = None, resume: bool = True) -> HMCRunResult:
    """Run HMC for ``settings`` and write the ensemble to ``out`` (HDF5, atomic).

    A checkpoint is written to ``checkpoint`` (default ``OUT.ckpt.pt``) every
    ``checkpoint_seconds`` and on Ctrl-C; rerunning the same call resumes from it, and it is
    removed once the ensemble is written. ``stop_after`` interrupts after that many
    trajectories (used by the resume tests) as a Ctrl-C would.
    """
    out, ckpt_path = checkpoint_paths(out, checkpoint)
    run = _Run(settings)
    drive_phases(run, ckpt_path, CHECKPOINT_KIND, asdict(settings),
                 lambda r: f"dt={r.hmc.dt:.3g} n={r.hmc.n_steps}", progress=progress,
                 checkpoint_seconds=checkpoint_seconds, stop_after=stop_after, resume=resume)
    result = _summarise(run)
    write_ensemble(out, _to_ensemble(run, result))
    ckpt_path.unlink(missing_ok=True)
    return result


def _summarise(run: _Run) -> HMCRunResult:
    s = run.settings
    tracked = torch.stack(run.tracked).cpu().numpy()  # [trajectories, chains]
    delta_h = torch.stack(run.delta_h).cpu().numpy()
    accept = torch.stack(run.accept_prob).cpu().numpy()
    saved = tracked[run.separation - 1 :: run.separation]
    if not np.all(np.isfinite(delta_h)):
        n_bad = int((~np.isfinite(delta_h)).sum())
        warnings.warn(f"{n_bad} trajectories diverged (ΔH = inf) and were rejected; consider a smaller step size")
    finite = np.where(np.isfinite(delta_h), delta_h, np.inf)
    return HMCRunResult(
        settings=s,
        step_size=run.hmc.dt,
        n_steps=run.hmc.n_steps,
        separation=run.separation,
        acceptance=_tau_over_chains(accept),
        exp_minus_dh=_tau_over_chains(np.exp(-finite)),
        mean_dh=_tau_over_chains(delta_h) if np.all(np.isfinite(delta_h)) else Estimate(math.inf, math.nan),
        tau_int=_tau_estimate(tracked),
        tau_int_saved=_tau_estimate(saved, quiet=True) if len(saved) >= 4 else Estimate(math.nan, math.nan),
        trajectories=tracked.size,
        seconds=dict(run.seconds),
    )


def _tau_estimate(series: np.ndarray, quiet: bool = False) -> Estimate:
    """τ_int of a [time, chains] series as an Estimate (value τ_int, error δτ_int)."""
    with warnings.catch_warnings():
        if quiet:  # a short diagnostic series; its window warning would only be noise
            warnings.simplefilter("ignore")
        est = _tau_over_chains(series)
    return Estimate(est.tau_int, est.tau_int_error)


def _to_ensemble(run: _Run, result: HMCRunResult) -> Ensemble:
    s = run.settings
    name = run.action.tracked_name
    saved = torch.stack(run.saved).transpose(0, 1).cpu().numpy()  # [chains, per_chain, *site]
    kept = s.kept_per_chain()
    phi = np.concatenate([saved[c, :n] for c, n in enumerate(kept)])  # chain-major, MC order
    if hasattr(run.action, "canonical"):  # e.g. link angles wrapped into (−π, π]
        phi = run.action.canonical(phi)
    chain = np.repeat(np.arange(s.chains, dtype=np.int32), kept)
    attrs = {
        **run.action.to_dict(),
        "sampler": "hmc",
        "seed": s.seed,
        "chains": s.chains,
        "integrator": s.integrator,
        "fourier_acceleration": int(s.fourier_acceleration),
        "trajectory_length": s.trajectory_length,
        "step_size": result.step_size,
        "n_steps": result.n_steps,
        "thermalize": s.thermalize,
        "separation": result.separation,
        "acceptance": result.acceptance.value,
        "acceptance_error": result.acceptance.error,
        "exp_minus_dh": result.exp_minus_dh.value,
        "exp_minus_dh_error": result.exp_minus_dh.error,
        f"tau_int_{name}": result.tau_int.value,
        f"tau_int_{name}_error": result.tau_int.error,
        f"tau_int_saved_{name}": result.tau_int_saved.value,
        f"tau_int_saved_{name}_error": result.tau_int_saved.error,
        "mean_delta_h": result.mean_dh.value,
        "mean_delta_h_error": result.mean_dh.error,
        "device": s.device,
    }
    return Ensemble(phi=phi, attrs=attrs, chain=chain)
