"""``qcdgen lattice path-train | path-sample``: placeholder until the path sampler lands."""

from __future__ import annotations


def register(sub) -> None:
    """Add this sampler's subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
