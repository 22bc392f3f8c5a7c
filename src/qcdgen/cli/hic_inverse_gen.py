"""``qcdgen hic profiles-train / profiles-sample``: inverse generation of initial entropy profiles from the
final state (Sun, Yan, Gale & Jeon, PRC 112 (2025) L051903; :mod:`qcdgen.hic.conditional.inverse_generation`)."""

from __future__ import annotations

import sys

from qcdgen.cli import options

GEN_KIND = "qcdgen-generated-profiles"


def register(sub) -> None:
    tr = options.add_command(sub, "profiles-train", run_profiles_train,
                             "train a conditional diffusion model of initial profiles given the final state")
    tr.add_argument("pairs", help="paired dataset (qcdgen hic pairs)")
    tr.add_argument("--route", required=True, choices=("gen1", "gen3", "gen2"),
                    help="gen1: from the smooth spectrum; gen3: from one event's hadrons; gen2: hadrons -> "
                         "smooth spectrum (Gen2) -> profile (Gen1)")
    tr.add_argument("--out", required=True, help="output model file (.pt)")
    tr.add_argument("--steps", type=int, default=3000, help="training steps per network (default 3000)")
    tr.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    tr.add_argument("--base", type=int, default=16, help="U-Net base width (default 16)")
    tr.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    tr.add_argument("--profile-cells", type=int, default=None,
                    help="train on profiles block-averaged to this many cells per side (default: the data's)")
    tr.add_argument("--events", type=int, default=None, help="use only the first N events")
    options.add_run_options(tr, device=False)

    sa = options.add_command(sub, "profiles-sample", run_profiles_sample,
                             "generate initial profiles from the final states of a pairs file and judge them")
    sa.add_argument("model", help="model file (qcdgen hic profiles-train)")
    sa.add_argument("pairs", help="paired dataset whose final states condition the generation")
    sa.add_argument("--out", required=True, help="output HDF5 file of generated profiles")
    sa.add_argument("--samples", type=int, default=4, help="profiles per input (posterior spread; default 4)")
    sa.add_argument("--steps", type=int, default=30, help="sampler steps (default 30)")
    sa.add_argument("--method", choices=("ode", "sde"), default="ode",
                    help="probability-flow ODE (default) or reverse SDE")
    sa.add_argument("--events", type=int, default=None, help="use only the first N events")
    sa.add_argument("--extrapolate", action="store_true", help="allow eta/s outside the training range (warns)")
    options.add_run_options(sa)


def _check_int(value, name, lo=1):
    from qcdgen.errors import InputError

    if value is not None and value < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {value}")


def save_model(model: dict, path):
    import torch

    from qcdgen.io.atomic import atomic_path, check_writable

    path = check_writable(path, "model")
    with atomic_path(path) as tmp:
        torch.save(model, tmp)
    return path


def load_model(path) -> dict:
    """A profile-diffusion model file; any other file is an InputError."""
    from pathlib import Path

    import torch

    from qcdgen.errors import InputError
    from qcdgen.hic.conditional.inverse_generation import FORMAT, KIND

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        model = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:                                   # noqa: BLE001 - any unreadable file is bad input
        raise InputError(f"{path} is not a qcdgen model file (make it with qcdgen hic profiles-train)") from None
    kind = model.get("kind") if isinstance(model, dict) else None
    if kind != KIND:
        raise InputError(f"{path} is a {kind or 'non-qcdgen'} model, not a {KIND} model")
    if model.get("format") != FORMAT:
        raise InputError(f"{path} is a {KIND} model of an older layout (format {model.get('format')}, need {FORMAT}); "
                         "retrain it with qcdgen hic profiles-train")
    return model


def _load_pairs(path, events):
    from qcdgen.hic.conditional.pairs import load_pairs

    pd = load_pairs(path)
    return pd.subset(range(min(events, len(pd)))) if events is not None else pd


def run_profiles_train(args) -> int:
    """Train inverse generation (issue 21 part 5): a conditional diffusion model (qcdgen.nn.unet U-Net,
    denoising score matching) of the initial entropy profile given the final state, in the event-plane
    frame of the input. Routes as in Sun et al.: gen1 (smooth freeze-out spectrum), gen3 (one event's
    hadron histogram, |eta| < 0.5) and gen2 (histogram -> smooth spectrum -> profile)."""
    import time

    import numpy as np

    from qcdgen.hic.conditional.inverse_generation import train_inverse
    from qcdgen.runtime import progress_bar

    for v, n in ((args.steps, "--steps"), (args.batch, "--batch"), (args.base, "--base"), (args.events, "--events")):
        _check_int(v, n)
    pd = _load_pairs(args.pairs, args.events)
    t0 = time.time()
    with progress_bar(not args.no_progress) as bar:
        tasks = {}

        def progress(what, k, n, loss):
            if what not in tasks:
                tasks[what] = bar.add_task(f"{args.route} {what}", total=n, status="")
            bar.update(tasks[what], completed=k, status=f"loss {loss:.4f}")

        model = train_inverse(pd, args.route, steps=args.steps, batch=args.batch, base=args.base, lr=args.lr,
                              seed=args.seed, cells=args.profile_cells, progress=progress)
    path = save_model(model, args.out)
    etas = sorted(set(float(x) for x in np.asarray(pd.conditions["eta_s"]) if x == x))
    P = model["profile_cells"]
    print(f"trained {args.route} profile diffusion on {len(pd)} {pd.model} events (eta/s {etas}): "
          f"{P}x{P} profiles, {args.steps} steps, final DSM loss {model['gen1']['final_loss']:.4f}, "
          f"{time.time() - t0:.0f} s -> {path}")
    return 0


