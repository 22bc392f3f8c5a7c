"""Options and calls every ``qcdgen lattice`` command of a generative sampler shares."""

from __future__ import annotations

import argparse

from qcdgen.cli.options import add_command, add_run_options


def add_train_parser(sub, command: str, run, max_dim: int, help: str) -> argparse.ArgumentParser:
    """The ``command`` parser (running ``run``, described by its docstring) of a sampler trained on the
    action alone, with :func:`add_action_arguments`."""
    parser = add_command(sub, command, run, help)
    add_action_arguments(parser, max_dim)
    return parser


def add_action_arguments(parser: argparse.ArgumentParser, max_dim: int) -> None:
    """--size, --kappa, --lam, --dim (1..max_dim), --out: the action a dataless sampler is trained on."""
    parser.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    parser.add_argument("--kappa", type=float, required=True, help="hopping parameter (>= 0)")
    parser.add_argument("--lam", type=float, required=True, help="quartic coupling lambda (>= 0)")
    parser.add_argument("--dim", type=int, default=2, help=f"space-time dimension d, 1..{max_dim} (default 2)")
    parser.add_argument("--out", required=True, help="model file (.pt)")


def add_sampling_arguments(parser: argparse.ArgumentParser, what: str, batch_default: int, metropolis_help: str) -> None:
    """--configs, --out, --metropolis, --chains, --batch-size, --seed, --device, --checkpoint, --no-progress."""
    parser.add_argument("--configs", type=int, required=True, help="number of proposals / configurations")
    parser.add_argument("--out", required=True, help="output HDF5 ensemble")
    parser.add_argument("--metropolis", action=argparse.BooleanOptionalAction, default=True, help=metropolis_help)
    parser.add_argument("--chains", type=int, default=1, help="independent Metropolis chains (default 1)")
    parser.add_argument("--batch-size", type=int, default=batch_default,
                        help=f"{what} per batch (default {batch_default})")
    add_run_options(parser, checkpoint=True)


def train(name: str, args: argparse.Namespace, settings: dict):
    """Train sampler ``name`` on the action of ``args`` (add_action_arguments) with ``settings`` (flags)."""
    from qcdgen.lattice.samplers import train_lattice_sampler

    action = dict(size=args.size, kappa=args.kappa, lam=args.lam, dim=args.dim)
    return train_lattice_sampler(name, action, args.out, settings, device=args.device, checkpoint=args.checkpoint,
                                 progress=not args.no_progress)


def sample(name: str, args: argparse.Namespace):
    """Sample the model of ``args`` (add_sampling_arguments) with sampler ``name``."""
    from qcdgen.lattice.samplers import sample_lattice_sampler

    settings = dict(configs=args.configs, metropolis=args.metropolis, chains=args.chains, batch_size=args.batch_size,
                    seed=args.seed)
    return sample_lattice_sampler(args.model, args.out, settings, sampler=name, device=args.device,
                                  checkpoint=args.checkpoint, progress=not args.no_progress)


def add_optimiser_arguments(parser: argparse.ArgumentParser, defaults) -> None:
    """--steps, --batch-size, --lr, --warmup, --eval-samples with the defaults of a settings instance."""
    d = defaults
    parser.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help=f"samples per step (default {d.batch_size})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate, cosine decay (default {d.lr:g})")
    parser.add_argument("--warmup", type=int, default=d.warmup, help=f"warm-up steps (default {d.warmup})")
    parser.add_argument("--eval-samples", type=int, default=d.eval_samples,
                        help=f"samples for the final log Z / ESS estimate (default {d.eval_samples})")
