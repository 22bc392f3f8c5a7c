"""Settings of the U(1) gauge-equivariant flow (:mod:`qcdgen.lattice.u1.flow`), torch-free for the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from qcdgen.checks import check_positive_int, check_training_flags
from qcdgen.errors import InputError


@dataclass(frozen=True)
class U1FlowSettings:
    """Architecture and training (the ``qcdgen lattice u1-train`` flags, one to one)."""

    layers: int = 16
    hidden: int = 8
    kernel_size: int = 3
    bins: int = 8
    path_gradient: bool = False
    steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-2
    warmup: int = 50
    seed: int = 0
    eval_samples: int = 4096
    prior: str = "uniform"

    def __post_init__(self) -> None:
        check_positive_int(self.layers, "--layers", minimum=2)
        check_positive_int(self.hidden, "--hidden")
        check_positive_int(self.kernel_size, "--kernel-size")
        if self.kernel_size % 2 == 0:
            raise InputError(f"--kernel-size must be an odd integer, got {self.kernel_size}")
        check_positive_int(self.bins, "--bins", minimum=2)
        if not isinstance(self.path_gradient, bool):
            raise InputError(f"path_gradient must be True or False, got {self.path_gradient!r}")
        if self.prior not in ("uniform", "plaquette"):
            raise InputError(f"--prior must be 'uniform' or 'plaquette', got {self.prior!r}")
        # on the independent-plaquette prior the untrained flow (identity couplings) is already a sampler
        if self.steps == 0 and self.prior != "plaquette":
            raise InputError("--steps 0 (no training) needs --prior plaquette: the untrained flow on the uniform "
                             "prior samples Haar links")
        check_training_flags(self, min_steps=0 if self.prior == "plaquette" else 1)

    def dataless(self):
        """The optimiser loop's settings (:class:`qcdgen.train.DatalessSettings`)."""
        from qcdgen.train import DatalessSettings

        return DatalessSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr, warmup=self.warmup,
                                seed=self.seed)
