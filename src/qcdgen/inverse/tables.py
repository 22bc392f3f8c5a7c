"""Small CSV tables in and out of the inverse pipelines (header line, comma separated).

Inputs are validated with messages that name the file, the line and the column, so a
user's typo is one line, not a traceback.  Outputs are written atomically.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_path


def read_columns(path: str | os.PathLike, required: list[str], optional: tuple[str, ...] = (),
                 min_rows: int = 1, positive: tuple[str, ...] = (),
                 allow_nan: bool = False) -> dict[str, np.ndarray]:
    """Read a CSV with a header; return {column: float array} for the required and present optional columns.

    ``positive`` names columns whose every value must be > 0 (errors, masses, ...).
    Blank lines and lines starting with ``#`` are skipped.  ``allow_nan`` admits ``nan`` cells
    (qcdgen's own outputs mark "no estimate here" that way); inputs from users must be finite.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file {str(path)!r} does not exist or is not a file")
    try:
        with open(path, newline="") as fh:
            lines = [(i, ln) for i, ln in enumerate(fh, start=1)
                     if ln.strip() and not ln.lstrip().startswith("#")]
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file") from None
    if not lines:
        raise InputError(f"{path}: empty file; expected a header line with columns {','.join(required)}")
    header_line, header = lines[0][0], [h.strip() for h in next(csv.reader([lines[0][1]]))]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}:{header_line}: missing column(s) {','.join(missing)}; the header must "
                         f"contain {','.join(required)}, got {','.join(header)}")
    wanted = list(required) + [c for c in optional if c in header]
    index = {c: header.index(c) for c in wanted}
    out: dict[str, list[float]] = {c: [] for c in wanted}
    for lineno, line in lines[1:]:
        cells = next(csv.reader([line]))
        if len(cells) < len(header):
            raise InputError(f"{path}:{lineno}: expected {len(header)} values, got {len(cells)}")
        for c in wanted:
            text = cells[index[c]].strip()
            try:
                value = float(text)
            except ValueError:
                raise InputError(f"{path}:{lineno}: column {c!r} is not a number: {text!r}") from None
            if not math.isfinite(value) and not (allow_nan and math.isnan(value)):
                raise InputError(f"{path}:{lineno}: column {c!r} must be finite, got {text!r}")
            if c in positive and value <= 0:
                raise InputError(f"{path}:{lineno}: column {c!r} must be > 0, got {text!r}")
            out[c].append(value)
    n = len(lines) - 1
    if n < min_rows:
        raise InputError(f"{path}: needs at least {min_rows} data row(s), got {n}")
    return {c: np.asarray(v, dtype=float) for c, v in out.items()}


def write_columns(path: str | os.PathLike, columns: dict[str, np.ndarray], comment: str | None = None,
                  fmt: str = "%.10g") -> Path:
    """Write equal-length columns as CSV atomically (optional ``# comment`` lines first)."""
    names = list(columns)
    arrays = [np.asarray(columns[c], dtype=float).reshape(-1) for c in names]
    if len({a.size for a in arrays}) > 1:
        raise ValueError(f"columns have different lengths: {[a.size for a in arrays]}")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            if comment:
                for line in comment.splitlines():
                    fh.write(f"# {line}\n")
            fh.write(",".join(names) + "\n")
            for row in zip(*arrays):
                fh.write(",".join(fmt % v for v in row) + "\n")
    return Path(path)
