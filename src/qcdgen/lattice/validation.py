"""Judge a generated ensemble against a reference one: ``qcdgen lattice validate``.

Produces a :class:`~qcdgen.stats.validation_result.ValidationResult`: the pull table over
every observable of :mod:`qcdgen.lattice.observables` (Γ-method errors on both sides, so
Metropolis repeats and HMC autocorrelations are accounted for), G(r) and the cumulants
κ_n as curves, histograms of M and of single-site φ, example configurations, the training
loss curve, and the memorisation check when the training ensemble is known.

Each quantity is one row of the table and counts once in χ²/ndf: observables that are the
same estimator of the same data as another one (:data:`ALIASES`, e.g. κ₂ ≡ χ₂) are left out of
the table and listed in ``result.aliases`` (the report names them under the table). ``measure`` and
``qcdgen lattice observe`` keep every name.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.io import read_ensemble
from qcdgen.lattice.theories import action_from_dict
from qcdgen.lattice.diffusion_training import split_heldout
from qcdgen.lattice.memorisation import memorisation_check
from qcdgen.lattice.observables import MAX_CUMULANT, magnetisation, measure
from qcdgen.stats.compare import compare
from qcdgen.stats.validation_result import Histogram, Series, ValidationResult

EXAMPLES = 6
#: dropped name -> kept name: identical functions of the same per-configuration primaries, so the
#: same number with the same error (κ₂ = K₂(Φ)/V = χ₂; site κ₂ = ⟨φ²⟩ − ⟨M⟩² = G(0)). ``phi2`` = ⟨φ²⟩
#: is not among them: it differs from G(0) by the disconnected part ⟨M⟩².
ALIASES = {"kappa2": "chi2", "site_kappa2": "G_r0"}
#: an alias is merged only if value and error agree to this relative precision on both sides
ALIAS_RTOL = 1e-9
#: run-info attributes that are booleans (HDF5 stores them as 0/1 integers)
BOOLEAN_ATTRS = ("exact",)


def _series(name, x, ref, gen, keys, xlabel, ylabel, y_scale: str = "linear") -> Series:
    return Series(name=name, x=np.asarray(x, float),
                  reference=np.array([ref[k].value for k in keys]), reference_error=np.array([ref[k].error for k in keys]),
                  generated=np.array([gen[k].value for k in keys]), generated_error=np.array([gen[k].error for k in keys]),
                  xlabel=xlabel, ylabel=ylabel, y_scale=y_scale)


def _histogram(name: str, ref: np.ndarray, gen: np.ndarray, xlabel: str, taus=(0.5, 0.5),
               bins: int = 40) -> Histogram:
    """Common bins over the central 99.9% of both samples; the entries outside are counted, not lost."""
    both = np.concatenate([ref, gen])
    lo, hi = np.quantile(both[np.isfinite(both)], [0.0005, 0.9995])
    if not hi > lo:  # a (nearly) constant sample: one unit-wide range around it
        lo, hi = lo - 0.5, hi + 0.5
    return Histogram.from_samples(name, ref, gen, np.linspace(lo, hi, bins + 1), xlabel=xlabel,
                                  reference_tau_int=taus[0], generated_tau_int=taus[1])


def _same(a, b) -> bool:
    return all(math.isclose(float(x), float(y), rel_tol=ALIAS_RTOL, abs_tol=1e-300)
               for x, y in ((a.value, b.value), (a.error, b.error)))


def merge_aliases(reference: dict, generated: dict) -> tuple[dict, dict, dict[str, str]]:
    """Drop the :data:`ALIASES` of ``reference``/``generated`` estimates that duplicate a kept name.

    Returns the two reduced mappings (same order otherwise) and ``{dropped: kept}``. A pair is
    merged only where both names are present on both sides and agree (value and error, to
    :data:`ALIAS_RTOL`) on both sides, so a real difference is never hidden.
    """
    merged = {}
    for dropped, kept in ALIASES.items():
        present = all(n in side for n in (dropped, kept) for side in (reference, generated))
        if present and _same(reference[dropped], reference[kept]) and _same(generated[dropped], generated[kept]):
            merged[dropped] = kept
    def keep(est: dict) -> dict:
        return {k: v for k, v in est.items() if k not in merged}

    return keep(reference), keep(generated), merged


def _info_value(key: str, value) -> str:
    if key in BOOLEAN_ATTRS and isinstance(value, (bool, np.bool_, int, np.integer)) and int(value) in (0, 1):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def _info(gen_path, ref_path, gen_attrs: dict, ref_attrs: dict, n_gen: int, n_ref: int) -> dict[str, str]:
    info = {
        "generated file": f"{gen_path} ({n_gen} configurations, sampler {gen_attrs.get('sampler', '?')})",
        "reference file": f"{ref_path} ({n_ref} configurations, sampler {ref_attrs.get('sampler', '?')})",
    }
    if gen_attrs.get("action") == "phi4":
        info["action"] = (f"phi^4, d={gen_attrs['dim']}, L={gen_attrs['size']}, kappa={gen_attrs['kappa']}, "
                          f"lambda={gen_attrs['lam']}")
    if isinstance(gen_attrs.get("acceptance"), float) and isinstance(gen_attrs.get("acceptance_error"), float):
        gen_attrs = {**gen_attrs, "acceptance": f"{gen_attrs['acceptance']:.4g} ± {gen_attrs['acceptance_error']:.2g}"}
    for key, label in (("acceptance", "Metropolis acceptance"), ("importance_ess", "importance ESS / N"),
                       ("tau_int_abs_m", "tau_int(|M|) of the generated chain"),
                       ("tau_int_q", "tau_int(Q) of the generated chain"),
                       ("mala_acceptance", "MALA acceptance"), ("divergence", "log q from"),
                       ("proposals_per_second", "proposals per second"), ("train_seconds", "training time [s]"),
                       ("exact", "exact (Metropolis with exact log q)")):
        value = gen_attrs.get(key)
        if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
            continue
        info[label] = _info_value(key, value)
    return info


def _loss_curve(attrs: dict):
    try:
        steps, values = json.loads(attrs["loss_steps"]), json.loads(attrs["loss_values"])
    except (KeyError, TypeError, ValueError):
        return None
    return (np.asarray(steps), np.asarray(values)) if steps else None


def validate_ensembles(generated: str | Path, reference: str | Path, training: str | Path | None = None,
                       max_abs_pull: float = 3.0, device: str = "cpu") -> ValidationResult:
    """Compare ``generated`` with ``reference`` (both qcdgen HDF5 ensembles of the same action).

    ``training`` is the ensemble the model was trained on (default: the generated file's
    ``training_file`` attribute, if that file exists); its held-out part, fixed by the
    ``heldout_fraction`` attribute, is the yardstick of the memorisation check.
    """
    gen, ref = read_ensemble(generated), read_ensemble(reference)
    action = action_from_dict(gen.attrs)
    ref_action = action_from_dict(ref.attrs)
    if action.to_dict() != ref_action.to_dict():
        raise InputError(f"{str(generated)!r} and {str(reference)!r} are ensembles of different actions: "
                         f"{action.to_dict()} vs {ref_action.to_dict()}")
    if action.to_dict()["action"] == "u1":
        from qcdgen.lattice.u1.validation import validate_u1

        info = _info(generated, reference, gen.attrs, ref.attrs, gen.n_configs, ref.n_configs)
        return validate_u1(gen, ref, generated, reference, info, max_abs_pull=max_abs_pull, device=device)
    if action.to_dict()["action"] == "xy":
        from qcdgen.lattice.xy.validation import validate_xy

        info = _info(generated, reference, gen.attrs, ref.attrs, gen.n_configs, ref.n_configs)
        return validate_xy(gen, ref, generated, reference, info, max_abs_pull=max_abs_pull, device=device)
    gen_phi, ref_phi = gen.field(device), ref.field(device)
    gen_est = measure(gen_phi, action, chains=gen.chain)
    ref_est = measure(ref_phi, action, chains=ref.chain)
    ref_rows, gen_rows, aliases = merge_aliases(ref_est, gen_est)
    table = compare(ref_rows, gen_rows, max_abs_pull=max_abs_pull)
    radii = [r for r in range(action.size // 2 + 1) if f"G_r{r}" in ref_est]
    orders = list(range(2, MAX_CUMULANT + 1))
    result = ValidationResult(
        title=f"phi^4 L={action.size} kappa={action.kappa} lambda={action.lam}: generated vs reference",
        table=table,
        info=_info(generated, reference, gen.attrs, ref.attrs, gen.n_configs, ref.n_configs),
        series=[_series("connected two-point function G(r)", radii, ref_est, gen_est,
                        [f"G_r{r}" for r in radii], "r", "G(r)"),
                _series("cumulants of the total field per volume", orders, ref_est, gen_est,
                        [f"kappa{n}" for n in orders], "n", "kappa_n", y_scale="symlog")],
        # error bars of M: Poisson × √(2τ_int(|M|)) of each chain (site values: Poisson, lower bound)
        histograms=[_histogram("magnetisation M", magnetisation(ref_phi).cpu().numpy(),
                               magnetisation(gen_phi).cpu().numpy(), "M",
                               taus=(ref_est["abs_m"].tau_int, gen_est["abs_m"].tau_int)),
                    _histogram("single-site field", ref.phi.ravel(), gen.phi.ravel(), "phi(x)")],
        loss_curve=_loss_curve(gen.attrs),
        aliases=aliases,
    )
    if action.dim == 2:
        pick = np.linspace(0, min(gen.n_configs, ref.n_configs) - 1, EXAMPLES).astype(int)
        result.images = {"reference": ref.phi[pick], "generated": gen.phi[pick]}
    training = training if training is not None else gen.attrs.get("training_file")
    if training and Path(training).is_file():
        train = read_ensemble(training)
        heldout = split_heldout(train.chain, float(gen.attrs.get("heldout_fraction", 0.2)))
        if heldout.any():
            result.checks.append(memorisation_check(gen_phi, torch.as_tensor(train.phi[heldout]),
                                                    torch.as_tensor(train.phi[~heldout])))
            result.info["training file"] = f"{training} ({int((~heldout).sum())} trained on, {int(heldout.sum())} held out)"
    return result
