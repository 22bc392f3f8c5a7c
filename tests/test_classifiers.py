"""Final-state classifiers (qcdgen.hic.conditional.classifiers) on blast-wave events.

Two samples that differ only in η/s (0 vs 0.3: v_2 damped by about a half) must be told apart far
above chance, better with more events per sample (the per-event v_2 fluctuates with ε_2, and the
finite multiplicity adds noise); with the labels shuffled over the training events the same network
must stay at chance. Train and test events are disjoint.
"""

import json

import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.hic.conditional.classifiers import evaluate_classifier, train_classifier, wilson_error
from qcdgen.hic.conditional.pairs import build_pairs, save_pairs
from qcdgen.hic.generation import generate_to_file


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("cls")
    pds = []
    for eta in (0.0, 0.3):
        f = d / f"bw{eta}.parquet"
        generate_to_file(f, model="blastwave", n_events=160, seed=21, progress=False, centrality=(10.0, 50.0),
                         eta_s=eta, oversample=0, y_max=1.2)
        pds.append(build_pairs([f], profile_cells=8))
        save_pairs(pds[-1], d / f"p{eta}.h5")
    return {"dir": d, "a": pds[0], "b": pds[1]}


def _acc(r):
    return {row["k"]: (row["accuracy"], row["error"], row["n_samples"]) for row in r["rows"]}


def test_wilson_error_is_the_binomial_error_for_many_trials():
    assert wilson_error(0.7, 10_000) == pytest.approx(np.sqrt(0.7 * 0.3 / 10_000), rel=1e-3)
    assert 0 < wilson_error(1.0, 12) < 0.1          # a perfect score from 12 samples still carries an error


def test_pointnet_separates_eta_s_and_improves_with_events_per_sample(data):
    model, test, y = train_classifier(data["a"], data["b"], rep="pointnet", steps=300, max_particles=128,
                                      train_k=(1, 4, 8), width=32, seed=0)
    assert model.meta["label_key"] == "eta_s" and model.meta["label_values"] == [0.0, 0.3]
    acc = _acc(evaluate_classifier(model, test, y, events_per_sample=(1, 8), repeats=10))
    (a1, e1, n1), (a8, _, n8) = acc[1], acc[8]
    assert n1 == 2 * 48 and n8 == 2 * 6          # disjoint held-out samples only
    assert a1 > 0.5 + 2 * e1                      # single events: above chance
    assert a8 >= 0.75 and a8 > a1 + e1            # pooled events: better


def test_label_shuffled_control_stays_at_chance(data):
    model, test, y = train_classifier(data["a"], data["b"], rep="pointnet", steps=150, max_particles=64,
                                      train_k=(1, 4, 8), width=32, shuffle_labels=True, seed=0)
    acc = _acc(evaluate_classifier(model, test, y, events_per_sample=(1, 8), repeats=10))
    for k, (a, e, n) in acc.items():
        assert abs(a - 0.5) < 3 * max(e, 0.5 / np.sqrt(n)), (k, a, e)


def test_impact_parameter_resolution(data):
    both = data["a"].subset(np.arange(len(data["a"])))
    model, test, b = train_classifier(both, target="b", rep="pointnet", steps=150, max_particles=64, width=32)
    r = evaluate_classifier(model, test, b, classes=((10, 30), (30, 50)))
    rms, err = r["all"]["rms"]
    assert rms < 0.4 * r["all"]["b_spread"]       # multiplicity pins b down to well within the class spread
    assert abs(r["all"]["bias"]) < 3 * rms / np.sqrt(r["all"]["n_events"]) + 0.1


def test_cli_cnn_classifier_and_bad_input(data, capsys, tmp_path):
    d = data["dir"]
    a, b = str(d / "p0.0.h5"), str(d / "p0.3.h5")
    assert main(["hic", "classify-train", a, b, "--rep", "cnn", "--steps", "80", "--width", "32", "--train-k", "1,4,8",
                 "--out", str(tmp_path / "c.pt"), "--json", "--no-progress"]) == 0
    out = capsys.readouterr().out
    held = _acc(json.loads(out[out.index("{"):]))
    assert held[1][0] > 0.5 + 2 * held[1][1] and held[8][0] > 0.8     # ρ(pT, φ) of single events carries v_2
    assert main(["hic", "classify-eval", str(tmp_path / "c.pt"), a, b, "--events-per-sample", "1,16", "--repeats", "1"]) == 0
    assert "accuracy" in capsys.readouterr().out
    fake = tmp_path / "emu.pt"
    torch.save({"kind": "profile-emulator"}, fake)
    empty = tmp_path / "empty.h5"
    save_pairs(data["a"].subset(np.array([], int)), empty)
    cases = {"kind": (["classify-eval", str(fake), a], "not a classifier model"),
             "same classes": (["classify-train", a, a, "--out", str(tmp_path / "x.pt")], "do not differ"),
             "empty": (["classify-eval", str(tmp_path / "c.pt"), str(empty)], "no events"),
             "k": (["classify-eval", str(tmp_path / "c.pt"), a, "--events-per-sample", "0"], ">= 1")}
    for name, (argv, fragment) in cases.items():
        assert main(["hic", *argv]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], (name, err)
