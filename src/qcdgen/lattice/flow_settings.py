"""Settings of the lattice normalizing-flow sampler (:mod:`qcdgen.lattice.samplers.flow`), kept free of
torch so the CLI parser loads fast."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from qcdgen.errors import InputError
from qcdgen.checks import check_positive_int, check_training_flags

COUPLINGS = ("affine", "rqs")


@dataclass(frozen=True)
class FlowSettings:
    """Architecture and training settings (the ``qcdgen lattice flow-train`` flags, one to one)."""

    coupling: str = "affine"
    layers: int = 8
    channels: int = 8
    hidden: int = 1
    kernel_size: int = 3
    bins: int = 8
    bound: float = 4.0
    z2: bool = True
    spectral: bool = True
    path_gradient: bool = False
    steps: int = 500
    batch_size: int = 256
    lr: float = 5e-3
    warmup: int = 50
    seed: int = 0
    eval_samples: int = 4096
    zero_mode: bool = False  # a learnable (odd when z2) spline on the zero mode first: bimodal M in the broken phase

    def __post_init__(self) -> None:
        if self.coupling not in COUPLINGS:
            raise InputError(f"--coupling must be one of {', '.join(COUPLINGS)}, got {self.coupling!r}")
        check_positive_int(self.layers, "--layers", minimum=2)
        check_positive_int(self.channels, "--channels")
        check_positive_int(self.hidden, "--hidden", minimum=0)
        check_positive_int(self.kernel_size, "--kernel-size")
        if self.kernel_size % 2 == 0:
            raise InputError(f"--kernel-size must be an odd integer, got {self.kernel_size}")
        check_positive_int(self.bins, "--bins", minimum=2)
        if not (isinstance(self.bound, (int, float)) and math.isfinite(self.bound) and self.bound > 0):
            raise InputError(f"--bound must be a finite number > 0, got {self.bound!r}")
        for name in ("z2", "spectral", "path_gradient", "zero_mode"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_training_flags(self)

    def to_dict(self) -> dict:
        return asdict(self)

    def dataless(self):
        """The optimiser loop's settings (:class:`qcdgen.train.DatalessSettings`)."""
        from qcdgen.train import DatalessSettings

        return DatalessSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr, warmup=self.warmup,
                                seed=self.seed)

    dataless_settings = dataless  # the name before the sampler protocol

    def check_lattice(self, action) -> None:
        """Refuse a lattice the networks cannot handle (dimension, kernel wider than the lattice)."""
        if action.dim not in (1, 2, 3):
            raise InputError(f"the flow sampler supports --dim 1, 2 or 3, got {action.dim}")
        if self.kernel_size // 2 > action.size:
            raise InputError(f"--kernel-size {self.kernel_size} is wider than the lattice (L={action.size}); "
                             f"use at most {2 * action.size + 1}")
