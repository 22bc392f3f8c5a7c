"""Settings of the XY continuous autoregressive network (:mod:`qcdgen.lattice.xy.can`), torch-free for the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from qcdgen.checks import check_positive_int, check_training_flags
from qcdgen.errors import InputError


def check_can_size(size: int, kernel_size: int) -> None:
    """Refuse a lattice narrower than the masked kernel (its receptive field would reach past the lattice)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < kernel_size:
        raise InputError(f"--size {size!r} is smaller than the CAN's masked kernel (--kernel-size {kernel_size}): "
                         f"its receptive field reaches past the lattice; use --size >= {kernel_size} "
                         "or a smaller --kernel-size")


@dataclass(frozen=True)
class XYCANSettings:
    """Architecture and training (the ``qcdgen lattice xy-train`` flags, one to one)."""

    channels: int = 16
    depth: int = 3
    kernel_size: int = 5
    components: int = 4
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    warmup: int = 50
    seed: int = 0
    eval_samples: int = 2048

    def __post_init__(self) -> None:
        check_positive_int(self.channels, "--channels")
        check_positive_int(self.depth, "--depth")
        check_positive_int(self.kernel_size, "--kernel-size", minimum=3)
        if self.kernel_size % 2 == 0:
            raise InputError(f"--kernel-size must be an odd integer >= 3, got {self.kernel_size}")
        check_positive_int(self.components, "--components")
        check_training_flags(self)

    def dataless(self):
        """The optimiser loop's settings (:class:`qcdgen.train.DatalessSettings`)."""
        from qcdgen.train import DatalessSettings

        return DatalessSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr, warmup=self.warmup,
                                seed=self.seed)
