"""Simulation campaigns: run a simulator at every design point on Dask distributed.

The simulator is any picklable callable ``simulator(params, seed, point_dir) -> rows`` with
``params`` a dict name → value, ``seed`` an integer and ``point_dir`` a directory it may fill
(event files …); ``rows`` is a list of ``{"observable", "class", "value", "error"}``. A domain
supplies it (the heavy-ion one is :mod:`qcdgen.hic.campaign`); this module knows no physics.

- **Seeds** are per point, s_i = SeedSequence([seed, i]), so the outputs do not depend on the
  number of workers or on the order in which points finish.
- **Workers**: a ``LocalCluster`` of processes (``workers`` of them, one thread each) by
  default, or any running scheduler (``scheduler="tcp://HOST:PORT"``; the output directory
  must then be on a file system the workers share); ``workers=0`` runs the points one after
  another in this process, without Dask (debugging, tests). An unreachable scheduler is an
  :class:`~qcdgen.errors.InputError` after ``connect_timeout`` seconds.
- **Files** under ``out/``: ``campaign.json`` (design, simulator, seed), ``point_NNNN/`` (the
  simulator's files) and ``point_NNNN/observables.json`` (params, seed, rows), written
  atomically by the client once the point has finished. A rerun skips points that have it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.inference.design import Design, ParameterBox, check_enough_points
from qcdgen.io.atomic import atomic_write_text, check_writable_dir
from qcdgen.jsonutil import dumps, json_float

__all__ = ["CampaignSummary", "RunSet", "point_seed", "run_campaign", "load_runs", "pending_points",
           "CAMPAIGN_FILE", "RESULT_FILE", "CONNECT_TIMEOUT"]

CAMPAIGN_FILE = "campaign.json"
RESULT_FILE = "observables.json"
#: seconds to wait for a --scheduler before refusing it
CONNECT_TIMEOUT = 3.0
KIND = "qcdgen.inference.campaign"


def point_seed(seed: int, index: int) -> int:
    """The seed of design point ``index``: the first word of SeedSequence([seed, index])."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def point_dir(out: Path, index: int) -> Path:
    return Path(out) / f"point_{index:04d}"


@dataclass
class CampaignSummary:
    out: Path
    n_points: int
    ran: int
    skipped: int
    seconds: float
    where: str


def _manifest(design: Design, simulator, seed: int) -> dict:
    describe = getattr(simulator, "describe", None)
    return {"kind": KIND, "format": 1, "simulator": describe() if callable(describe) else repr(simulator),
            "seed": int(seed), "design": design.box.to_dict(),
            "points": [[float(v) for v in row] for row in design.points]}


def _check_manifest(out: Path, manifest: dict) -> bool:
    """True if ``out`` already holds this campaign; refuse one holding another (nothing is written)."""
    path = out / CAMPAIGN_FILE
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        old = None
    if json.loads(dumps(manifest)) != {k: v for k, v in (old or {}).items() if k != "qcdgen_version"}:
        raise InputError(f"{str(out)!r} holds a campaign with a different design, simulator or seed; "
                         "rerun with the same options to resume, or give another --out")
    return True


def _write_manifest(out: Path, manifest: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CAMPAIGN_FILE, dumps(manifest | {"qcdgen_version": __version__}))


def pending_points(out: Path, n_points: int) -> list[int]:
    """Indices of design points without a finished result file."""
    return [i for i in range(n_points) if not (point_dir(out, i) / RESULT_FILE).is_file()]


def _check_rows(rows, index: int) -> list[dict]:
    out = []
    try:
        for r in rows:
            out.append({"observable": str(r["observable"]), "class": str(r["class"]),
                        "value": json_float(r["value"]) if r["value"] is not None else None,
                        "error": json_float(r["error"]) if r.get("error") is not None else None})
    except (KeyError, TypeError, ValueError) as exc:
        raise TypeError(f"simulator returned malformed rows at point {index}: {exc!r}") from None
    return out


