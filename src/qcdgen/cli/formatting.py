"""Printing tables of estimates for people (rich) and for programs (JSON)."""

from __future__ import annotations

import json
import math
import sys

from rich.console import Console
from rich.table import Table

from qcdgen.stats import Estimate


def print_estimates(title: str, estimates: dict[str, Estimate]) -> None:
    table = Table(title=title)
    for column in ("observable", "value", "error", "τ_int"):
        table.add_column(column, justify="left" if column == "observable" else "right")
    for name, est in estimates.items():
        table.add_row(name, f"{est.value:.6g}", f"{est.error:.2g}", f"{est.tau_int:.2f}")
    Console(file=sys.stdout, width=100).print(table)


def json_safe(value):
    """Replace NaN/inf by None so the output is strict JSON."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(payload: dict) -> str:
    return json.dumps(json_safe(payload), indent=2, allow_nan=False) + "\n"


def print_json(payload: dict) -> None:
    sys.stdout.write(json_text(payload))


def print_validation(result, report_path=None, as_json: bool = False) -> int:
    """Print a ValidationResult (table + checks + PASS/FAIL, or JSON); return the exit code 0/1."""
    if as_json:
        from qcdgen.report import render_json

        sys.stdout.write(render_json(result))
    else:
        print(result.table.format())
        for check in result.checks:
            print(f"{check.name}: {'PASSED' if check.passed else 'FAILED'}: {check.detail}")
        print(f"{'PASS' if result.passed else 'FAIL'}" + (f"; report: {report_path}" if report_path else ""))
    return 0 if result.passed else 1
