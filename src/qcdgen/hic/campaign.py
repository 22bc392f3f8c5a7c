"""The heavy-ion simulator of a design campaign (``qcdgen infer simulate``).

:class:`HeavyIonSimulator` is the glue between the generic campaign engine
(:mod:`qcdgen.inference.campaign`) and the event generators: at one design point it runs
``qcdgen hic generate`` (the same settings, seeds and Parquet file) and ``qcdgen hic observe``
(the same per-class observables), and returns one row per (observable, centrality class) —
class labels as in ``observe --json`` (``"20-30%"``; ``"all"`` for all events).

Any numeric field of the generator's settings may be a design parameter (for ``hydro``: the
fields of :class:`~qcdgen.hic.generators.hydro_inspired.HydroInspiredSettings`, plus
``trento.p``, ``trento.k``, ``trento.w``, ``trento.d_min`` for the initial state).
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

__all__ = ["HeavyIonSimulator", "design_parameters", "simulate_design", "EVENTS_FILE", "OBSERVE_FILE"]

EVENTS_FILE = "events.parquet"
OBSERVE_FILE = "observe.json"
#: initial-state (TRENTo) parameters reachable as ``trento.NAME``
TRENTO_PARAMETERS = ("p", "k", "w", "d_min")
#: observables that are bookkeeping, not physics (left out of the rows)
SKIPPED = ("n_events",)


def design_parameters(model: str) -> list[str]:
    """The names a design may vary for ``model``."""
    if model == "hydro":
        from qcdgen.hic.generators.hydro_inspired import HydroInspiredSettings

        numeric = ("float", "float | None", "int")
        names = [f.name for f in dataclasses.fields(HydroInspiredSettings) if f.type in numeric]
        return names + [f"trento.{p}" for p in TRENTO_PARAMETERS]
    if model == "angantyr":
        return ["sqrts"]
    raise InputError(f"--model must be one of hydro, angantyr, got {model!r}")


@dataclass(frozen=True)
class HeavyIonSimulator:
    """One design point → events (Parquet, optional) and per-class observables (rows)."""

    model: str = "hydro"
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
        if self.model == "hydro":
            from qcdgen.hic.generators.hydro_inspired import HydroInspiredSettings

            for i in range(len(design)):
                try:
                    HydroInspiredSettings(**self.settings(design.point(i))).check()
                except InputError as exc:
                    raise InputError(f"design point {i} ({_point_text(design.point(i))}): {exc}") from None

    def __call__(self, params: dict, seed: int, point_dir: Path) -> list[dict]:
        from qcdgen.hic.generation import generate_to_file
        from qcdgen.hic.observables import observe_file

        point_dir = Path(point_dir)
        events = point_dir / EVENTS_FILE
        if not events.is_file():
            generate_to_file(events, model=self.model, n_events=self.events, seed=int(seed),
                             chunk_events=self.chunk_events, progress=False, **self.settings(params))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = observe_file(events, centrality_classes=list(self.centrality_classes), warn=False)
        summary.settings["source"] = EVENTS_FILE  # relative: the same bytes wherever the campaign lives
        payload = summary.to_json_dict()
        atomic_write_text(point_dir / OBSERVE_FILE, dumps(payload))
        if not self.keep_events:
            events.unlink()
        return observable_rows(payload)


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


def simulate_design(design: str | os.PathLike | Design, out: str | os.PathLike, *, model: str = "hydro",
                    system: str = "PbPb", sqrts: float = 2760.0, events: int = 500, seed: int = 0,
                    workers: int | None = None, scheduler: str | None = None, centrality_classes=None,
                    keep_events: bool = True, progress: bool = True,
                    connect_timeout: float = CONNECT_TIMEOUT) -> CampaignSummary:
    """``qcdgen infer simulate``: the heavy-ion generator at every design point, on Dask."""
    from qcdgen.checks import check_positive_int

    if not isinstance(design, Design):
        design = read_design(design)
    events = check_positive_int(events, "--events")
    if events < 2:
        raise InputError(f"--events must be >= 2 (observables need errors), got {events}")
    if model not in ("hydro", "angantyr"):
        raise InputError(f"--model must be one of hydro, angantyr, got {model!r}")
    classes = tuple(tuple(float(v) for v in c) for c in (centrality_classes or ALICE_CLASSES))
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
