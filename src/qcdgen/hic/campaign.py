"""The heavy-ion simulator of a design campaign (``qcdgen infer simulate``).

:class:`HeavyIonSimulator` is the glue between the generic campaign engine
(:mod:`qcdgen.inference.campaign`) and the event generators: at one design point it runs
``qcdgen hic generate`` (the same settings, seeds and Parquet file) and ``qcdgen hic observe``
(the same per-class observables), and returns one row per (observable, centrality class) —
class labels as in ``observe --json`` (``"20-30%"``; ``"all"`` for all events).

Any numeric field of the generator's settings may be a design parameter (for ``blastwave``: the
fields of :class:`~qcdgen.hic.generators.hydro_inspired.HydroInspiredSettings`, for ``hydro``
those of :class:`~qcdgen.hic.generators.hydro.HydroSettings`, plus ``trento.p``, ``trento.k``,
``trento.w``, ``trento.d_min`` for the initial state).

:class:`SurrogateSimulator` (``--model surrogate --surrogate S.pt``) runs a trained event
surrogate instead (``qcdgen hic sample --like``) and observes its events the same way, so both
campaigns give the same rows. Its design parameters must be conditions of the surrogate, inside
their training range; a ``centrality`` condition outside the design is drawn per event uniformly
over its training range (centrality is a percentile, uniform by construction).
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from qcdgen.errors import InputError
from qcdgen.hic.centrality import ALICE_CLASSES
from qcdgen.inference.campaign import CONNECT_TIMEOUT, CampaignSummary, run_campaign
from qcdgen.inference.design import Design, read_design
from qcdgen.io.atomic import atomic_write_text
from qcdgen.jsonutil import dumps

__all__ = ["HeavyIonSimulator", "SurrogateSimulator", "design_parameters", "simulate_design", "EVENTS_FILE",
           "OBSERVE_FILE"]

EVENTS_FILE = "events.parquet"
OBSERVE_FILE = "observe.json"
#: per-event conditions of a surrogate (zero particles) that ``qcdgen hic sample --like`` reads
CONDITIONS_FILE = "conditions.parquet"
#: surrogate conditions a design may leave out: drawn per event, uniform over the training range
FREE_CONDITIONS = ("centrality",)
#: initial-state (TRENTo) parameters reachable as ``trento.NAME``
TRENTO_PARAMETERS = ("p", "k", "w", "d_min")
#: observables that are bookkeeping, not physics (left out of the rows)
SKIPPED = ("n_events",)


def _settings_class(model: str):
    if model == "blastwave":
        from qcdgen.hic.generators.hydro_inspired import HydroInspiredSettings

        return HydroInspiredSettings
    from qcdgen.hic.generators.hydro import HydroSettings

    return HydroSettings


def design_parameters(model: str) -> list[str]:
    """The names a design may vary for ``model``."""
    if model in ("hydro", "blastwave"):
        numeric = ("float", "float | None", "int")
        names = [f.name for f in dataclasses.fields(_settings_class(model)) if f.type in numeric]
        return names + [f"trento.{p}" for p in TRENTO_PARAMETERS]
    if model == "angantyr":
        return ["sqrts"]
    raise InputError(f"--model must be one of hydro, blastwave, angantyr, got {model!r}")


@dataclass(frozen=True)
class HeavyIonSimulator:
    """One design point → events (Parquet, optional) and per-class observables (rows)."""

    model: str = "blastwave"
    system: str = "PbPb"
    sqrts: float = 2760.0
    events: int = 500
    centrality_classes: tuple = ALICE_CLASSES
    keep_events: bool = True
    chunk_events: int = 100

    def describe(self) -> dict:
        return {"simulator": "qcdgen.hic.campaign.HeavyIonSimulator", "model": self.model, "system": self.system,
                "sqrts": float(self.sqrts), "events": int(self.events),
                "centrality_classes": [list(c) for c in self.centrality_classes],
                "keep_events": bool(self.keep_events), "chunk_events": int(self.chunk_events)}

    def settings(self, params: dict) -> dict:
        """Generator keyword arguments for a design point (design values override --sqrts)."""
        settings: dict = {"system": self.system, "sqrts": float(self.sqrts)}
        trento = {}
        for name, value in params.items():
            if name.startswith("trento."):
                trento[name.split(".", 1)[1]] = float(value)
            else:
                settings[name] = float(value)
        if trento:
            settings["trento"] = trento
        return settings

    def check(self, design: Design) -> None:
        """Refuse unknown parameter names (one line listing the valid ones) and bad values, early."""
        valid = design_parameters(self.model)
        unknown = [n for n in design.names if n not in valid]
        if unknown:
            raise InputError(f"design parameter {unknown[0]!r} is not a setting of --model {self.model}; "
                             f"valid names: {', '.join(valid)}")
        if self.model in ("hydro", "blastwave"):
            settings_class = _settings_class(self.model)
            for i in range(len(design)):
                try:
                    settings_class(**self.settings(design.point(i))).check()
                except InputError as exc:
                    raise InputError(f"design point {i} ({_point_text(design.point(i))}): {exc}") from None

    def __call__(self, params: dict, seed: int, point_dir: Path) -> list[dict]:
        from qcdgen.hic.generation import generate_to_file

        point_dir = Path(point_dir)
        events = point_dir / EVENTS_FILE
        if not events.is_file():
            generate_to_file(events, model=self.model, n_events=self.events, seed=int(seed),
                             chunk_events=self.chunk_events, progress=False, **self.settings(params))
        return observe_point(point_dir, self.centrality_classes, self.keep_events)


def observe_point(point_dir: Path, centrality_classes, keep_events: bool) -> list[dict]:
    """``qcdgen hic observe --json`` on a point's event file → ``observe.json`` and its rows."""
    from qcdgen.hic.observables import observe_file

    events = Path(point_dir) / EVENTS_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = observe_file(events, centrality_classes=list(centrality_classes), warn=False)
    summary.settings["source"] = EVENTS_FILE  # relative: the same bytes wherever the campaign lives
    payload = summary.to_json_dict()
    atomic_write_text(Path(point_dir) / OBSERVE_FILE, dumps(payload))
    if not keep_events:
        events.unlink()
    return observable_rows(payload)


