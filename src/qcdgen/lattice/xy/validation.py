"""Judge a generated XY ensemble against a reference one (pull table), for ``qcdgen lattice validate``.

The table compares the energy per site, ⟨|M|⟩/V, the helicity modulus Υ and the vortex density of the
two ensembles with Γ-method errors on both sides. The checks say how many independent samples each
side holds, N/(2τ_int) of the slowest observable (below :data:`MIN_INDEPENDENT` the errors
themselves are not trustworthy), and on the 2×2 torus compare both sides with exact quadrature.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.lattice.xy import exact
from qcdgen.lattice.xy.action import XYAction, energy_per_site
from qcdgen.lattice.xy.observables import helicity_modulus, measure_xy, vorticity
from qcdgen.stats.compare import compare
from qcdgen.stats.validation_result import Check, Histogram, ValidationResult

MIN_INDEPENDENT = 50
EXAMPLES = 6


def independent_checks(estimates: dict, side: str, n: int) -> list[Check]:
    """N/(2 max τ_int) of ``side`` (τ_int ≥ ½)."""
    taus = [e.tau_int for e in estimates.values() if math.isfinite(e.tau_int)]
    n_ind = n / (2.0 * max(max(taus, default=0.5), 0.5))
    return [Check(name=f"{side} independent samples", passed=bool(n_ind >= MIN_INDEPENDENT),
                  detail=f"N/(2 max tau_int) = {n_ind:.0f} (need >= {MIN_INDEPENDENT} to trust the errors)",
                  values={"independent": n_ind})]


def exact_checks(estimates: dict, action: XYAction, side: str, max_abs_pull: float) -> list[Check]:
    """``side`` against the exact 2×2 values (only on L = 2; elsewhere no exact result is known)."""
    if action.size != 2:
        return []
    truth = exact.torus_2x2(action.temperature)
    checks = []
    for name in ("energy", "helicity_modulus"):
        est = estimates[name]
        pull = (est.value - truth[name]) / est.error if est.error > 0 else math.nan
        checks.append(Check(name=f"{side} {name} vs exact", passed=bool(abs(pull) < max_abs_pull),
                            detail=f"{est.value:.6g} ± {est.error:.2g} vs exact {truth[name]:.6g}: pull {pull:+.2f}",
                            values={"value": est.value, "error": est.error, "exact": truth[name], "pull": pull}))
    return checks


def validate_xy(gen, ref, generated: str, reference: str, info: dict, max_abs_pull: float = 3.0,
                device: str = "cpu") -> ValidationResult:
    """A :class:`ValidationResult` for two XY ensembles (``gen``/``ref``: read :class:`~qcdgen.io.Ensemble`)."""
    action = XYAction.from_dict(gen.attrs)
    gen_theta, ref_theta = gen.field(device), ref.field(device)
    action.check_field(gen_theta)
    action.check_field(ref_theta)
    gen_est = measure_xy(gen_theta, action, chains=gen.chain)
    ref_est = measure_xy(ref_theta, action, chains=ref.chain)
    table = compare(ref_est, gen_est, max_abs_pull=max_abs_pull)
    histograms = []
    for name, fn in (("energy per site", energy_per_site),
                     ("helicity modulus per configuration", lambda t: helicity_modulus(t, action.beta))):
        r, g = fn(ref_theta).cpu().numpy(), fn(gen_theta).cpu().numpy()
        both = np.concatenate([r, g])
        lo, hi = np.quantile(both, [0.0005, 0.9995])
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        key = "energy" if name.startswith("energy") else "helicity_modulus"
        histograms.append(Histogram.from_samples(name, r, g, np.linspace(lo, hi, 41), xlabel=name,
                                                 reference_tau_int=ref_est[key].tau_int,
                                                 generated_tau_int=gen_est[key].tau_int))
    result = ValidationResult(
        title=f"XY L={action.size} T={action.temperature:g}: generated vs reference",
        table=table, info={**info, "action": f"2D XY model, L={action.size}, T={action.temperature:g} (J = 1)"},
        histograms=histograms,
        checks=independent_checks(gen_est, "generated", gen.n_configs)
        + independent_checks(ref_est, "reference", ref.n_configs)
        + exact_checks(gen_est, action, "generated", max_abs_pull) + exact_checks(ref_est, action, "reference", max_abs_pull),
    )
    import torch

    pick = torch.as_tensor(np.linspace(0, min(gen.n_configs, ref.n_configs) - 1, EXAMPLES).astype(int))
    result.images = {"reference": vorticity(ref_theta[pick]).cpu().numpy(),
                     "generated": vorticity(gen_theta[pick]).cpu().numpy()}
    return result
