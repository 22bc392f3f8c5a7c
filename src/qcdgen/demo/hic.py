"""The heavy-ion part of ``qcdgen demo``: simulator events, their observables, and a surrogate judged on them.

1. Reference events from the hydro-inspired generator (Pb–Pb 2.76 TeV, 30–50 %, η/s = 0.08).
2. Their observables per centrality class (multiplicity, ⟨pT⟩, v₂{2}, v₂{4}), with jackknife errors.
3. A small surrogate shipped with qcdgen (trained on 3000 events of the same generator and class,
   conditioned on the impact parameter) generates as many events, with the impact parameters taken
   event by event from the reference (``qcdgen hic sample --like``).
4. ``qcdgen hic validate``: ratios, pulls, χ², the classifier two-sample test and the 5 % accuracy rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from qcdgen.errors import InputError
from qcdgen.stats.validation_result import ValidationResult

#: The shipped model (``qcdgen hic train`` on 3000 blastwave events, Pb-Pb 2.76 TeV 30-50 %, eta/s = 0.08,
#: conditioned on b; the command is in benchmarks/RESULTS.md, "demo surrogate").
SURROGATE_FILE = "surrogate_pbpb2760_30-50.pt"


@dataclass(frozen=True)
class HicDemo:
    events: int = 400
    centrality: tuple[float, float] = (30.0, 50.0)
    classes: tuple[tuple[float, float], ...] = ((30.0, 40.0), (40.0, 50.0))
    eta_s: float = 0.08
    ode_steps: int = 8
    model: str | None = None  # a surrogate .pt conditioned on b; None: the shipped one


def shipped_surrogate() -> Path:
    path = Path(str(resources.files("qcdgen.demo") / "data" / SURROGATE_FILE))
    if not path.is_file():
        raise InputError(f"the demo surrogate {path} is missing from this installation; reinstall qcdgen "
                         "or run qcdgen demo --only lattice")
    return path


def run_hic_demo(out: Path, p: HicDemo, seed: int, device: str, progress: bool,
                 log: Callable[[str], None]) -> tuple[ValidationResult, dict]:
    """Write OUT/hic_{reference,surrogate}.parquet; return the validation and the reference observables.

    The observables are ``{class label: {name: Estimate}}`` for multiplicity, ⟨pT⟩, v₂{2}, v₂{4}.
    """
    from qcdgen.hic.generation import generate_to_file
    from qcdgen.hic.observables import observe_file
    from qcdgen.hic.surrogate.pipeline import sample_pipeline
    from qcdgen.hic.surrogate.validate import validate_events

    model = Path(p.model) if p.model is not None else shipped_surrogate()
    reference, generated = out / "hic_reference.parquet", out / "hic_surrogate.parquet"
    lo, hi = p.centrality
    log(f"reference events: hydro-inspired generator, Pb-Pb 2.76 TeV, {lo:g}-{hi:g}%, eta/s = {p.eta_s}, "
        f"{p.events} events")
    gen = generate_to_file(reference, model="blastwave", n_events=p.events, seed=seed, progress=progress,
                           system="PbPb", sqrts=2760.0, centrality=p.centrality, eta_s=p.eta_s)
    log(f"  {gen.events_per_second:.0f} events/s, mean multiplicity {gen.mean_multiplicity:.0f}")
    summary = observe_file(reference, centrality_classes=list(p.classes), warn=False)
    names = ("dNch/deta", "mean_pt", "v2{2}", "v2{4}")
    observed = {label: {n: est[n] for n in names if n in est} for label, est in summary.per_class.items()}
    for label, est in observed.items():
        log(f"  {label}: " + ", ".join(f"{n} = {e.value:.4g} ± {e.error:.2g}" for n, e in est.items()))
    log(f"surrogate: {model.name}{' (shipped)' if p.model is None else ''}, {p.ode_steps} Heun steps, impact parameters as in the reference")
    sampled = sample_pipeline(model, out=generated, like=reference, n_steps=p.ode_steps, seed=seed + 1,
                              device=device, progress=progress)
    log(f"  {sampled.n_events / max(sampled.seconds, 1e-12):.1f} events/s, mean multiplicity "
        f"{sampled.mean_multiplicity:.0f}")
    log("validation against the generator")
    result = validate_events(generated, reference, centrality_classes=list(p.classes), seed=seed, progress=progress)
    return result, observed
