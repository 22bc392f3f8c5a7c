"""Exact lattice ensembles from any proposal with a tractable density: independence Metropolis–Hastings.

Every generative sampler with a log-density (diffusion ODE, normalizing flow, path sampler with its
path weight) hands its proposals φ_i ~ q and log q(φ_i) here. The weights w_i = e^{−S(φ_i)}/q(φ_i)
give, in one pass,

- the corrected chain (Tierney 1994; :func:`qcdgen.mcmc.independence_metropolis`), exact for any q
  that covers p, with its acceptance and the τ_int of the action's tracked observable (|M|, Q; Γ method);
- the normalised importance ESS (Kish) and log Z = log⟨w⟩_q with its error, which HMC cannot give.

:func:`draw_proposals` is the shared checkpointed batch loop that produces (φ_i, log q_i), and
:func:`ensemble_attrs` the attributes every generated ensemble carries.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.io import load_matching_checkpoint, save_checkpoint
from qcdgen.mcmc import independence_metropolis, log_partition_estimate
from qcdgen.runtime import CheckpointedLoop
from qcdgen.stats import Estimate, gamma_method
from qcdgen.checks import check_positive_int


@dataclass
class MetropolisSummary:
    """Diagnostics of one independence-Metropolis correction."""

    acceptance: float = math.nan
    acceptance_error: float = math.nan
    importance_ess: float = math.nan
    tau_int: Estimate = Estimate(math.nan, math.nan)  # of the action's tracked observable (|M|, Q)
    log_z: Estimate = Estimate(math.nan, math.nan)
    tracked: str = "abs_m"  # the action's ``tracked_name``

    @property
    def tau_int_abs_m(self) -> Estimate:
        """τ_int(|M|) of a φ⁴ chain (the tracked observable)."""
        return self.tau_int

    def attrs(self) -> dict:
        """Plain ensemble attributes (the names :mod:`qcdgen.lattice.validation` shows)."""
        return {"acceptance": self.acceptance, "acceptance_error": self.acceptance_error,
                "importance_ess": self.importance_ess, f"tau_int_{self.tracked}": self.tau_int.value,
                f"tau_int_{self.tracked}_error": self.tau_int.error, "log_z": self.log_z.value,
                "log_z_error": self.log_z.error}


def tracked_tau_int(action, phi: torch.Tensor, chain: np.ndarray) -> Estimate:
    """τ_int of the action's tracked observable (|M| for φ⁴, Q for U(1)) over the chains labelled by
    ``chain`` (Γ method, Wolff 2004)."""
    series = action.tracked(phi).cpu().numpy()
    if np.ptp(series) == 0:  # e.g. a chain that never left its topological sector
        return Estimate(math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: the window warning is expected
        tau = gamma_method(series, replicas=chain)
    return Estimate(tau.tau_int, tau.tau_int_error)


def metropolis_correct(action, phi: torch.Tensor, log_q: torch.Tensor, generator: torch.Generator,
                       chains: int = 1) -> tuple[torch.Tensor, np.ndarray, MetropolisSummary]:
    """Correct proposals ``phi`` [n, *site_shape] with densities ``log_q`` [n] towards e^{−S}.

    Returns the chain configurations (a proposal repeated while rejected), the chain label of
    each, and the diagnostics. Raises :class:`~qcdgen.errors.NaNError` on a NaN log-weight.
    """
    log_w = (action.log_prob(phi.to(torch.float64)) - log_q.to(torch.float64)).detach()
    imh = independence_metropolis(log_w, generator, chains=chains)
    out = phi[torch.as_tensor(imh.index, device=phi.device)]
    log_z = log_partition_estimate(log_w.cpu().numpy())
    summary = MetropolisSummary(acceptance=imh.acceptance, acceptance_error=imh.acceptance_error,
                                importance_ess=imh.importance_ess, tau_int=tracked_tau_int(action, out, imh.chain),
                                log_z=Estimate(*log_z), tracked=action.tracked_name)
    return out, imh.chain, summary


def check_sampling_args(configs: int, chains: int, batch_size: int, metropolis: bool) -> None:
    """Refuse bad ``--configs``, ``--chains``, ``--batch-size`` before any work (InputError naming the flag)."""
    check_positive_int(configs, "--configs", minimum=2)
    check_positive_int(chains, "--chains")
    check_positive_int(batch_size, "--batch-size")
    if metropolis and configs < 2 * chains:
        raise InputError(f"--configs must be at least 2 per Metropolis chain, got {configs} for {chains} chains")


def draw_proposals(draw, configs: int, batch_size: int, generator: torch.Generator, checkpoint: Path,
                   kind: str, identity: dict, description: str, progress: bool = True,
                   stop_after: int | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Draw ``configs`` proposals in batches with ``draw(n, generator) -> (phi [n, ...], log_q [n])``.

    The loop shows progress and checkpoints to ``checkpoint`` (resumed if present and written by
    a run with the same ``identity``; removed by the caller once the ensemble is written).
    Returns float64 CPU ``phi``, ``log_q`` and the seconds spent inside ``draw``.
    """
    xs, log_qs, seconds = [], [], 0.0
    if checkpoint.exists():
        ckpt = load_matching_checkpoint(checkpoint, kind, "identity", identity)
        xs, log_qs, seconds = list(ckpt["x"]), list(ckpt["log_q"]), float(ckpt["seconds"])
        generator.set_state(ckpt["generator"])

    def save() -> None:
        save_checkpoint(checkpoint, {"kind": kind, "identity": identity, "x": xs, "log_q": log_qs,
                                     "seconds": seconds, "generator": generator.get_state()})

    n_batches = math.ceil(configs / batch_size)
    with CheckpointedLoop(save, description, total=n_batches, completed=len(xs), progress=progress,
                          stop_after=stop_after) as loop:
        while len(xs) < n_batches:
            n = min(batch_size, configs - len(xs) * batch_size)
            t0 = time.perf_counter()
            x, log_q = draw(n, generator)
            seconds += time.perf_counter() - t0
            xs.append(x.detach().double().cpu())
            log_qs.append(log_q.detach().double().cpu())
            loop.step(status=f"{sum(len(b) for b in xs)} configs")
    return torch.cat(xs), torch.cat(log_qs), seconds


def ensemble_attrs(action, *, sampler: str, exact: bool, seed: int, model_path, summary: MetropolisSummary | None,
                   proposals_per_second: float, seconds: float, train_seconds: float, loss_steps, loss_values,
                   **extra) -> dict:
    """The HDF5 attributes every generative lattice sampler writes (read by :mod:`~qcdgen.lattice.validation`).

    ``extra`` adds sampler-specific plain values (settings dicts must already be JSON-able).
    """
    return {
        **action.to_dict(),
        "sampler": sampler,
        "exact": int(exact),
        "seed": seed,
        "model_file": str(Path(model_path).resolve()),
        **(summary if summary is not None else MetropolisSummary()).attrs(),
        "proposals_per_second": proposals_per_second,
        "sampling_seconds": seconds,
        "train_seconds": train_seconds,
        "loss_steps": [int(v) for v in loss_steps],
        "loss_values": [float(v) for v in loss_values],
        **extra,
    }


def json_dict(d: dict) -> dict:
    """A dict of plain values (written as a JSON attribute by the ensemble writer)."""
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in d.items()}
