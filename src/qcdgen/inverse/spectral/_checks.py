"""Input checks shared by the spectral-reconstruction methods (private).

Every method receives (K, data, sigma, omega) through the same interface, so they are validated
once, here, with messages that name the argument and the value.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.stats._validate import check_positive_int


def check_int(value, name: str, low: int) -> int:
    return check_positive_int(value, name, low)


def check_problem(K, data, sigma, omega) -> tuple[torch.Tensor, ...]:
    """Validate the shared method inputs; return float64 CPU tensors (K, data, sigma, omega)."""
    out = []
    for name, value in (("K", K), ("data", data), ("sigma", sigma), ("omega", omega)):
        t = torch.as_tensor(np.asarray(value, dtype=float) if not torch.is_tensor(value) else value)
        t = t.detach().to("cpu", torch.float64)
        if not torch.isfinite(t).all():
            raise InputError(f"{name} contains NaN or inf values; only finite numbers are allowed")
        out.append(t)
    K, data, sigma, omega = out
    if K.dim() != 2:
        raise InputError(f"K must be a matrix [n_x, n_omega], got shape {tuple(K.shape)}")
    n_x, n_w = K.shape
    for name, t, n in (("data", data, n_x), ("sigma", sigma, n_x), ("omega", omega, n_w)):
        if t.dim() != 1 or t.numel() != n:
            raise InputError(f"{name} must be a vector of length {n} to match K {tuple(K.shape)}, "
                             f"got shape {tuple(t.shape)}")
    if bool((sigma <= 0).any()):
        raise InputError(f"sigma must be > 0 everywhere, got minimum {float(sigma.min()):g}")
    if n_w < 2 or not bool((omega[1:] > omega[:-1]).all()):
        raise InputError("omega must be a strictly increasing grid of at least 2 points")
    if bool((omega < 0).any()):
        raise InputError(f"omega must be >= 0, got minimum {float(omega.min()):g}")
    return K, data, sigma, omega


def check_real(value, name: str, low: float | None = None, high: float | None = None,
                low_open: bool = True) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        rng = (f"{'>' if low_open else '>='} {low:g}" if low is not None else "finite") + \
              (f" and <= {high:g}" if high is not None else "")
        raise InputError(f"{name} must be a number {rng}, got {value!r}")
    return float(value)