def surrogate_conditions(path: str | os.PathLike) -> dict[str, tuple[float, float]]:
    """A trained surrogate's conditions → their training range (lo, hi)."""
    from qcdgen.hic.surrogate.pipeline import load_pipeline_model

    loaded = load_pipeline_model(path)
    ranges = (loaded.model.training_info.get("data") or {}).get("condition_ranges")
    if not isinstance(ranges, dict) or any(c not in ranges for c in loaded.conditions):
        raise InputError(f"surrogate {str(path)!r} stores no training range of its conditions (trained by an "
                         "older qcdgen); retrain it with qcdgen hic train")
    return {c: (float(ranges[c][0]), float(ranges[c][1])) for c in loaded.conditions}


@dataclass(frozen=True)
class SurrogateSimulator:
    """One design point → surrogate events (as ``qcdgen hic sample --like``) and the rows of
    :class:`HeavyIonSimulator` (the same ``observe``). The manifest names the model by its SHA-256."""

    surrogate: str
    events: int = 500
    centrality_classes: tuple = ALICE_CLASSES
    keep_events: bool = True
    chunk_events: int = 100
    ode_steps: int = 8

    def describe(self) -> dict:
        import hashlib

        digest = hashlib.sha256(Path(self.surrogate).read_bytes()).hexdigest()
        return {"simulator": "qcdgen.hic.campaign.SurrogateSimulator", "model": "surrogate",
                "surrogate_sha256": digest, "events": int(self.events),
                "centrality_classes": [list(c) for c in self.centrality_classes],
                "keep_events": bool(self.keep_events), "chunk_events": int(self.chunk_events),
                "ode_steps": int(self.ode_steps)}

    def check(self, design: Design) -> None:
        """Refuse design parameters that are not conditions of the surrogate, conditions the design
        leaves unset (other than ``centrality``), and values outside the training range."""
        ranges = surrogate_conditions(self.surrogate)
        name = Path(self.surrogate).name
        unknown = [n for n in design.names if n not in ranges]
        if unknown:
            raise InputError(f"design parameter {unknown[0]!r} is not a condition of the surrogate {name}; "
                             f"its conditions: {', '.join(ranges)}")
        unset = [c for c in ranges if c not in design.names and c not in FREE_CONDITIONS]
        if unset:
            raise InputError(f"surrogate condition {unset[0]!r} must be a design parameter "
                             f"(only {', '.join(FREE_CONDITIONS)} is drawn per event)")
        for i in range(len(design)):
            for n, v in design.point(i).items():
                lo, hi = ranges[n]
                slack = 1e-9 * max(1.0, abs(lo), abs(hi))
                if not lo - slack <= v <= hi + slack:
                    raise InputError(f"design point {i} ({_point_text(design.point(i))}): {n}={v:g} is outside "
                                     f"the surrogate's training range {lo:g}:{hi:g} ({name})")

    def __call__(self, params: dict, seed: int, point_dir: Path) -> list[dict]:
        import numpy as np

        from qcdgen.hic.events import MOMENTUM_FIELDS, make_events, write_events
        from qcdgen.hic.surrogate.pipeline import sample_pipeline

        point_dir = Path(point_dir)
        events = point_dir / EVENTS_FILE
        if not events.is_file():
            draw, sample = np.random.SeedSequence(int(seed)).spawn(2)
            rng = np.random.default_rng(draw)
            fields = {}
            for c, (lo, hi) in surrogate_conditions(self.surrogate).items():
                fields[c] = np.full(self.events, float(params[c])) if c in params else rng.uniform(lo, hi, self.events)
            conditions = point_dir / CONDITIONS_FILE
            write_events(conditions, make_events(np.zeros(self.events, np.int64),
                                                 {k: np.zeros(0) for k in MOMENTUM_FIELDS}, **fields))
            sample_pipeline(self.surrogate, out=events, like=conditions, n_steps=self.ode_steps,
                            chunk_events=self.chunk_events, seed=int(sample.generate_state(1)[0]), progress=False)
        return observe_point(point_dir, self.centrality_classes, self.keep_events)