def _run_point(simulator, params: dict, seed: int, directory: str, index: int) -> list[dict]:
    """Worker side: one design point (the simulator writes into ``directory``)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return _check_rows(simulator(params, seed, path), index)


def _connect(scheduler: str | None, workers: int | None, n_tasks: int, connect_timeout: float):
    """(client, cluster or None, description)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"--scheduler {scheduler!r} is not reachable: {reason}") from None
        return client, None, f"scheduler {scheduler}"
    n = workers if workers is not None else max(1, min(os.cpu_count() or 1, n_tasks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    return client, cluster, f"LocalCluster, {n} worker process{'es' if n > 1 else ''}"


def run_campaign(design: Design, simulator, out: str | os.PathLike, seed: int = 0, workers: int | None = None,
                 scheduler: str | None = None, progress: bool = True,
                 connect_timeout: float = CONNECT_TIMEOUT) -> CampaignSummary:
    """Run ``simulator`` at every point of ``design`` into ``out/`` on Dask (see the module text).

    Finished points are skipped; no cluster is started when nothing is left to do.
    """
    from qcdgen.runtime import progress_bar

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 0):
        raise InputError(f"--workers must be an integer >= 0 (0: in this process, no Dask), got {workers!r}")
    if scheduler is not None and workers is not None:
        raise InputError("--workers starts a local cluster; with --scheduler the cluster decides (drop one)")
    if not (isinstance(connect_timeout, (int, float)) and math.isfinite(connect_timeout) and connect_timeout > 0):
        raise InputError(f"--connect-timeout must be a number of seconds > 0, got {connect_timeout!r}")
    out = check_writable_dir(out, "--out")
    manifest = _manifest(design, simulator, seed)
    existing = _check_manifest(out, manifest)
    todo = pending_points(out, len(design)) if existing else list(range(len(design)))
    start = time.perf_counter()
    if not todo:
        return CampaignSummary(out, len(design), 0, len(design), 0.0, "nothing to do")
    if workers == 0:
        return _run_serial(design, simulator, out, seed, todo, existing, manifest, progress, start)
    client, cluster, where = _connect(scheduler, workers, len(todo), connect_timeout)
    try:
        if not existing:  # only once the workers are there: a refused --scheduler leaves no directory
            _write_manifest(out, manifest)
        from distributed import as_completed

        futures = {}
        for i in todo:
            fut = client.submit(_run_point, simulator, design.point(i), point_seed(seed, i),
                                str(point_dir(out, i).resolve()), i, pure=False)
            futures[fut] = i
        with progress_bar(progress) as bar:
            task = bar.add_task("design points", total=len(design), completed=len(design) - len(todo), status="")
            for fut in as_completed(list(futures), loop=client.loop):
                i = futures[fut]
                rows = fut.result()
                _record(out, design, seed, i, rows)
                bar.update(task, advance=1, status=f"point {i} done")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return CampaignSummary(out, len(design), len(todo), len(design) - len(todo), time.perf_counter() - start, where)


def _record(out: Path, design: Design, seed: int, i: int, rows: list[dict]) -> None:
    record = {"index": i, "params": design.point(i), "seed": point_seed(seed, i), "observables": rows}
    atomic_write_text(point_dir(out, i) / RESULT_FILE, dumps(record))


def _run_serial(design, simulator, out, seed, todo, existing, manifest, progress, start) -> CampaignSummary:
    """``workers=0``: the same points, seeds and files, one after another in this process (debugging)."""
    from qcdgen.runtime import progress_bar

    if not existing:
        _write_manifest(out, manifest)
    with progress_bar(progress) as bar:
        task = bar.add_task("design points", total=len(design), completed=len(design) - len(todo), status="")
        for i in todo:
            rows = _run_point(simulator, design.point(i), point_seed(seed, i), str(point_dir(out, i).resolve()), i)
            _record(out, design, seed, i, rows)
            bar.update(task, advance=1, status=f"point {i} done")
    return CampaignSummary(out, len(design), len(todo), len(design) - len(todo), time.perf_counter() - start,
                           "this process (no Dask)")


@dataclass
class RunSet:
    """Finished campaign results: parameters ``X`` (n, d) and observables ``Y`` (n, m) with
    errors ``Yerr``; ``keys[j] = (observable, class)``; NaN where a point has no value."""

    box: ParameterBox
    X: np.ndarray
    keys: list[tuple[str, str]]
    Y: np.ndarray
    Yerr: np.ndarray
    indices: list[int]
    n_design: int


def load_runs(out: str | os.PathLike) -> RunSet:
    """Read the finished points of a campaign directory (refusing one without any)."""
    out = Path(out)
    path = out / CAMPAIGN_FILE
    if not path.is_file():
        raise InputError(f"{str(out)!r} is not a campaign directory (no {CAMPAIGN_FILE}); "
                         "make one with qcdgen infer simulate")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        box = ParameterBox(tuple(manifest["design"]["names"]), manifest["design"]["lo"], manifest["design"]["hi"])
        n_design = len(manifest["points"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{str(path)!r} is not a readable campaign file ({exc})") from None
    records = []
    for i in range(n_design):
        f = point_dir(out, i) / RESULT_FILE
        if not f.is_file():
            continue
        try:
            rec = json.loads(f.read_text(encoding="utf-8"))
            theta = [float(rec["params"][n]) for n in box.names]
            rows = rec["observables"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{str(f)!r} is not a readable point result ({exc})") from None
        records.append((i, theta, rows))
    check_enough_points(len(records), box.ndim, f"campaign {str(out)!r} (finished points)")
    if len(records) < n_design:
        warnings.warn(f"{n_design - len(records)} of {n_design} design points of {str(out)!r} are not finished; "
                      "using the finished ones (rerun qcdgen infer simulate to complete them)", stacklevel=2)
    keys: dict[tuple[str, str], int] = {}
    for _, _, rows in records:
        for r in rows:
            keys.setdefault((r["observable"], r["class"]), len(keys))
    Y = np.full((len(records), len(keys)), math.nan)
    E = np.full((len(records), len(keys)), math.nan)
    for a, (_, _, rows) in enumerate(records):
        for r in rows:
            j = keys[(r["observable"], r["class"])]
            Y[a, j] = math.nan if r["value"] is None else float(r["value"])
            E[a, j] = math.nan if r.get("error") is None else float(r["error"])
    X = np.array([t for _, t, _ in records], float)
    box.check_inside(X, f"campaign {str(out)!r}: point with")
    return RunSet(box, X, list(keys), Y, E, [i for i, _, _ in records], n_design)
