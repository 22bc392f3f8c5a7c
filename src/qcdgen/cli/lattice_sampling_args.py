"""Options every ``qcdgen lattice *-sample`` command of a generative sampler shares."""

from __future__ import annotations

import argparse


def add_sampling_arguments(parser: argparse.ArgumentParser, what: str, batch_default: int, metropolis_help: str) -> None:
    """--configs, --out, --metropolis, --chains, --batch-size, --seed, --device, --checkpoint, --no-progress."""
    parser.add_argument("--configs", type=int, required=True, help="number of proposals / configurations")
    parser.add_argument("--out", required=True, help="output HDF5 ensemble")
    parser.add_argument("--metropolis", action=argparse.BooleanOptionalAction, default=True, help=metropolis_help)
    parser.add_argument("--chains", type=int, default=1, help="independent Metropolis chains (default 1)")
    parser.add_argument("--batch-size", type=int, default=batch_default,
                        help=f"{what} per batch (default {batch_default})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default OUT.ckpt.pt); resumed if present")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
