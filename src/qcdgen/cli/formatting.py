"""Printing tables of estimates for people (rich) and for programs (JSON)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from qcdgen.jsonutil import dumps
from qcdgen.stats import Estimate


def print_estimates(title: str, estimates: dict[str, Estimate]) -> None:
    table = Table(title=title)
    for column in ("observable", "value", "error", "τ_int"):
        table.add_column(column, justify="left" if column == "observable" else "right")
    for name, est in estimates.items():
        table.add_row(name, f"{est.value:.6g}", f"{est.error:.2g}", f"{est.tau_int:.2f}")
    Console(file=sys.stdout, width=100).print(table)


def print_json(payload: dict) -> None:
    """``payload`` as strict JSON (NaN/inf as null, :mod:`qcdgen.jsonutil`) on stdout."""
    sys.stdout.write(dumps(payload))


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
