"""Is a number of :func:`~qcdgen.hic.observables.observe` worth printing? Small-sample and
physical-bound checks per sample (all events, or one centrality class).

Every observable of a sample gets zero or more *issues*; the first in this order is its ``flag``:

``"undefined"``  (value reported as NaN / JSON null)
    the estimator has no real value: a cumulant of the unphysical sign (v_n{4} needs
    c_n{4} < 0, v_n{6} needs c_n{6} > 0, v_n{2} needs c_n{2} > 0), ρ_n with var(v_n²) ≤ 0 or
    ⟨δpT δpT⟩ ≤ 0, ⟨pT⟩ of a species with no particles, …
``"unreliable"`` (value reported as NaN / JSON null; the raw number is in the reason)
    the estimate is a real number that the quantity it estimates cannot take, so noise
    dominates it:

    - ρ_n outside [−1, 1]. ρ_n is a Pearson correlation coefficient, bounded by 1 in magnitude;
      its estimator divides a covariance by sqrt(var(v_n²)·⟨δpT δpT⟩), each with the
      self-correlations subtracted, and a noise-dominated var(v_n²) ≈ 0 gives any value.
    - v_n{k} ≥ v_n{2} for k ≥ 4 (or v_n{2} undefined). With v_n{2}⁴ = ⟨v²⟩² and
      v_n{4}⁴ = ⟨v²⟩² − Var(v²), v_n{4} ≤ v_n{2} for any distribution of the flow; non-flow
      only raises v_n{2}. Equality needs a flow that does not fluctuate at all, which no
      heavy-ion sample has, so v_n{4} ≥ v_n{2} means the sample does not resolve Var(v²).
      The same bound is applied to v_n{6} and v_n{8} (equal to v_n{4} for Gaussian fluctuations).
``"few_events"`` (value kept)
    the sample has fewer events than :func:`min_events` asks for this observable.
``"error_nan"``  (value kept, error NaN / null)
    some resamples (jackknife groups or bootstrap replicas) give a non-finite value.
``"noisy"``      (value kept)
    v_n{k} = (±c_n{k}/norm)^{1/k} from a cumulant within :data:`SIGNIFICANCE` standard errors of
    zero: the sign of c_n{k} is not established, the root amplifies the noise and the
    linearised error is meaningless.

Minimum numbers of events (:func:`min_events`):

- :data:`MIN_EVENTS_ANY` = 10 for every observable: the event-resampling error from N events
  is itself uncertain by about 1/sqrt(2(N−1)), 24 % at N = 10.
- :data:`MIN_EVENTS_FOUR` = 50 for c_n{4}, v_n{4} and ⟨δpT δpT δpT⟩: c_n{4} = ⟨⟨4⟩⟩ − 2⟨⟨2⟩⟩²
  is the difference of two nearly equal numbers (v_n{4}⁴ = ⟨v²⟩² − Var(v²), and Var(v²) is
  a large part of ⟨v²⟩² in heavy-ion collisions), so its relative error is several times the
  relative spread of v_n² per event over sqrt(N). Measured on ``qcdgen hic generate --model
  blastwave`` events: σ(c_2{4})/|c_2{4}| ≈ 1–1.5 with ~30 events in 0–5 % and 5–10 %, and
  0.3–0.4 with 60–70 events in 20–50 %; below ~50 events a 4th root of c_n{4} is rarely a
  measurement (where it still is not, the significance test below flags it).
- :data:`MIN_EVENTS_SIX` = 100 for c_n{6}, c_n{8}, v_n{6}, v_n{8} and ρ_n with its
  covariance and var(v_n²): higher cumulants cancel more, and var(v_n²) is the same small
  difference as c_n{4} while ρ_n divides by its square root; with N ≥ 100 even the sampling
  error of a Pearson coefficient, (1 − ρ²)/sqrt(N), is below 0.1.

The minimums are guides, the significance test is data-driven: a class can pass the first and
fail the second (weak v_3 in 0–5 %), or the reverse.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qcdgen.stats import Estimate

__all__ = ["ObservableFlag", "assess", "min_events", "FLAG_ORDER", "NULL_FLAGS", "MIN_EVENTS_ANY",
           "MIN_EVENTS_FOUR", "MIN_EVENTS_SIX", "SIGNIFICANCE"]

MIN_EVENTS_ANY = 10
MIN_EVENTS_FOUR = 50
MIN_EVENTS_SIX = 100
#: a cumulant within this many standard errors of zero does not give a v_n{k}
SIGNIFICANCE = 2.0

#: flags by precedence; the first issue of an observable in this order is its ``flag``
FLAG_ORDER = ("undefined", "unreliable", "few_events", "error_nan", "noisy")
#: flags whose value is reported as NaN (null)
NULL_FLAGS = ("undefined", "unreliable")

_FLOW = re.compile(r"^([cv])(\d+)\{(\d)\}$")
_GAP = re.compile(r"^([cv])(\d+)\{2,(.+)\}$")
_RHO = re.compile(r"^rho(\d+)$")
_RHO_PARTS = re.compile(r"^(cov\(v\d+\^2,pt\)|var\(v\d+\^2\))$")
#: names a raw resampling flag uses for an observable reported under another name
_ALIASES = {"mean_pt_all": "mean_pt"}


@dataclass(frozen=True)
class ObservableFlag:
    """Why an observable of one sample is not a plain number.

    ``issues``: ``(flag, group, short, reason)`` tuples in :data:`FLAG_ORDER`: ``group`` a
    generic phrase shared by all observables with that problem (warnings group by it),
    ``short`` a few words with the number for a table cell, ``reason`` the full explanation
    (with the raw value where it was nulled). ``flag``: the first issue's flag.
    """

    issues: tuple[tuple[str, str, str, str], ...]

    @property
    def flag(self) -> str:
        return self.issues[0][0]

    @property
    def group(self) -> str:
        return self.issues[0][1]

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i[0] for i in self.issues))

    @property
    def short(self) -> str:
        return "; ".join(i[2] for i in self.issues)

    @property
    def reason(self) -> str:
        return "; ".join(i[3] for i in self.issues)

    @property
    def nulled(self) -> bool:
        return self.flag in NULL_FLAGS

    def brief(self, limit: int = 2) -> str:
        """A table note: ``"unreliable: 1.7 outside [-1, 1]; 30 < 100 events (+1 more)"``."""
        shorts = [i[2] for i in self.issues]
        more = f" (+{len(shorts) - limit} more)" if len(shorts) > limit else ""
        return (f"{self.flag}: " if self.nulled else "") + "; ".join(shorts[:limit]) + more


def min_events(name: str) -> int:
    """Events a sample needs before ``name`` is reported without a ``few_events`` flag."""
    m = _FLOW.match(name)
    if m:
        k = int(m.group(3))
        return MIN_EVENTS_FOUR if k == 4 else MIN_EVENTS_SIX if k >= 6 else MIN_EVENTS_ANY
    if _RHO.match(name) or _RHO_PARTS.match(name):
        return MIN_EVENTS_SIX
    if name == "dpt3":
        return MIN_EVENTS_FOUR
    return MIN_EVENTS_ANY


def _g(x: float) -> str:
    return f"{x:.3g}"


def _undefined_why(name: str, obs: dict[str, Estimate]) -> tuple[str, str]:
    """(group, short) of a NaN value."""
    m = _FLOW.match(name) or _GAP.match(name)
    if m and m.group(1) == "v":
        c_name = "c" + name[1:]
        c = obs.get(c_name)
        if c is not None and math.isfinite(c.value):
            return "c_n{k} of wrong sign", f"{c_name} {'>' if c.value > 0 else '<'} 0"
    m = _RHO.match(name)
    if m:
        var = obs.get(f"var(v{m.group(1)}^2)")
        if var is not None and math.isfinite(var.value) and var.value <= 0:
            return "var <= 0", f"var(v{m.group(1)}^2) <= 0"
        dpt = obs.get("dpt_dpt")
        if dpt is not None and math.isfinite(dpt.value) and dpt.value <= 0:
            return "var <= 0", "<dpt dpt> <= 0"
    if name.startswith("mean_pt("):
        return "no particles", "no particles"
    return "not finite", "not finite"


def assess(obs: dict[str, Estimate], n_events: int, raw_flags: list[str] = ()
           ) -> tuple[dict[str, Estimate], dict[str, ObservableFlag], list[str]]:
    """Check one sample's observables: ``(obs with nulled values as NaN, {name: flag}, notes)``.

    ``raw_flags``: the resampling/NaN messages ``"name: text"`` of the sample; those naming
    an observable become its reason, the rest come back as ``notes``.
    """
    raw: dict[str, list[str]] = {}
    notes: list[str] = []
    for text in raw_flags:
        name, sep, rest = text.partition(": ")
        name = _ALIASES.get(name, name)
        if sep and name in obs:
            raw.setdefault(name, []).append(rest)
        else:
            notes.append(text)
    out = dict(obs)
    flags: dict[str, ObservableFlag] = {}
    for name, est in obs.items():
        if name == "n_events":
            continue
        issues: list[tuple[str, str, str, str]] = []  # (flag, group, short, reason)
        value, error = float(est.value), float(est.error)
        flow, gap, rho = _FLOW.match(name), _GAP.match(name), _RHO.match(name)
        if not math.isfinite(value):
            group, short = _undefined_why(name, obs)
            issues.append(("undefined", group, short, "; ".join(raw.get(name, [])) or short))
        else:
            if rho and abs(value) > 1:
                issues.append(("unreliable", "outside [-1, 1]", f"{_g(value)} outside [-1, 1]",
                               f"{name} = {_g(value)} is outside [-1, 1], the range of a correlation "
                               f"coefficient: the estimator (self-correlations subtracted) is noise-dominated, "
                               f"or biased by the multiplicity weights of a wide centrality class "
                               f"(var(v{rho.group(1)}^2) is too small to divide by)"))
            if flow and flow.group(1) == "v" and int(flow.group(3)) >= 4:
                n, k = flow.group(2), flow.group(3)
                v2 = obs.get(f"v{n}{{2}}")
                if v2 is None or not math.isfinite(v2.value):
                    issues.append(("unreliable", "v_n{2} is n/a", f"v{n}{{2}} is n/a",
                                   f"{name} = {_g(value)} without a real v{n}{{2}}: v{n}{{{k}}} <= v{n}{{2}} "
                                   f"cannot hold, the sample does not resolve the flow"))
                elif value >= v2.value:
                    issues.append(("unreliable", ">= v_n{2}", f"{_g(value)} >= v{n}{{2}} = {_g(v2.value)}",
                                   f"{name} = {_g(value)} >= v{n}{{2}} = {_g(v2.value)}, but v{n}{{{k}}} < "
                                   f"v{n}{{2}} for any fluctuating flow: the sample does not resolve Var(v{n}^2)"))
            if not math.isfinite(error):
                issues.append(("error_nan", "error n/a", "error n/a",
                               "; ".join(raw.get(name, [])) or "error is not finite"))
            if (flow or gap) and name.startswith("v"):
                c_name = "c" + name[1:]
                c = obs.get(c_name)
                if (c is not None and math.isfinite(c.value) and math.isfinite(c.error)
                        and abs(c.value) < SIGNIFICANCE * c.error):
                    issues.append(("noisy", f"unresolved, |c| < {SIGNIFICANCE:g} sigma",
                                   f"{c_name} within {SIGNIFICANCE:g} sigma of 0",
                                   f"{c_name} = {_g(c.value)} +- {_g(c.error)} is within "
                                   f"{SIGNIFICANCE:g} standard errors of 0: {name} is not resolved"))
        need = min_events(name)
        if n_events < need:
            issues.append(("few_events", "too few events", f"{n_events} < {need} events",
                           f"{n_events} events, fewer than the {need} this observable needs "
                           f"(see qcdgen.hic.observables.quality)"))
        if not issues:
            continue
        issues.sort(key=lambda i: FLAG_ORDER.index(i[0]))
        flag = flags[name] = ObservableFlag(tuple(issues))
        if flag.nulled:
            out[name] = Estimate(math.nan, math.nan)
    return out, flags, notes
