"""The ``qcdgen`` command. Thin: parse, call one pipeline, print.

User mistakes (:class:`qcdgen.errors.InputError`) become one line on stderr and exit
code 2; an interrupted run leaves a checkpoint and exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

# Idle OpenMP threads sleep instead of spinning: a spinning pool stalls every small tensor
# operation once another process takes a core (measured 30x slower). Read by libgomp when torch
# is first imported, hence set before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from qcdgen import __version__
from qcdgen.errors import ConvergenceError, InputError, NaNError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (plus a pointer to --help), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from qcdgen.cli import demo, hic, infer, inverse, lattice

    parser = OneLineParser(
        prog="qcdgen",
        description="Generative AI for QCD-matter physics, judged by physics.",
    )
    parser.add_argument("--version", action="version", version=f"qcdgen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    demo.register(commands)
    lattice.register(commands)
    hic.register(commands)
    inverse.register(commands)
    infer.register(commands)
    _add_threads_option(parser)
    return parser


def _add_threads_option(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """``--threads N`` on the top-level parser and on every subcommand (either place works)."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parser.add_argument("--threads", type=int, default=None if top else argparse.SUPPRESS, metavar="N",
                        help="CPU threads for torch and BLAS (default: 1 for small workloads, all cores for "
                             "large ones; env QCDGEN_THREADS)")
    for action in subparsers:
        for sub in set(action.choices.values()):
            _add_threads_option(sub, top=False)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    return run_guarded(lambda: _run_with_threads(args))


def _run_with_threads(args: argparse.Namespace):
    """Fix the thread count if asked; otherwise one thread, raised by pipelines with large workloads."""
    from qcdgen.runtime import choose_threads, keep_freed_memory, set_threads, torch_threads

    set_threads(args.threads)
    keep_freed_memory()
    with torch_threads(choose_threads(0)):
        return args.run(args)


def run_guarded(run, prog: str = "qcdgen") -> int:
    """Call ``run()`` and turn user mistakes into one line and an exit status (2 input, 3 numerics,
    130 interrupted); warnings are printed as one line each. Also used by the benchmark scripts."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(run() or 0)
    except InputError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
    except (NaNError, ConvergenceError) as exc:
        sys.stderr.write(f"{prog}: numerical failure: {exc}\n")
        return 3
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted; the last checkpoint is kept, rerun the same command to resume\n")
        return 130


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(f"qcdgen: warning: {message}\n")


if __name__ == "__main__":
    sys.exit(main())
