"""The shared pipeline of every generative lattice sampler: train, save, load, sample, correct, judge.

- :func:`train_lattice_sampler`: build the network from its settings, train it (on an HMC ensemble
  with :func:`qcdgen.train.train_model` and EMA weights, or on e^{−S} alone with
  :func:`qcdgen.train.train_dataless`, NaN restarts included), checkpoint every minute and on Ctrl-C,
  resume a rerun with the same settings, evaluate, and write one model file;
- one model-file format for all samplers (atomic ``.pt``, loaded with ``weights_only=True``):
  ``kind`` (which sampler), ``format``, ``config``, ``action``, ``weights``, ``curves``, ``restarts``,
  ``train_seconds``, ``evaluation`` and the training file of a data-trained sampler;
- :func:`sample_lattice_sampler`: draw proposals with their log q in checkpointed batches (resumed),
  correct them by independence Metropolis against e^{−S}, and write the HDF5 ensemble;
- the exact log Z (:func:`~qcdgen.lattice.exact.exact_log_partition`, the free field) and the pull of
  the estimated log Z against it come back in the result objects.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.io import Ensemble, check_writable, load_checkpoint, save_checkpoint, write_ensemble
from qcdgen.io.checkpoint import default_checkpoint_path
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import exact_log_partition
from qcdgen.lattice.metropolis import MetropolisSummary, draw_proposals, ensemble_attrs, metropolis_correct
from qcdgen.lattice.samplers.protocol import SampleResult, TrainedSampler, pull
from qcdgen.lattice.theories import action_from_dict
from qcdgen.lattice.samplers.registry import get_sampler, model_kinds, sampler_for_kind
from qcdgen.runtime import keep_freed_memory, make_generator, resolve_device, threads_for
from qcdgen.train import train_dataless, train_model
from qcdgen.train.distributed import distributed_context, local_device

MODEL_FORMAT = "qcdgen-lattice-sampler/1"
SAMPLING_KIND = "lattice-sampling"


def as_action(action):
    """An action object (:class:`Phi4Action`, :class:`~qcdgen.lattice.u1.action.U1Action`), or one made from a
    mapping of its parameters (size, kappa, lam, dim for φ⁴; ``action="u1"``, size, beta for U(1))."""
    if hasattr(action, "log_prob"):
        return action
    params = dict(action)
    return action_from_dict(params) if "action" in params else Phi4Action(**params)


def known_log_z(action: Phi4Action, log_z: float, error: float) -> tuple[float | None, float]:
    """The exact log Z of ``action`` (None when unknown) and the pull of ``log_z ± error`` against it."""
    exact = exact_log_partition(action)
    return exact, (pull(log_z, error, exact) if exact is not None else math.nan)


def train_lattice_sampler(name: str, target, out: str | Path, settings=None, device: str = "cpu",
                          checkpoint: str | Path | None = None, progress: bool = True,
                          stop_after: int | None = None, init: str | Path | None = None) -> TrainedSampler:
    """Train the registered sampler ``name`` and save it to ``out`` (atomic ``.pt``).

    ``target``: the HMC ensemble file for a sampler that trains on data, else the action (a
    :class:`Phi4Action` or a mapping of its parameters). ``settings``: the sampler's settings, or a
    mapping of flags (None: defaults). Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``) when a
    run with the same inputs and settings was interrupted. ``init``: a model file of the same sampler,
    architecture and lattice whose weights start the training (fine-tuning, e.g. annealing in the coupling
    β or κ: each stage starts from the last). Under torchrun the training is data-parallel and rank 0 writes.
    """
    spec = get_sampler(name)
    settings = spec.make_settings(settings)
    action = None if spec.trains_on_data else as_action(target)
    if action is not None:
        spec.check(settings, action)
    out = check_writable(out, "model")
    dev = resolve_device(device)
    ctx = distributed_context(dev)
    dev = local_device(dev, ctx)
    data = spec.training_data(target, settings, dev) if spec.trains_on_data else None
    if data is not None:
        action = data.action
        meta = {"ensemble": data.file, "configs": data.configs, **asdict(settings)}
    else:
        meta = {"action": action.to_dict(), **asdict(settings)}
    module = spec.build(settings, action, data.phi if data is not None else None).to(dev)
    if init is not None:
        start_from(module, init, spec, action, dev)
        meta["init"] = str(Path(init).resolve())
    common = dict(checkpoint=checkpoint if checkpoint is not None else default_checkpoint_path(out), meta=meta,
                  progress=progress, stop_after=stop_after, description=f"training {spec.name}")
    with threads_for(spec.work(settings, action), dev):
        if data is not None:
            result = train_model(module, spec.loss(settings, action), data.phi, spec.training_settings(settings),
                                 augment=spec.augment(settings), **common)
            module.load_state_dict(result.ema_state)
        else:
            result = train_dataless(module, spec.loss(settings, action), spec.training_settings(settings),
                                    device=dev, **common)
        module.eval()
        evaluation = spec.evaluate(module, settings, action, make_generator(settings.seed + 1, dev))
    model = _model(spec, module, action, settings, result.steps, result.losses, getattr(result, "metrics", {}),
                   getattr(result, "restarts", []), result.seconds, evaluation,
                   data.file if data is not None else None, data.configs if data is not None else None)
    if ctx.is_main:
        save_sampler_model(out, model)
        spec.saved(out, model)
    return model


def start_from(module, init, spec, action, device) -> None:
    """Load the weights of model file ``init`` into ``module`` (same sampler, lattice and architecture)."""
    start = load_sampler_model(init, device, spec.name)
    if tuple(start.action.site_shape) != tuple(action.site_shape):
        raise InputError(f"--init {init} was trained on a lattice of shape {tuple(start.action.site_shape)}, "
                         f"not {tuple(action.site_shape)}")
    try:
        module.load_state_dict(start.module.state_dict())
    except RuntimeError:
        raise InputError(f"--init {init} has another architecture than the settings asked for "
                         f"(layers, channels, bins must match)") from None


def _model(spec, module, action, settings, steps, losses, metrics, restarts, seconds, evaluation, training_file,
           training_configs) -> TrainedSampler:
    exact, log_z_pull = known_log_z(action, evaluation.get("log_z", math.nan), evaluation.get("log_z_error", math.nan))
    return spec.model_type(spec=spec, module=module, action=action, settings=settings, loss_steps=np.asarray(steps),
                           loss_values=np.asarray(losses), metrics={k: np.asarray(v) for k, v in metrics.items()},
                           restarts=list(restarts), train_seconds=float(seconds), evaluation=dict(evaluation),
                           training_file=training_file, training_configs=training_configs, exact_log_z=exact,
                           log_z_pull=log_z_pull)


def save_sampler_model(path: str | Path, model: TrainedSampler) -> None:
    """The one model-file format (atomic ``.pt``); ``kind`` says which sampler wrote it."""
    save_checkpoint(path, {
        "kind": model.spec.kind,
        "format": MODEL_FORMAT,
        "sampler": model.spec.name,
        "config": asdict(model.settings),
        "action": model.action.to_dict(),
        "weights": {k: v.detach().cpu() for k, v in model.module.state_dict().items()},
        "curves": {"steps": [int(s) for s in model.loss_steps], "loss": [float(v) for v in model.loss_values],
                   **{k: [float(x) for x in v] for k, v in model.metrics.items()}},
        "restarts": [{"step": int(r["step"]), "cause": str(r["cause"]), "lr_scale": float(r["lr_scale"])}
                     for r in model.restarts],
        "train_seconds": float(model.train_seconds),
        "evaluation": {k: (int(v) if isinstance(v, (int, np.integer)) else float(v))
                       for k, v in model.evaluation.items()},
        "training_file": model.training_file,
        "training_configs": None if model.training_configs is None else int(model.training_configs),
    })


def load_sampler_model(path: str | Path, device: str | torch.device = "cpu",
                       sampler: str | None = None) -> TrainedSampler:
    """Read a model file of any registered sampler (of ``sampler`` only, when given), older layouts included."""
    payload = load_checkpoint(path, get_sampler(sampler).kind if sampler is not None else model_kinds())
    spec = sampler_for_kind(payload["kind"])
    if payload.get("format") != MODEL_FORMAT:
        payload = spec.upgrade(payload)
    settings = spec.settings_type(**payload["config"])
    action = action_from_dict(payload["action"])
    module = spec.build(settings, action)
    module.load_state_dict(payload["weights"])
    module.to(resolve_device(device)).eval()
    curves = dict(payload["curves"])
    steps, losses = curves.pop("steps"), curves.pop("loss")
    return _model(spec, module, action, settings, steps, losses, curves, payload.get("restarts", []),
                  payload["train_seconds"], payload.get("evaluation", {}), payload.get("training_file"),
                  payload.get("training_configs"))


def sample_lattice_sampler(model_path: str | Path, out: str | Path, settings, sampler: str | None = None,
                           device: str = "cpu", progress: bool = True, checkpoint: str | Path | None = None,
                           stop_after: int | None = None) -> SampleResult:
    """Draw ``settings.configs`` proposals from the model at ``model_path``, correct them by independence
    Metropolis (``settings.metropolis``), and write the HDF5 ensemble ``out``.

    ``settings``: the sampler's sampling settings or a mapping of flags; ``sampler``: refuse a model
    file of another sampler. Interrupted runs resume from ``checkpoint`` (default ``OUT.ckpt.pt``).
    """
    if sampler is not None:  # bad flags are refused before any file is touched
        settings = get_sampler(sampler).make_sampling(settings)
    out = check_writable(out, "ensemble")
    dev = resolve_device(device)
    model = load_sampler_model(model_path, dev, sampler)
    spec = model.spec
    options = spec.make_sampling(settings)
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(out)
    check_writable(ckpt_path, "checkpoint")
    generator = make_generator(options.seed, dev)
    identity = {"sampler": spec.name, "model": str(Path(model_path).resolve()), "settings": asdict(options),
                "device": dev.type}
    keep_freed_memory()  # large tensors rebuilt every step: no mmap/munmap churn
    with threads_for(spec.sampling_work(model, options), dev):
        phi, log_q, seconds = draw_proposals(lambda n, gen: spec.draw(model, n, gen, options), options.configs,
                                             options.batch_size, generator, ckpt_path, SAMPLING_KIND, identity,
                                             f"sampling ({spec.name})", progress=progress, stop_after=stop_after)
    estimates = spec.proposal_estimates(model, phi, log_q) or {}
    phi, log_q = phi.to(dev), log_q.to(dev)
    chain = np.zeros(options.configs, dtype=np.int32)
    summary = None
    if options.metropolis:
        phi, chain, summary = metropolis_correct(model.action, phi, log_q, generator, chains=options.chains)
    phi, extra = spec.finish(model, phi, options, generator)
    shown = summary or MetropolisSummary()
    log_z = estimates.pop("log_z", shown.log_z)
    exact_log_z, log_z_pull = known_log_z(model.action, log_z.value, log_z.error)
    result = SampleResult(name=spec.name, sampler=spec.label(model, options), settings=options, seconds=seconds,
                          proposals_per_second=options.configs / max(seconds, 1e-12),
                          train_seconds=model.train_seconds, summary=summary,
                          exact=bool(options.metropolis and spec.exact_log_q(model, options)), log_z=log_z,
                          importance_ess=estimates.pop("importance_ess", shown.importance_ess),
                          exact_log_z=exact_log_z, log_z_pull=log_z_pull, extra={**estimates, **extra})
    attrs = ensemble_attrs(model.action, sampler=result.sampler, exact=result.exact, seed=options.seed,
                           model_path=model_path, summary=summary, proposals_per_second=result.proposals_per_second,
                           seconds=seconds, train_seconds=model.train_seconds, loss_steps=model.loss_steps,
                           loss_values=model.loss_values, **spec.ensemble_attrs(model, result))
    attrs.update({"importance_ess": result.importance_ess, "log_z": log_z.value, "log_z_error": log_z.error})
    write_ensemble(out, Ensemble(phi=phi.cpu().numpy(), chain=chain, attrs=attrs))
    ckpt_path.unlink(missing_ok=True)
    return result


__all__ = ["MODEL_FORMAT", "as_action", "known_log_z", "train_lattice_sampler", "save_sampler_model",
           "load_sampler_model", "sample_lattice_sampler"]
