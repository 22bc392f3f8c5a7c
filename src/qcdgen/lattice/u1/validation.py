"""Judge a generated U(1) gauge ensemble: against a reference ensemble (pull table) and against the
exact torus values (:mod:`qcdgen.lattice.u1.exact`), for ``qcdgen lattice validate``.

The table compares ⟨cos θ_P⟩, ⟨Q⟩ and χ_t of the two ensembles with Γ-method errors on both sides.
The checks compare each side's ⟨cos θ_P⟩ and χ_t with the exact values, and say how many
independent Q samples the generated chain holds, N/(2τ_int(Q)): below :data:`MIN_INDEPENDENT` the
χ_t error itself is not trustworthy (the Γ-method window needs the chain to be many τ long).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qcdgen.lattice.u1 import exact
from qcdgen.lattice.u1.action import U1Action, plaquettes, topological_charge, wrap_angle
from qcdgen.lattice.u1.observables import measure_u1
from qcdgen.stats.compare import compare
from qcdgen.stats.validation_result import Check, Histogram, ValidationResult

MIN_INDEPENDENT = 50
EXAMPLES = 6


def independent_samples(n: int, tau_int: float) -> float:
    """N/(2τ_int); τ_int ≥ ½ by definition (NaN: a chain that never changed sector → 0 independent samples)."""
    if not math.isfinite(tau_int):
        return 0.0
    return n / (2.0 * max(tau_int, 0.5))


def exact_checks(estimates: dict, action: U1Action, side: str, n: int, max_abs_pull: float) -> list[Check]:
    """``side``'s plaquette and χ_t against the exact torus values, and its number of independent Q samples."""
    truth = {"plaquette": exact.plaquette(action.beta, action.size),
             "topological_susceptibility": exact.topological_susceptibility(action.beta, action.size)}
    checks = []
    for name, value in truth.items():
        est = estimates[name]
        pull = (est.value - value) / est.error if est.error > 0 else math.nan
        checks.append(Check(name=f"{side} {name} vs exact", passed=bool(abs(pull) < max_abs_pull),
                            detail=f"{est.value:.6g} ± {est.error:.2g} vs exact {value:.6g}: pull {pull:+.2f}",
                            values={"value": est.value, "error": est.error, "exact": value, "pull": pull}))
    n_ind = independent_samples(n, estimates["topological_charge"].tau_int)
    checks.append(Check(name=f"{side} independent Q samples", passed=bool(n_ind >= MIN_INDEPENDENT),
                        detail=f"N/(2 tau_int(Q)) = {n_ind:.0f} (need >= {MIN_INDEPENDENT} to trust the chi_t error)",
                        values={"independent": n_ind}))
    return checks


def validate_u1(gen, ref, generated: str, reference: str, info: dict, max_abs_pull: float = 3.0,
                device: str = "cpu") -> ValidationResult:
    """A :class:`ValidationResult` for two U(1) ensembles (``gen``/``ref``: read :class:`~qcdgen.io.Ensemble`)."""
    action = U1Action.from_dict(gen.attrs)
    gen_theta, ref_theta = gen.field(device), ref.field(device)
    gen_est = measure_u1(gen_theta, action, chains=gen.chain)
    ref_est = measure_u1(ref_theta, action, chains=ref.chain)
    table = compare(ref_est, gen_est, max_abs_pull=max_abs_pull)
    q_gen = torch.round(topological_charge(gen_theta)).cpu().numpy()
    q_ref = torch.round(topological_charge(ref_theta)).cpu().numpy()
    q_max = int(max(np.abs(q_gen).max(), np.abs(q_ref).max(), 1))
    plaq = lambda t: torch.cos(plaquettes(t)).mean(dim=(-2, -1)).cpu().numpy()  # noqa: E731
    p_ref, p_gen = plaq(ref_theta), plaq(gen_theta)
    edges = np.linspace(min(p_ref.min(), p_gen.min()), max(p_ref.max(), p_gen.max()) + 1e-12, 41)
    result = ValidationResult(
        title=f"U(1) L={action.size} beta={action.beta:g}: generated vs reference",
        table=table, info={**info, "action": f"2D U(1) Wilson gauge theory, L={action.size}, beta={action.beta:g}"},
        histograms=[Histogram.from_samples("topological charge Q", q_ref, q_gen, np.arange(-q_max - 0.5, q_max + 1.5),
                                           xlabel="Q", reference_tau_int=ref_est["topological_charge"].tau_int,
                                           generated_tau_int=gen_est["topological_charge"].tau_int),
                    Histogram.from_samples("plaquette per configuration", p_ref, p_gen, edges, xlabel="<cos theta_P>",
                                           reference_tau_int=ref_est["plaquette"].tau_int,
                                           generated_tau_int=gen_est["plaquette"].tau_int)],
        checks=exact_checks(gen_est, action, "generated", gen.n_configs, max_abs_pull)
        + exact_checks(ref_est, action, "reference", ref.n_configs, max_abs_pull),
    )
    pick = np.linspace(0, min(gen.n_configs, ref.n_configs) - 1, EXAMPLES).astype(int)
    to_image = lambda t: wrap_angle(plaquettes(t[torch.as_tensor(pick)])).cpu().numpy()  # noqa: E731
    result.images = {"reference": to_image(ref_theta), "generated": to_image(gen_theta)}
    return result
