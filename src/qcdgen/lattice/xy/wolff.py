"""Ground-truth XY ensembles: ``qcdgen lattice xy-wolff``.

A Monte Carlo step of every chain is ``clusters`` Wolff clusters, ``overrelax`` over-relaxation
sweeps and one Metropolis sweep (:mod:`qcdgen.lattice.xy.monte_carlo`); ``--clusters 0 --overrelax 0``
is plain Metropolis. The run has the phases of :mod:`qcdgen.lattice.hmc_ensemble`, all checkpointed
(same seed and settings → the same ensemble, interrupted or not):

1. ``thermalize``: steps from a hot start; with ``clusters=None`` the mean cluster size ⟨|C|⟩ is
   measured and the number of clusters per step fixed to ⌈V/⟨|C|⟩⌉ (about one lattice of flipped spins),
   at most :data:`MAX_AUTO_CLUSTERS`;
2. ``pilot``: the integrated autocorrelation times of |M| and of the energy (Γ method over chains);
   the spacing of saved configurations is ⌈2 (τ_int + δτ_int)⌉ steps of the slower one. The pilot
   doubles (up to :data:`PILOT_MAX` steps) while it is shorter than 25 τ_int or the window is not found;
3. ``production``: one configuration saved every ``separation`` steps per chain; |M| and e are
   recorded at every step, so τ_int in steps comes out with its error.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.io import Ensemble, write_ensemble
from qcdgen.lattice.phased_run import checkpoint_paths, drive_phases
from qcdgen.lattice.xy import monte_carlo as mc
from qcdgen.lattice.xy.action import XYAction
from qcdgen.stats import Estimate, gamma_method

CHECKPOINT_KIND = "xy-wolff-ensemble"
PILOT_MIN = 200
PILOT_MAX = 12800
PILOT_TAUS = 25
MAX_AUTO_CLUSTERS = 8  # at high T clusters are tiny and the local sweeps decorrelate anyway


@dataclass(frozen=True, kw_only=True)
class WolffSettings:
    """An XY Monte Carlo run (the ``xy-wolff`` flags, one to one)."""

    size: int
    temperature: float
    configs: int
    chains: int = 4
    seed: int = 0
    thermalize: int = 500
    separation: int | None = None  # None: from the pilot's τ_int
    clusters: int | None = None  # Wolff clusters per step; None: ⌈V/⟨|C|⟩⌉ after thermalisation
    overrelax: int = 1
    metropolis: int = 1

    def __post_init__(self) -> None:
        self.action()
        mc.torus(self.size)  # even L
        for name in ("configs", "chains"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"--{name} must be an integer >= 1, got {value!r}")
        if self.configs < 2 * self.chains:
            raise InputError(f"--configs must be at least 2 per chain (2 x --chains = {2 * self.chains}), "
                             f"got {self.configs}")
        for name, minimum in (("seed", 0), ("thermalize", 0), ("overrelax", 0), ("metropolis", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise InputError(f"--{name} must be an integer >= {minimum}, got {value!r}")
        for name in ("separation", "clusters"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0
                                      or (name == "separation" and value < 1)):
                raise InputError(f"--{name} must be an integer >= {1 if name == 'separation' else 0}, got {value!r}")
        if self.clusters == 0 and self.metropolis == 0:
            raise InputError("--clusters 0 with --metropolis 0 is not ergodic (over-relaxation keeps the energy)")

    def action(self) -> XYAction:
        return XYAction(size=self.size, temperature=self.temperature)

    def kept_per_chain(self) -> list[int]:
        base, extra = divmod(self.configs, self.chains)
        return [base + (c < extra) for c in range(self.chains)]

    @property
    def sampler(self) -> str:
        if self.clusters == 0:
            return "metropolis" + (f"+or{self.overrelax}" if self.overrelax else "")
        return "wolff" + (f"+or{self.overrelax}" if self.overrelax else "") + ("+metropolis" if self.metropolis else "")


@dataclass
class WolffRunResult:
    """Summary of a finished run (also stored as file attributes)."""

    settings: WolffSettings
    clusters: int
    separation: int
    cluster_size: float  # mean Wolff cluster size / V (NaN without clusters)
    acceptance: float  # Metropolis acceptance
    tau_int: Estimate  # of |M|, in steps, production history
    tau_int_energy: Estimate  # of e, in steps
    steps: int  # production steps over all chains
    seconds: dict = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        """Chain steps per second of production (all chains)."""
        return self.steps / max(self.seconds.get("production", 0.0), 1e-12)

    @property
    def seconds_per_independent(self) -> float:
        """Cost per independent configuration, 2 max(τ_int(|M|), τ_int(e)) / (steps per second)."""
        return 2.0 * max(self.tau_int.value, self.tau_int_energy.value) / self.steps_per_second


def _tau(series: np.ndarray, quiet: bool = False) -> Estimate:
    """τ_int of a [time, chains] series (chains as replicas), as Estimate(τ, δτ)."""
    if np.ptp(series) == 0:
        return Estimate(math.nan, math.nan)
    chains = np.repeat(np.arange(series.shape[1]), series.shape[0])
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        est = gamma_method(series.T.reshape(-1), replicas=chains)
    return Estimate(est.tau_int, est.tau_int_error)


class _Run:
    def __init__(self, settings: WolffSettings):
        self.settings = s = settings
        self.action = s.action()
        self.graph = mc.torus(s.size)
        self.rng = np.random.default_rng(s.seed)
        self.theta = self.rng.uniform(-math.pi, math.pi, (s.chains, self.graph.sites))
        self.phase, self.done = "thermalize", 0
        self.clusters = s.clusters if s.clusters is not None else 1
        self.separation = s.separation
        self.pilot_length = PILOT_MIN
        self.cluster_sizes: list[float] = []
        self.acceptance: list[float] = []
        self.pilot: list[np.ndarray] = []  # [2, chains] per step: |M|, e
        self.history: list[np.ndarray] = []
        self.saved: list[np.ndarray] = []
        self.seconds = {"thermalize": 0.0, "pilot": 0.0, "production": 0.0}

    def state_dict(self) -> dict:
        stack = lambda xs, shape: torch.as_tensor(np.stack(xs)) if xs else torch.empty(shape)  # noqa: E731
        c, v = self.settings.chains, self.graph.sites
        return {"kind": CHECKPOINT_KIND, "settings": asdict(self.settings), "theta": torch.as_tensor(self.theta),
                "rng": self.rng.bit_generator.state, "phase": self.phase, "done": self.done,
                "clusters": self.clusters, "separation": self.separation, "pilot_length": self.pilot_length,
                "cluster_sizes": list(self.cluster_sizes), "acceptance": list(self.acceptance),
                "pilot": stack(self.pilot, (0, 2, c)), "history": stack(self.history, (0, 2, c)),
                "saved": stack(self.saved, (0, c, v)), "seconds": dict(self.seconds)}

    def load_state_dict(self, ckpt: dict) -> None:
        self.theta = ckpt["theta"].numpy().copy()
        self.rng.bit_generator.state = ckpt["rng"]
        self.phase, self.done = ckpt["phase"], int(ckpt["done"])
        self.clusters, self.separation = int(ckpt["clusters"]), ckpt["separation"]
        self.pilot_length = int(ckpt["pilot_length"])
        self.cluster_sizes, self.acceptance = list(ckpt["cluster_sizes"]), list(ckpt["acceptance"])
        self.pilot = list(ckpt["pilot"].numpy())
        self.history = list(ckpt["history"].numpy())
        self.saved = list(ckpt["saved"].numpy())
        self.seconds = dict(ckpt["seconds"])

    def phase_length(self) -> int:
        s = self.settings
        if self.phase == "thermalize":
            return s.thermalize
        if self.phase == "pilot":
            return self.pilot_length
        return max(s.kept_per_chain()) * self.separation

    def measure(self) -> np.ndarray:
        """[|M|/V, e] per chain (NumPy: called every step)."""
        c, s = np.cos(self.theta), np.sin(self.theta)
        m = np.hypot(c.sum(1), s.sum(1)) / self.graph.sites
        return np.stack([m, -2.0 * mc.bond_cosines(self.theta, self.graph)])

    def advance_phase(self) -> None:
        if self.phase == "thermalize":
            if self.settings.clusters is None:
                sizes = [x for x in self.cluster_sizes if math.isfinite(x)]
                mean = float(np.mean(sizes[len(sizes) // 2:])) if sizes else 1.0
                self.clusters = max(1, min(MAX_AUTO_CLUSTERS, math.ceil(self.graph.sites / mean)))
            self.cluster_sizes, self.acceptance = [], []
            self.phase, self.done = ("pilot" if self.separation is None else "production"), 0
        elif self.phase == "pilot":
            series = np.stack(self.pilot)  # [steps, 2, chains]
            taus = []
            window_found = True
            for k in range(2):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    taus.append(_tau(series[:, k]))
                window_found &= not any("window" in str(w.message).lower() for w in caught)
            tau = max(taus, key=lambda t: t.value if math.isfinite(t.value) else -1.0)
            if not math.isfinite(tau.value):
                tau = Estimate(0.5, 0.0)
            if (not window_found or self.pilot_length < PILOT_TAUS * tau.value) and self.pilot_length < PILOT_MAX:
                self.pilot_length *= 2
                return
            self.separation = max(1, math.ceil(2.0 * (tau.value + tau.error)))
            self.phase, self.done = "production", 0

    def step_phase(self) -> None:
        s = self.settings
        clusters = self.clusters if (s.clusters is None or s.clusters > 0) else 0
        info = mc.update(self.theta, self.graph, self.action.beta, self.rng, clusters, s.overrelax, s.metropolis)
        self.cluster_sizes.append(info["cluster_size"])
        self.acceptance.append(info["acceptance"])
        if self.phase == "pilot":
            self.pilot.append(self.measure())
        elif self.phase == "production":
            self.history.append(self.measure())
            if (self.done + 1) % self.separation == 0:
                self.saved.append(self.theta.copy())
        self.done += 1


def generate_wolff_ensemble(out: str | Path, settings: WolffSettings, checkpoint: str | Path | None = None,
                            checkpoint_seconds: float = 60.0, progress: bool = True,
                            stop_after: int | None = None) -> WolffRunResult:
    """Run the XY Monte Carlo of ``settings`` and write the ensemble ``out`` (HDF5, atomic; dataset ``phi``
    holds the angles [configs, L, L]). Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``)."""
    out, ckpt_path = checkpoint_paths(out, checkpoint)
    run = _Run(settings)
    drive_phases(run, ckpt_path, CHECKPOINT_KIND, asdict(settings), lambda r: f"clusters/step={r.clusters}",
                 progress=progress, checkpoint_seconds=checkpoint_seconds, stop_after=stop_after)
    result = _summarise(run)
    write_ensemble(out, _to_ensemble(run, result))
    ckpt_path.unlink(missing_ok=True)
    return result


def _summarise(run: _Run) -> WolffRunResult:
    history = np.stack(run.history)  # [steps, 2, chains]
    sizes = [x for x in run.cluster_sizes if math.isfinite(x)]
    return WolffRunResult(
        settings=run.settings, clusters=run.clusters if run.settings.clusters != 0 else 0,
        separation=run.separation,
        cluster_size=float(np.mean(sizes)) / run.graph.sites if sizes else math.nan,
        acceptance=float(np.mean(run.acceptance)) if run.settings.metropolis else math.nan,
        tau_int=_tau(history[:, 0]), tau_int_energy=_tau(history[:, 1]),
        steps=history.shape[0] * history.shape[2], seconds=dict(run.seconds))


def _to_ensemble(run: _Run, result: WolffRunResult) -> Ensemble:
    s = run.settings
    saved = np.stack(run.saved).transpose(1, 0, 2)  # [chains, per_chain, V]
    kept = s.kept_per_chain()
    phi = np.concatenate([saved[c, :kept[c]] for c in range(s.chains)]).reshape(-1, s.size, s.size)
    chain = np.concatenate([np.full(kept[c], c, dtype=np.int32) for c in range(s.chains)])
    attrs = {**run.action.to_dict(), "sampler": s.sampler, "exact": 1, "seed": s.seed,
             "wolff_settings": {k: v for k, v in asdict(s).items()}, "clusters_per_step": result.clusters,
             "separation": result.separation, "mean_cluster_fraction": result.cluster_size,
             "acceptance": result.acceptance, "tau_int_abs_m": result.tau_int.value,
             "tau_int_abs_m_error": result.tau_int.error, "tau_int_energy": result.tau_int_energy.value,
             "tau_int_energy_error": result.tau_int_energy.error, "steps_per_second": result.steps_per_second,
             "seconds": result.seconds}
    return Ensemble(phi=phi, chain=chain, attrs=attrs)