def observable_rows(payload: dict) -> list[dict]:
    """Rows {observable, class, value, error} of an ``observe --json`` payload (all events: class ``all``)."""
    rows = []
    scopes = [("all", payload["observables"])] + [(lab, c["observables"]) for lab, c in payload["per_class"].items()]
    for label, block in scopes:
        for name, entry in block.items():
            if name in SKIPPED:
                continue
            rows.append({"observable": name, "class": label, "value": entry.get("value"),
                         "error": entry.get("error")})
    return rows


def _point_text(point: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in point.items())


def simulate_design(design: str | os.PathLike | Design, out: str | os.PathLike, *, model: str = "blastwave",
                    system: str = "PbPb", sqrts: float = 2760.0, events: int = 500, seed: int = 0,
                    workers: int | None = None, scheduler: str | None = None, centrality_classes=None,
                    keep_events: bool = True, progress: bool = True,
                    connect_timeout: float = CONNECT_TIMEOUT, surrogate: str | os.PathLike | None = None,
                    ) -> CampaignSummary:
    """``qcdgen infer simulate``: the heavy-ion generator (or, ``model="surrogate"``, the trained
    surrogate in ``surrogate``) at every design point, on Dask."""
    from qcdgen.checks import check_positive_int

    if not isinstance(design, Design):
        design = read_design(design)
    events = check_positive_int(events, "--events")
    if events < 2:
        raise InputError(f"--events must be >= 2 (observables need errors), got {events}")
    if model not in ("hydro", "blastwave", "angantyr", "surrogate"):
        raise InputError(f"--model must be one of hydro, blastwave, angantyr, surrogate, got {model!r}")
    if (model == "surrogate") != (surrogate is not None):
        raise InputError("--surrogate S.pt goes with --model surrogate (and --model surrogate needs it)")
    classes = tuple(tuple(float(v) for v in c) for c in (centrality_classes or ALICE_CLASSES))
    if model == "surrogate":
        sim = SurrogateSimulator(surrogate=str(Path(surrogate).resolve()), events=events,
                                 centrality_classes=classes, keep_events=keep_events)
    else:
        sim = HeavyIonSimulator(model=model, system=system, sqrts=float(sqrts), events=events,
                                centrality_classes=classes, keep_events=keep_events)
    sim.check(design)
    return run_campaign(design, sim, out, seed=seed, workers=workers, scheduler=scheduler, progress=progress,
                        connect_timeout=connect_timeout)


def read_point_observables(point_dir: str | os.PathLike) -> dict:
    """The ``observe --json`` payload of one finished design point."""
    path = Path(point_dir) / OBSERVE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{str(path)!r} cannot be read ({exc})") from None
