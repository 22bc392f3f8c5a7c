"""``qcdgen lattice flow-train | flow-sample``: placeholder until the flow sampler lands."""

from __future__ import annotations


def register(sub) -> None:
    """Add this sampler's subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
