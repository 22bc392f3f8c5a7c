"""Strict JSON for every output of qcdgen (public).

JSON has no NaN or infinity: Python's ``json`` writes the non-standard tokens ``NaN`` and
``Infinity``, which strict parsers (JavaScript, ``jq``) refuse. Every JSON qcdgen prints or writes
goes through this module, which turns a non-finite float into ``null``:

- :func:`json_float`: one number → ``float`` or ``None``;
- :func:`strict`: any nesting of dicts, lists, tuples, NumPy arrays and scalars → plain Python
  (dict keys become strings, NumPy values Python values, NaN/inf ``None``);
- :func:`dumps`: :func:`strict` and then ``json.dumps(..., indent=2, allow_nan=False)`` plus a
  final newline.
"""

from __future__ import annotations

import json
import math

import numpy as np

__all__ = ["json_float", "strict", "dumps"]


def json_float(x) -> float | None:
    """``float(x)``, or ``None`` when it is NaN or ±inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def strict(value):
    """``value`` made strict-JSON-serialisable: NumPy to Python, dict keys to str, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value, indent: int | None = 2) -> str:
    """:func:`strict` ``value`` as JSON text (``indent`` spaces, ``allow_nan=False``), newline-terminated."""
    return json.dumps(strict(value), indent=indent, allow_nan=False) + "\n"
