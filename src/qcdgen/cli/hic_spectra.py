"""``qcdgen hic spectra-train`` / ``spectra-sample``: conditional diffusion of spectra on initial profiles."""

from __future__ import annotations

from qcdgen.cli import options


def register(sub) -> None:
    tr = options.add_command(sub, "spectra-train", run_spectra_train,
                             "train p(spectrum | initial profile, eta/s) by conditional denoising score matching")
    tr.add_argument("pairs", nargs="+", help="pairs files (qcdgen hic pairs)")
    tr.add_argument("--out", required=True, help="output model file (.pt, kind spectra-diffusion)")
    tr.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    tr.add_argument("--batch", type=int, default=32, help="pairs per step (default 32)")
    tr.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine-decayed (default 2e-3)")
    tr.add_argument("--base", type=int, default=16, help="U-Net channels at full resolution (default 16)")
    tr.add_argument("--init", default=None, help="fine-tune: start from this spectra-diffusion model's weights")
    options.add_run_options(tr, checkpoint=True, restart=True)

    sp = options.add_command(sub, "spectra-sample", run_spectra_sample,
                             "generate one event per initial profile at a given eta/s (a qcdgen event file)")
    sp.add_argument("model", help="spectra-diffusion model file (spectra-train)")
    sp.add_argument("--profiles", required=True,
                    help="pairs file (qcdgen hic pairs), or an event file / .profiles.h5 sidecar of qcdgen hic generate")
    sp.add_argument("--eta-s", type=float, required=True, help="eta/s of the generated events")
    sp.add_argument("--extrapolate", action="store_true", help="allow eta/s outside the training range (warns)")
    sp.add_argument("--out", required=True, help="output Parquet event file (read it with qcdgen hic observe)")
    sp.add_argument("--steps", type=int, default=40, help="sampler steps (default 40)")
    sp.add_argument("--method", choices=["ode", "sde"], default="ode",
                    help="ode: probability-flow ODE, Heun (default); sde: reverse SDE, Euler-Maruyama")
    options.add_run_options(sp, progress=False)


def _load_profiles(path: str, cells: int):
    """A pairs file, or the pairs built from an event file (or its .profiles.h5 sidecar)."""
    from pathlib import Path

    from qcdgen.errors import InputError
    from qcdgen.hic.conditional.pairs import build_pairs, load_pairs

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such profile file")
    if p.name.endswith(".profiles.h5"):
        p = p.with_name(p.name[: -len(".profiles.h5")] + ".parquet")
    if p.suffix == ".parquet":
        return build_pairs([p], profile_cells=cells)
    return load_pairs(p)


def run_spectra_train(args) -> int:
    """Train the conditional spectra diffusion model (Sun, Yan, Gale & Jeon, PRC 112 (2025) L051903) on paired
    (initial profile, charged dN/(dy pT dpT dphi)) data; with --init, fine-tune an existing model."""
    import time
    from pathlib import Path

    from qcdgen.hic.conditional.pairs import concat_pairs, load_pairs
    from qcdgen.hic.conditional.spectra_diffusion import train_spectra_diffusion
    from qcdgen.io.atomic import check_writable
    from qcdgen.io.checkpoint import default_checkpoint_path

    out = check_writable(args.out, "model")
    pd = concat_pairs([load_pairs(p) for p in args.pairs])
    ck = Path(args.checkpoint) if args.checkpoint else default_checkpoint_path(out)
    if args.restart and ck.exists():
        ck.unlink()
    t0 = time.perf_counter()
    model = train_spectra_diffusion(pd, steps=args.steps, batch=args.batch, lr=args.lr, base=args.base,
                                    seed=args.seed, device=args.device, init=args.init, checkpoint=ck,
                                    progress=not args.no_progress)
    model.save(out)
    if ck.exists():
        ck.unlink()
    lo, hi = model.prep["eta_s_range"]
    print(f"wrote {out}: spectra-diffusion{' (fine-tuned)' if args.init else ''} on {len(pd)} {pd.model} pairs, "
          f"eta/s in [{lo:g}, {hi:g}], {args.steps} steps in {time.perf_counter() - t0:.0f} s, "
          f"final loss {model.info['final_loss']:.4f}")
    return 0


def run_spectra_sample(args) -> int:
    """Generate charged-particle events from initial profiles: sample the spectrum image of each profile from the
    diffusion model, then Poisson-sample it into pions (|y| < 0.5). Conditions (centrality, b) come from the profile
    file; eta_s is --eta-s. The output is a normal qcdgen event file (qcdgen hic observe works on it)."""
    import time

    import numpy as np

    from qcdgen.hic.conditional.spectra_diffusion import generate_events, load_spectra_model
    from qcdgen.hic.events import write_events
    from qcdgen.io.atomic import check_writable

    model = load_spectra_model(args.model)
    out = check_writable(args.out, "event")
    pd = _load_profiles(args.profiles, model.prep["profile_cells"])
    t0 = time.perf_counter()
    events, _ = generate_events(model, pd, args.eta_s, extrapolate=args.extrapolate, steps=args.steps,
                                method=args.method, seed=args.seed, device=args.device)
    seconds = time.perf_counter() - t0
    write_events(out, events, metadata={"generator": "spectra-diffusion", "model_file": str(args.model),
                                        "settings": {"eta_s": float(args.eta_s), "method": args.method,
                                                     "steps": args.steps, "profiles": str(args.profiles)},
                                        "seed": args.seed})
    mult = float(np.mean([len(e) for e in events.particles])) if len(events) else 0.0
    print(f"wrote {len(events)} spectra-diffusion events to {out}: eta/s {args.eta_s:g}, {seconds:.1f} s "
          f"({len(events) / max(seconds, 1e-9):.1f} events/s), mean multiplicity {mult:.0f} (|y| < 0.5)")
    return 0
