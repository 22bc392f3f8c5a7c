"""Lattice ensembles in HDF5.

Layout: dataset ``phi`` (configs, L, …, L) float64; dataset ``chain`` (configs,) int32
labelling the Markov chain of each configuration (configurations of one chain are stored
in Monte Carlo order). File attributes: ``qcdgen_format``, ``qcdgen_version``, the action
and its parameters (``action``, ``size``, ``kappa``, ``lam``, ``dim``), and sampler
metadata (``sampler``, ``seed``, ``acceptance``, ``tau_int_abs_m``, …).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_path

FORMAT = "qcdgen-lattice-ensemble/1"


@dataclass
class Ensemble:
    """Configurations plus everything needed to reproduce and judge them."""

    phi: np.ndarray  # (configs, L, ..., L) float64
    attrs: dict = field(default_factory=dict)
    chain: np.ndarray | None = None  # (configs,) int

    def __post_init__(self) -> None:
        self.phi = np.asarray(self.phi, dtype=np.float64)
        if self.chain is None:
            self.chain = np.zeros(len(self.phi), dtype=np.int32)
        self.chain = np.asarray(self.chain, dtype=np.int32)
        if self.chain.shape != (len(self.phi),):
            raise InputError(f"chain labels need shape ({len(self.phi)},), got {self.chain.shape}")

    @property
    def n_configs(self) -> int:
        return len(self.phi)

    def field(self, device: str | torch.device = "cpu") -> torch.Tensor:
        return torch.as_tensor(self.phi, dtype=torch.float64, device=device)


def _to_attr(value):
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    if value is None:
        return "none"
    return value


def write_ensemble(path: str | Path, ensemble: Ensemble) -> None:
    """Write atomically (temporary file + rename)."""
    if not np.all(np.isfinite(ensemble.phi)):
        bad = int((~np.isfinite(ensemble.phi)).reshape(len(ensemble.phi), -1).any(1).sum())
        raise InputError(f"refusing to write an ensemble with non-finite values in {bad} configuration(s)")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("phi", data=ensemble.phi, compression="gzip", compression_opts=4,
                             chunks=(1, *ensemble.phi.shape[1:]) if ensemble.n_configs else None)
            f.create_dataset("chain", data=ensemble.chain)
            f.attrs["qcdgen_format"] = FORMAT
            f.attrs["qcdgen_version"] = __version__
            for key, value in ensemble.attrs.items():
                if key not in ("qcdgen_format", "qcdgen_version"):
                    f.attrs[key] = _to_attr(value)


def read_ensemble(path: str | Path) -> Ensemble:
    """Read and check an ensemble; anything else is refused with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ensemble file {str(path)!r} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{str(path)!r} is not a readable HDF5 file (corrupt or another format)") from None
    with f:
        if f.attrs.get("qcdgen_format") != FORMAT or "phi" not in f:
            raise InputError(
                f"{str(path)!r} is an HDF5 file but not a qcdgen lattice ensemble "
                f"(needs dataset 'phi' and attribute qcdgen_format={FORMAT!r})"
            )
        try:
            phi = f["phi"][...]
            chain = f["chain"][...] if "chain" in f else None
        except (OSError, KeyError) as exc:
            raise InputError(f"{str(path)!r}: dataset 'phi' is unreadable ({exc})") from None
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
    if phi.ndim < 2 or phi.dtype.kind != "f":
        raise InputError(f"{str(path)!r}: dataset 'phi' must be float (configs, L, ...), got {phi.dtype} {phi.shape}")
    if not np.all(np.isfinite(phi)):
        raise InputError(f"{str(path)!r}: dataset 'phi' contains NaN or inf")
    return Ensemble(phi=phi, attrs=attrs, chain=chain)
