"""The building blocks of every ``qcdgen`` command: command groups, commands, and the run options
they share, with one name, default and meaning everywhere."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable


def add_command_group(commands, name: str, help: str) -> argparse._SubParsersAction:
    """The ``qcdgen NAME COMMAND`` group: its subparsers (``NAME_command``); bare ``qcdgen NAME`` prints help."""
    group = commands.add_parser(name, help=help)
    sub = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    group.set_defaults(run=lambda args: group.print_help())
    return sub


def add_command(sub, name: str, run: Callable, help: str) -> argparse.ArgumentParser:
    """The command ``name`` of the subparsers ``sub``, calling ``run(args)``.

    As with click, ``run``'s docstring is the command's ``--help`` description (none without one).
    """
    description = inspect.cleandoc(run.__doc__) if run.__doc__ else None
    parser = sub.add_parser(name, help=help, description=description)
    parser.set_defaults(run=run)
    return parser


def add_run_options(parser: argparse.ArgumentParser, *, seed: bool = True, seed_default: int | None = 0,
                    device: bool = True, checkpoint: bool = False, restart: bool = False,
                    progress: bool = True) -> None:
    """Add, in this order, the run options a command asks for.

    ``--seed`` (int, ``seed_default``; None = the settings' default, 0), ``--device`` (default cpu),
    ``--checkpoint`` (default OUT.ckpt.pt, resumed if present), ``--restart`` (ignore an interrupted
    run's checkpoint) and ``--no-progress``.
    """
    if seed:
        add_seed_option(parser, seed_default)
    if device:
        parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    if checkpoint:
        parser.add_argument("--checkpoint", default=None,
                            help="checkpoint file (default OUT.ckpt.pt); resumed if present")
    if restart:
        parser.add_argument("--restart", action="store_true", help="ignore an interrupted run's checkpoint")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bars or progress lines")


def add_seed_option(parser: argparse.ArgumentParser, default: int | None = 0) -> None:
    """``--seed``, for commands that place it among their own options."""
    parser.add_argument("--seed", type=int, default=default, help="random seed (default 0)")
