"""The modules every layer shares: qcdgen.checks, qcdgen.jsonutil, qcdgen.hic.centrality."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys

import numpy as np
import pytest

from qcdgen import checks
from qcdgen.errors import InputError, NaNError
from qcdgen.jsonutil import dumps, json_float, strict


# --------------------------------------------------------------------------- checks

@pytest.mark.parametrize("value, kwargs, message", [
    (0.0, dict(low=0.0), "x must be a finite number > 0, got 0.0"),
    (-1, dict(low=0.0, low_open=False), "x must be a finite number >= 0, got -1"),
    (3.0, dict(low=0.0, high=2.0), "x must be a finite number > 0 and <= 2, got 3.0"),
    (math.inf, {}, "x must be a finite number, got inf"),
    (True, dict(low=0.0), "x must be a finite number > 0, got True"),
    ("2", dict(low=0.0), "x must be a finite number > 0, got '2'"),
])
def test_check_real_refuses_with_one_message(value, kwargs, message):
    with pytest.raises(InputError) as exc:
        checks.check_real(value, "x", **kwargs)
    assert str(exc.value) == message


def test_check_real_returns_float_and_accepts_numpy_scalars():
    assert checks.check_real(2, "x", low=0.0) == 2.0 and isinstance(checks.check_real(2, "x"), float)
    assert checks.check_real(np.float32(0.5), "x", low=0.0, high=1.0) == 0.5
    assert checks.check_real(0, "x", low=0.0, low_open=False) == 0.0


def test_check_choice_positive_int_and_float():
    assert checks.check_choice("fd2", "stencil", ("fd2", "fd4")) == "fd2"
    with pytest.raises(InputError, match=r"^stencil must be one of fd2, fd4, got 'fd6'$"):
        checks.check_choice("fd6", "stencil", ("fd2", "fd4"))
    assert checks.check_positive_int(np.int64(3), "n") == 3
    with pytest.raises(InputError, match=r"^--seed must be an integer >= 0, got -3$"):
        checks.check_positive_int(-3, "--seed", 0)
    with pytest.raises(InputError, match="must be an integer >= 1, got True"):
        checks.check_positive_int(True, "n")
    assert checks.check_positive_float("2.5", "w") == 2.5          # anything float() takes
    with pytest.raises(InputError, match="finite number > 0"):
        checks.check_positive_float(math.nan, "w")


def test_non_finite_data_is_both_nan_and_input_error():
    with pytest.raises(NaNError) as exc:
        checks.as_data([1.0, math.nan, math.inf])
    assert isinstance(exc.value, InputError) and "1 NaN, 1 inf" in str(exc.value)


def test_stats_validate_is_a_deprecated_reexport():
    sys.modules.pop("qcdgen.stats._validate", None)
    with pytest.warns(DeprecationWarning, match="qcdgen.checks"):
        old = importlib.import_module("qcdgen.stats._validate")
    assert old.check_positive_int is checks.check_positive_int and old.as_data is checks.as_data


def test_one_checks_library():
    """The spectral and Schrödinger checks are the shared ones (no private copies left)."""
    from qcdgen.inverse.schrodinger import solver
    from qcdgen.inverse.spectral import mem

    assert importlib.util.find_spec("qcdgen.inverse.spectral._checks") is None
    assert mem.check_real is checks.check_real and solver.check_real is checks.check_real
    with pytest.raises(InputError, match=r"^mass must be a finite number > 0, got 0.0$"):
        solver.solve_radial(lambda r: r, mass=0.0, r_max=5.0)


# --------------------------------------------------------------------------- JSON

def test_strict_json_nulls_non_finite_and_unwraps_numpy():
    value = {"a": [1.0, math.nan, np.float32(2.5), np.arange(3)], 1: (np.nan, np.int64(3)), "b": {"c": -np.inf}}
    assert strict(value) == {"a": [1.0, None, 2.5, [0, 1, 2]], "1": [None, 3], "b": {"c": None}}
    text = dumps(value)
    assert text.endswith("}\n") and json.loads(text, parse_constant=lambda c: pytest.fail(c)) == strict(value)
    assert json_float(np.float64(0.25)) == 0.25 and json_float(math.inf) is None and json_float(3) == 3.0


def test_every_json_writer_uses_the_helper():
    """The report, the CLI printer and the comparison rows give the same strict JSON for the same values."""
    from qcdgen.cli.formatting import print_json  # noqa: F401  (imports cleanly without its own sanitiser)
    from qcdgen.report import html
    from qcdgen.stats.compare import ComparisonRow

    row = ComparisonRow("x", 1.0, math.nan, 2, math.inf, -math.inf).to_dict()
    assert row == {"observable": "x", "reference": 1.0, "reference_error": None, "generated": 2.0,
                   "generated_error": None, "pull": None}
    assert not hasattr(html, "_strict")


# --------------------------------------------------------------------------- centrality classes

def test_alice_classes_defined_once():
    from qcdgen.hic.centrality import ALICE_CLASSES
    from qcdgen.hic.initial import centrality
    from qcdgen.hic.surrogate import validate

    assert ALICE_CLASSES[0] == (0, 5) and ALICE_CLASSES[-1] == (70, 80) and len(ALICE_CLASSES) == 9
    assert centrality.DEFAULT_CLASSES is ALICE_CLASSES and validate.DEFAULT_CLASSES is ALICE_CLASSES
