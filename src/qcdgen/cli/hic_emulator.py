"""``qcdgen hic emulator-train / emulator-predict / classify-train / classify-eval``."""

from __future__ import annotations

from qcdgen.cli import options


def register(sub) -> None:
    et = options.add_command(sub, "emulator-train", run_emulator_train,
                             "train the DenseNet emulator: initial profile (+ eta/s) -> dNch/deta, <pT>, V2, V3")
    et.add_argument("pairs", nargs="+", help="pairs files (qcdgen hic pairs)")
    et.add_argument("--out", required=True, help="output model file (.pt, kind profile-emulator)")
    et.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    et.add_argument("--holdout", type=float, default=0.2,
                    help="fraction of events held out and evaluated after training (default 0.2)")
    et.add_argument("--json", action="store_true", help="print the held-out evaluation as JSON")
    options.add_run_options(et, device=False)

    ep = options.add_command(sub, "emulator-predict", run_emulator_predict,
                             "per-event dNch/deta, <pT>, v2, v3 of initial profiles (and their accuracy if the file "
                             "holds the hydro's)")
    ep.add_argument("model", help="emulator model file (emulator-train)")
    ep.add_argument("profiles", help="pairs file (qcdgen hic pairs) holding the profiles")
    ep.add_argument("--eta-s", type=float, default=None, help="eta/s for every profile (default: the file's)")
    ep.add_argument("--extrapolate", action="store_true", help="allow eta/s outside the training range (warns)")
    ep.add_argument("--json", action="store_true", help="print per-event predictions (and evaluation) as JSON")

    ct = options.add_command(sub, "classify-train", run_classify_train,
                             "train a PointNet/CNN classifier of two pair sets (e.g. the EoS) or a b regressor")
    ct.add_argument("pairs", nargs="+", help="PAIRS_A.h5 PAIRS_B.h5 (classes A, B); for --target b any files")
    ct.add_argument("--target", choices=["eos", "b"], default="eos",
                    help="eos: classify A vs B by the condition that differs (eos, eta_s, beta2, sqrts); b: regress b")
    ct.add_argument("--rep", choices=["pointnet", "cnn"], default="pointnet",
                    help="pointnet: particle clouds; cnn: rho(pT, phi) images (default pointnet)")
    ct.add_argument("--out", required=True, help="output model file (.pt)")
    ct.add_argument("--steps", type=int, default=600, help="optimiser steps (default 600)")
    ct.add_argument("--max-particles", type=int, default=256, help="particles kept per event (default 256)")
    ct.add_argument("--width", type=int, default=64, help="network width (default 64)")
    ct.add_argument("--train-k", default="1,2,4,8,16", help="events per sample drawn in training (default 1,2,4,8,16)")
    ct.add_argument("--test-fraction", type=float, default=0.3,
                    help="fraction of each class held out and evaluated (default 0.3)")
    ct.add_argument("--json", action="store_true", help="print the held-out evaluation as JSON")
    options.add_run_options(ct, device=False)

    ce = options.add_command(sub, "classify-eval", run_classify_eval,
                             "accuracy vs events per sample (or the b resolution) on held-out pairs")
    ce.add_argument("model", help="classifier file (classify-train)")
    ce.add_argument("pairs", nargs="+", help="pairs files; events are labelled by the classifier's condition")
    ce.add_argument("--events-per-sample", default="1,4,16", help="k values (default 1,4,16)")
    ce.add_argument("--repeats", type=int, default=5, help="random groupings of the events into samples (default 5)")
    ce.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    options.add_run_options(ce, device=False, progress=False)


def _ints(text: str, what: str) -> list[int]:
    from qcdgen.errors import InputError
    try:
        vals = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise InputError(f"{what} must be integers >= 1, got {text!r}")
    return vals


def _load(paths):
    from qcdgen.hic.conditional.pairs import concat_pairs, load_pairs
    parts = [load_pairs(p) for p in paths]
    return concat_pairs(parts) if len(parts) > 1 else parts[0]


def _threads():
    import torch
    torch.set_num_threads(1)


