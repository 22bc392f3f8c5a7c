"""Lattice φ⁴ with a trajectory-balance path sampler: ``qcdgen lattice path-train | path-sample``.

Training needs no ensemble: a controlled SDE (:mod:`qcdgen.diffusion.trajectory_balance`) is fitted
to e^{−S} alone, with periodic CNN drifts (odd in φ for the Z₂-symmetric action) plus the Langevin
term c_R(t)·(−∂S/∂φ). Sampling draws paths τ with their work W(τ) and corrects them exactly.

Exactness. The marginal density q(φ) of the endpoint x_K = φ is intractable, but independence
Metropolis–Hastings in *path* space, with target path density P_B(τ)e^{−S(x_K)}/Z and proposal
P_F(τ), has importance weight e^{−W(τ)} and leaves the x_K-marginal e^{−S}/Z invariant. ``draw``
therefore returns the effective path-space density

    log q_eff(τ) = −S(x_K) + W(τ),   so that   log w = −S(x_K) − log q_eff = −W(τ);

and log Z = log⟨e^{−W}⟩ (Jarzynski) comes with its delta-method error, from every path (also
without the Metropolis step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.diffusion.trajectory_balance import LOSSES, PathSampler, path_loss, sample_work, work_summary
from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.metropolis import json_dict
from qcdgen.lattice.samplers.protocol import LatticeSampler, TrainedSampler
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.stats import Estimate
from qcdgen.train import DatalessSettings

MODEL_KIND = "lattice-path-sampler"
BACKWARDS = ("learned", "fixed")


@dataclass(frozen=True)
class PathSettings:
    """Sampler, network and training settings (the ``qcdgen lattice path-train`` flags, one to one)."""

    time_steps: int = 8
    sigma: float = 1.0
    sigma0: float = 0.7
    channels: int = 8
    blocks: int = 1
    z2: bool = True
    backward: str = "learned"
    grad_clip: float = 100.0
    loss: str = "tb"
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    eval_paths: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("time_steps", "channels", "blocks", "steps", "batch_size"):
            check_positive_int(getattr(self, name), f"--{name.replace('_', '-')}")
        check_positive_int(self.eval_paths, "--eval-paths", minimum=2)
        for name in ("sigma", "sigma0", "grad_clip", "lr"):
            check_positive_float(getattr(self, name), f"--{name.replace('_', '-')}")
        if self.loss not in LOSSES:
            raise InputError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.backward not in BACKWARDS:
            raise InputError(f"--backward must be one of {', '.join(BACKWARDS)}, got {self.backward!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def dataless(self) -> DatalessSettings:
        return DatalessSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                                warmup=min(100, max(1, self.steps // 10)))


def build_path_sampler(action: Phi4Action, settings: PathSettings) -> PathSampler:
    """Periodic-CNN drifts (output layer zeroed: the untrained sampler is Gaussian importance sampling).

    The initial weights are drawn from ``settings.seed`` (the global random state is left alone),
    so the same settings give the same model.
    """

    def net() -> PeriodicScoreCNN:
        cnn = PeriodicScoreCNN(dim=action.dim, channels=settings.channels, blocks=settings.blocks, odd=settings.z2)
        torch.nn.init.zeros_(cnn.out.conv.weight)
        if cnn.out.conv.bias is not None:
            torch.nn.init.zeros_(cnn.out.conv.bias)
        return cnn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        return PathSampler(action.log_prob, action.force, action.site_shape, net(),
                           net() if settings.backward == "learned" else None, time_steps=settings.time_steps,
                           sigma=settings.sigma, sigma0=settings.sigma0, grad_clip=settings.grad_clip)


class LatticePathModel(TrainedSampler):
    """A trained path sampler: :class:`TrainedSampler` with the controlled SDE as ``sampler``."""

    sampler = property(lambda self: self.module)


class TrajectoryBalanceSampler(LatticeSampler):
    name = "path"
    kind = MODEL_KIND
    settings_type = PathSettings
    model_type = LatticePathModel
    study = True

    def build(self, settings, action, data=None):
        return build_path_sampler(action, settings)

    def loss(self, settings, action):
        return lambda m, n, g: path_loss(m, n, g, settings.loss)

    def evaluate(self, module, settings, action, generator):
        return work_summary(sample_work(module, settings.eval_paths, generator,
                                        batch_size=max(settings.batch_size, 256))[1])

    def draw(self, model, n, generator, options):
        x, work = model.module.sample(n, generator)
        return x, model.action.log_prob(x) + work  # log q_eff = −S(x_K) + W(τ)

    def label(self, model, options):
        return f"path-{model.settings.loss}" + ("+imh" if options.metropolis else "")

    def proposal_estimates(self, model, phi, log_q):
        """Jarzynski: log Z = log⟨e^{−W}⟩ and the ESS of e^{−W} over every path, and ⟨W⟩."""
        w = work_summary(log_q - model.action.log_prob(phi))
        return {"log_z": Estimate(w["log_z"], w["log_z_error"]), "importance_ess": w["ess"],
                "mean_work": Estimate(w["mean_work"], w["mean_work_error"])}

    def ensemble_attrs(self, model, result):
        s = result.settings
        return {"path_settings": json_dict(asdict(model.settings)),
                "sample_settings": json_dict({"configs": s.configs, "metropolis": s.metropolis, "chains": s.chains,
                                              "seed": s.seed}),
                "mean_work": result.mean_work.value, "mean_work_error": result.mean_work.error}

    def study_plan(self, study, volume):
        p = study.preset_values
        return {"train": PathSettings(time_steps=p.path_time_steps, channels=p.path_channels,
                                      steps=study.resolved("path_steps"), batch_size=p.batch(p.path_sites, volume),
                                      eval_paths=p.path_eval, seed=study.seed + 4),
                "sample": dict(configs=study.resolved("proposals"), chains=study.mh_chains, batch_size=500,
                               seed=study.seed + 14)}

    def study_note(self, model, result, data_sampler):
        return f"{model.settings.loss}, {model.settings.time_steps} time steps, restarts {len(model.restarts)}"
