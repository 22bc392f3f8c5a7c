"""Conditions of the event surrogate: which event fields condition it, and their standardisation.

:func:`check_conditions` validates condition names against the event fields;
:class:`ConditionScaler` standardises named float columns (conditions, summaries) and is stored
with a model as plain lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from qcdgen.errors import InputError

__all__ = ["check_conditions", "ConditionScaler", "to_numpy"]


def check_conditions(conditions, available: Sequence[str], where: str = "the events") -> tuple[str, ...]:
    """Validate condition names against ``available`` event fields (``"a,b"`` or a list)."""
    if isinstance(conditions, str):
        conditions = [c.strip() for c in conditions.split(",") if c.strip()]
    if conditions is None or not all(isinstance(c, str) for c in conditions):
        raise InputError(f"conditions must be a list of event field names, got {conditions!r}")
    names = tuple(conditions)
    if len(set(names)) != len(names):
        raise InputError(f"conditions must be distinct, got {list(names)}")
    missing = [c for c in names if c not in available]
    if missing:
        raise InputError(f"condition(s) {missing} are not event fields of {where}; available: {list(available)}")
    return names


@dataclass(frozen=True)
class ConditionScaler:
    """Per-column standardisation x' = (x − mean) / std, fitted on [E, C] values.

    A constant column (std below 1e-9 of max(1, |mean|), i.e. round-off) gets std = 1 (it becomes 0
    and stays invertible). Works for any named
    float columns (conditions, summaries).
    """

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, names: Sequence[str], values) -> "ConditionScaler":
        x = to_numpy(values, np.float64)
        names = tuple(names)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise InputError(f"values must have shape [events, {len(names)}] for columns {list(names)}, "
                             f"got {tuple(x.shape)}")
        if x.shape[0] == 0 and names:
            raise InputError("cannot fit a scaler on zero events")
        bad = ~np.isfinite(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(f"column {names[col]!r} is not finite ({x[row, col]}) in row {row}; "
                             "refusing to fit a scaler on it")
        mean = x.mean(axis=0) if len(x) else np.zeros(len(names))
        std = x.std(axis=0) if len(x) else np.ones(len(names))
        # constant up to round-off (the mean of N copies of 0.08 is not exactly 0.08): std = 1
        std = np.where(std > 1e-9 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(names, tuple(mean.tolist()), tuple(std.tolist()))

    def _params(self, like):
        if isinstance(like, torch.Tensor):
            kw = {"dtype": like.dtype if like.is_floating_point() else torch.float32, "device": like.device}
            return torch.tensor(self.mean, **kw), torch.tensor(self.std, **kw), like.to(kw["dtype"])
        like = np.asarray(like, dtype=np.float64)
        return np.asarray(self.mean), np.asarray(self.std), like

    def _check(self, values):
        if values.shape[-1:] != (len(self.names),):
            raise InputError(f"values must have last dimension {len(self.names)} ({list(self.names)}), "
                             f"got shape {tuple(values.shape)}")

    def transform(self, values):
        """Standardise (NumPy → float64, torch → its own float dtype)."""
        mean, std, x = self._params(values)
        self._check(x)
        return (x - mean) / std

    def inverse(self, values):
        mean, std, x = self._params(values)
        self._check(x)
        return x * std + mean

    def to_dict(self) -> dict:
        return {"names": list(self.names), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "ConditionScaler":
        try:
            names, mean, std = tuple(data["names"]), tuple(map(float, data["mean"])), tuple(map(float, data["std"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"a stored scaler needs 'names', 'mean', 'std' lists, got {data!r}") from None
        if not (len(names) == len(mean) == len(std)) or not all(s > 0 for s in std):
            raise InputError(f"a stored scaler needs equal-length names/mean/std with std > 0, got {data!r}")
        return cls(names, mean, std)


def to_numpy(x, dtype) -> np.ndarray:
    """A torch tensor (detached, on the CPU) or array-like as a NumPy array of ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)