def _print_emulator_eval(r: dict) -> None:
    print(f"held-out events: {r['n_events']}")
    print("R^2      " + "  ".join(f"{k} {v:.3f}" for k, v in r["r2"].items()))
    print("ceiling  " + "  ".join(f"{k} {v:.3f}" for k, v in r["r2_ceiling"].items()) + "  (target noise)")
    for name, c in r["calibration"].items():
        print(f"calibration {name}: slope of true on predicted {c['slope'][0]:.3f} +- {c['slope'][1]:.3f}")
    print(f"{'class':>7} {'n':>4}  {'R2 dN':>6} {'R2 V2':>6} {'R2 V3':>6}  " +
          "  ".join(f"{c + ' emu/hydro':>18} {c + ' emu/target':>18}" for c in ("v2{2}", "v2{4}", "v3{2}")))
    for cls, row in r["classes"].items():
        cu = row["cumulants"]
        cells = "  ".join(f"{_pm(cu['emulator/hydro'][c]):>18} {_pm(cu['emulator/target'][c]):>18}"
                          for c in ("v2{2}", "v2{4}", "v3{2}"))
        print(f"{cls:>7} {row['n_events']:>4}  {row['r2']['dNch/deta']:6.3f} {row['r2']['V2']:6.3f} "
              f"{row['r2']['V3']:6.3f}  {cells}")


def _pm(v) -> str:
    return f"{v[0]:.3f} +- {v[1]:.3f}"


def run_emulator_train(args) -> int:
    """Train the profile -> observables emulator (DenseNet, Hirvonen et al. PRC 108 (2023) 034905) on pairs
    files, hold out a fraction of the events and print their R^2, calibration and cumulant ratios."""
    import numpy as np

    from qcdgen.cli.formatting import print_json
    from qcdgen.errors import InputError
    from qcdgen.hic.conditional.emulator import evaluate_emulator, train_emulator

    _threads()
    pd = _load(args.pairs)
    if not 0.0 <= args.holdout < 0.9:
        raise InputError(f"--holdout must be in [0, 0.9), got {args.holdout}")
    perm = np.random.default_rng(args.seed).permutation(len(pd))
    n_test = int(round(args.holdout * len(pd)))
    tr, te = pd.subset(np.sort(perm[n_test:])), pd.subset(np.sort(perm[:n_test]))
    show = None if args.no_progress else (lambda ep, vl: print(f"epoch {ep + 1}/{args.epochs}: val loss {vl:.4f}")
                                          if (ep + 1) % 10 == 0 else None)
    emu = train_emulator(tr, epochs=args.epochs, seed=args.seed, progress=show)
    emu.save(args.out)
    print(f"wrote {args.out}: profile-emulator trained on {emu.info['n_train']} events "
          f"(+{emu.info['n_val']} validation), eta/s in [{emu.eta_s_range[0]:g}, {emu.eta_s_range[1]:g}]")
    if n_test >= 10:
        r = evaluate_emulator(emu, te)
        print_json(r) if args.json else _print_emulator_eval(r)
    return 0


def run_emulator_predict(args) -> int:
    """Predict per-event dNch/deta, <pT>, v2, Psi2, v3, Psi3 for the profiles of a pairs file; if the file
    holds hydro (or blast-wave) events, also their accuracy."""
    import warnings

    import numpy as np

    from qcdgen.cli.formatting import print_json
    from qcdgen.hic.conditional.emulator import evaluate_emulator, load_emulator

    _threads()
    emu = load_emulator(args.model)
    pd = _load([args.profiles])
    eta = pd.conditions["eta_s"] if args.eta_s is None else np.full(len(pd), args.eta_s)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        eta = emu.check_inputs(pd.profiles, (pd.profile_cells, pd.profile_window), eta, extrapolate=args.extrapolate)
    p = emu.predict(pd.profiles, eta)
    events = [{"dNch_deta": float(p["dnch"][i]), "mean_pt": float(p["mean_pt"][i]),
               "v2": float(abs(p["V"][i, 0])), "psi2": float(np.angle(p["V"][i, 0]) / 2),
               "v3": float(abs(p["V"][i, 1])), "psi3": float(np.angle(p["V"][i, 1]) / 3)} for i in range(len(pd))]
    evaluation = None
    if len(pd) >= 10 and args.eta_s is None:
        pd.conditions = dict(pd.conditions, eta_s=np.asarray(eta, float))
        evaluation = evaluate_emulator(emu, pd)
    if args.json:
        print_json({"events": events, "evaluation": evaluation})
        return 0
    print(f"{len(pd)} profiles; first {min(10, len(pd))}:")
    print(f"{'event':>5} {'dNch/deta':>10} {'<pT>':>7} {'v2':>7} {'v3':>7}")
    for i, e in enumerate(events[:10]):
        print(f"{i:>5} {e['dNch_deta']:10.1f} {e['mean_pt']:7.4f} {e['v2']:7.4f} {e['v3']:7.4f}")
    if evaluation is not None:
        _print_emulator_eval(evaluation)
    return 0