def format_judgement(j: dict, route: str) -> str:
    """The εₙ table of :func:`qcdgen.hic.conditional.inverse_generation.judge`."""
    lines = [f"{'route':6} {'n':>2} {'eps_n{2} true':>13} {'gen':>7} {'rel. err (%)':>14} {'<eps> rel (%)':>14} "
             f"{'e-b-e (%)':>9} {'corr':>6} {'<cos n dPhi>':>13} {'spread (%)':>10}"]
    for k, n in enumerate(j["harmonics"]):
        lines.append(f"{route:6} {n:>2} {j['eps_true_rms'][k]:13.4f} {j['eps_gen_rms'][k]:7.4f} "
                     f"{100 * j['rel_rms'][k]:+7.1f} ± {100 * j['rel_rms_err'][k]:4.1f} "
                     f"{100 * j['rel_mean'][k]:+7.1f} ± {100 * j['rel_mean_err'][k]:4.1f} "
                     f"{100 * j['ebe'][k]:9.1f} {j['corr'][k]:6.2f} "
                     f"{j['resolution'][k]:6.3f} ± {j['resolution_err'][k]:.3f} {100 * j['spread'][k]:10.1f}")
    return "\n".join(lines)


def run_profiles_sample(args) -> int:
    """Generate initial profiles from the final states in a pairs file (several samples per input) and judge
    them against the pairs' true profiles: eps_n{2} relative error, event-by-event error and correlation,
    participant-plane resolution <cos n(Phi_gen - Phi_true)> and posterior spread (n = 2, 3, 4)."""
    import time

    import h5py
    import numpy as np

    from qcdgen.errors import InputError
    from qcdgen.hic.conditional.inverse_generation import coarsen_profiles, judge, route_inputs, sample_inverse
    from qcdgen.io.atomic import atomic_path, check_writable

    for v, n in ((args.samples, "--samples"), (args.steps, "--steps"), (args.events, "--events")):
        _check_int(v, n)
    model = load_model(args.model)
    pd = _load_pairs(args.pairs, args.events)
    if pd.profile_cells != model["data_cells"] or abs(pd.profile_window - model["profile_window"]) > 1e-9:
        raise InputError(f"{args.pairs} has {pd.profile_cells}x{pd.profile_cells} profiles on +-{pd.profile_window:g} fm, "
                         f"the model {args.model} was trained on {model['data_cells']}x{model['data_cells']} on "
                         f"+-{model['profile_window']:g} fm")
    if pd.spectra.shape[1:] != (len(model["pt_edges"]) - 1, len(model["phi_edges"]) - 1) or not (
            np.allclose(pd.pt_edges, model["pt_edges"]) and np.allclose(pd.phi_edges, model["phi_edges"])):
        raise InputError(f"{args.pairs} has a different (pT, phi) grid from the model's")
    eta = np.asarray(pd.conditions["eta_s"], float)
    lo, hi = model["eta_range"]
    out_of_range = np.isfinite(eta) & ((eta < lo - 1e-9) | (eta > hi + 1e-9))
    if out_of_range.any():
        msg = (f"eta/s {sorted(set(eta[out_of_range].tolist()))} outside the training range [{lo:g}, {hi:g}] "
               f"of {args.model}")
        if not args.extrapolate:
            raise InputError(msg + " (pass --extrapolate to go on)")
        print(f"warning: {msg}; extrapolating", file=sys.stderr)
    path = check_writable(args.out, "output")
    t0 = time.time()
    gen = sample_inverse(model, route_inputs(pd, model["route"]), eta, samples=args.samples, steps=args.steps,
                         method=args.method, seed=args.seed, device=args.device)
    dt = time.time() - t0
    N, K, P, _ = gen.shape
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update({"kind": GEN_KIND, "profile_window": pd.profile_window, "model": pd.model,
                        "route": model["route"], "samples": K, "source": str(args.pairs),
                        "profile_units": pd.profile_units})
        f.create_dataset("profiles", data=gen.reshape(N * K, P, P), compression="gzip")
        f.create_dataset("event_index", data=np.repeat(np.arange(N), K))
        f.create_dataset("sample_index", data=np.tile(np.arange(K), N))
        for k, v in pd.conditions.items():
            f.create_dataset(f"conditions/{k}", data=np.repeat(v, K))
    truth = coarsen_profiles(pd.profiles, P) if P != pd.profile_cells else pd.profiles
    j = judge(truth, gen, pd.profile_window)
    print(f"generated {N}x{K} {P}x{P} profiles ({model['route']}, {args.method}, {args.steps} steps) in {dt:.1f} s "
          f"-> {path}")
    print(format_judgement(j, model["route"]))
    if j["bad_events"]:
        print(f"events with no finite eccentricity (left out): {j['bad_events'][:10]}")
    return 0
