"""Measured data for a calibration: ``observable,class,value,error`` CSV files.

One row per (observable, class). The error column is either ``error`` or the pair
``error_stat,error_sys``, combined in quadrature, σ² = σ_stat² + σ_sys² (uncorrelated
between rows: the data covariance is diagonal). Observable names with commas
(``v2{2,|deta|>1}``) are quoted, as CSV requires.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.errors import InputError

__all__ = ["ExperimentalData", "read_data", "data_csv_text"]


@dataclass(frozen=True)
class ExperimentalData:
    keys: list[tuple[str, str]]
    values: np.ndarray
    errors: np.ndarray
    source: str = ""

    @property
    def cov(self) -> np.ndarray:
        return np.diag(self.errors ** 2)

    def __len__(self) -> int:
        return len(self.keys)


def _number(text: str, column: str, where: str) -> float:
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{where}: column {column!r} must be a number, got {text!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{where}: column {column!r} is {text.strip()!r}; only finite numbers are allowed")
    return x


def read_data(path: str | os.PathLike) -> ExperimentalData:
    """Read and check a data CSV (missing column, NaN, error <= 0, duplicate rows: InputError)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file {str(path)!r} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(line for line in f if line.strip() and not line.lstrip().startswith("#"))]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"data file {str(path)!r} cannot be read ({exc})") from None
    if not rows:
        raise InputError(f"data file {str(path)!r} is empty; expected a header observable,class,value,error")
    header = [h.strip() for h in rows[0]]
    need = ["observable", "class", "value"]
    split = "error_stat" in header or "error_sys" in header
    need += ["error_stat", "error_sys"] if split else ["error"]
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"data file {str(path)!r} has no column {missing[0]!r} (header: {','.join(header)}); "
                         "need observable,class,value and error, or error_stat and error_sys")
    col = {c: header.index(c) for c in need}
    keys, values, errors, seen = [], [], [], {}
    for lineno, row in enumerate(rows[1:], 2):
        where = f"{str(path)!r} row {lineno}"
        if len(row) != len(header):
            raise InputError(f"{where}: {len(row)} fields, the header has {len(header)} (quote names with commas)")
        key = (row[col["observable"]].strip(), row[col["class"]].strip())
        if not key[0] or not key[1]:
            raise InputError(f"{where}: empty observable or class")
        if key in seen:
            raise InputError(f"{where}: {key[0]} {key[1]} appears twice (first at row {seen[key]})")
        seen[key] = lineno
        value = _number(row[col["value"]], "value", where)
        if split:
            err = math.hypot(_number(row[col["error_stat"]], "error_stat", where),
                             _number(row[col["error_sys"]], "error_sys", where))
        else:
            err = abs(_number(row[col["error"]], "error", where))
        if not err > 0:
            raise InputError(f"{where}: the error of {key[0]} {key[1]} must be > 0, got {err:g}")
        keys.append(key)
        values.append(value)
        errors.append(err)
    if not keys:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    return ExperimentalData(keys, np.array(values), np.array(errors), str(path))


def data_csv_text(keys, values, errors) -> str:
    """A data CSV (quoted observable names) from keys [(observable, class)], values and errors."""
    lines = ["observable,class,value,error"]
    lines += [f"\"{o}\",{c},{float(v)!r},{float(e)!r}" for (o, c), v, e in zip(keys, values, errors)]
    return "\n".join(lines) + "\n"