def _print_classifier_eval(r: dict) -> None:
    if r["target"] == "b":
        a = r["all"]
        print(f"b resolution (rms b_pred - b_true): {_pm(a['rms'])} fm over {a['n_events']} events "
              f"(b spread {a['b_spread']:.2f} fm)")
        for cls, c in r["classes"].items():
            print(f"  {cls:>6} %: {_pm(c['rms'])} fm, bias {c['bias']:+.3f}, spread {c['b_spread']:.2f} ({c['n_events']} ev)")
        return
    print(f"{r['rep']} classifier of {r['label_key']} = {r['label_values'][0]:g} vs {r['label_values'][1]:g}, "
          f"{r['n_events']} held-out events")
    print(f"{'k':>4} {'accuracy':>18} {'samples':>8}")
    for row in r["rows"]:
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f} +- {row['error']:.3f}"
        print(f"{row['k']:>4} {acc:>18} {row['n_samples']:>8}")


def run_classify_train(args) -> int:
    """Train a PointNet (particle clouds) or CNN (rho(pT, phi)) classifier of PAIRS_A vs PAIRS_B from samples of k
    events, or a b regressor; prints the held-out accuracy vs k (or the b resolution)."""
    from qcdgen.cli.formatting import print_json
    from qcdgen.errors import InputError
    from qcdgen.hic.conditional.classifiers import evaluate_classifier, train_classifier
    from qcdgen.hic.conditional.pairs import load_pairs

    _threads()
    if args.target == "eos" and len(args.pairs) != 2:
        raise InputError(f"--target eos needs exactly two pair files (A, B), got {len(args.pairs)}")
    parts = [load_pairs(p) for p in args.pairs]
    if args.target == "b" and len(parts) > 1:
        from qcdgen.hic.conditional.pairs import concat_pairs
        parts = [concat_pairs(parts)]
    if not 0.0 < args.test_fraction < 0.9:
        raise InputError(f"--test-fraction must be in (0, 0.9), got {args.test_fraction}")
    show = None if args.no_progress else (lambda s, loss: print(f"step {s}: loss {loss:.4f}"))
    model, te, yte = train_classifier(*parts, target=args.target, rep=args.rep, steps=args.steps,
                                      max_particles=args.max_particles, width=args.width,
                                      train_k=_ints(args.train_k, "--train-k"), test_fraction=args.test_fraction,
                                      seed=args.seed, progress=show)
    r = evaluate_classifier(model, te, yte, events_per_sample=model.meta["train_k"])
    model.meta["heldout"] = r
    model.save(args.out)
    print(f"wrote {args.out}: {model.kind} ({model.rep}) trained on {model.meta['n_train']} events")
    print_json(r) if args.json else _print_classifier_eval(r)
    return 0


def run_classify_eval(args) -> int:
    """Evaluate a classifier on pairs files (events labelled by the condition it was trained on): accuracy vs
    events per sample with Wilson errors; for a b regressor the resolution by centrality class."""
    from qcdgen.cli.formatting import print_json
    from qcdgen.hic.conditional.classifiers import evaluate_classifier, load_classifier

    _threads()
    model = load_classifier(args.model)
    pd = _load(args.pairs)
    r = evaluate_classifier(model, pd, events_per_sample=_ints(args.events_per_sample, "--events-per-sample"),
                            repeats=args.repeats)
    print_json(r) if args.json else _print_classifier_eval(r)
    return 0
