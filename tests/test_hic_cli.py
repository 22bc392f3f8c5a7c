"""``qcdgen hic generate | observe | convert``: outputs, resume, and one-line refusals (exit code 2)."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.hic import events as E
from qcdgen.hic.formats import write_file
from qcdgen.hic.generation import generate_to_file
from qcdgen.hic.generators.angantyr import pythia_available


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_writes_events_with_conditions(tmp_path, capsys):
    out = tmp_path / "E.parquet"
    code, stdout, _ = _run(["hic", "generate", "--events", "6", "--chunk-events", "4", "--centrality", "60-70",
                            "--eta-s", "0.12", "--seed", "3", "--out", str(out), "--no-progress"], capsys)
    assert code == 0 and "wrote 6 blastwave events" in stdout
    ev = E.read_events(out)
    assert len(ev) == 6 and not (out.parent / "E.parquet.parts").exists()
    assert np.all(ev.eta_s == 0.12) and np.all(ev.sqrts == 2760.0)
    # geometric centrality from b lies in the requested class
    assert np.all((ev.centrality >= 59.0) & (ev.centrality <= 71.0))
    assert np.all(ev.npart >= 2) and np.all(ak.num(ev.particles) > 0)
    meta = E.read_metadata(out)
    assert meta["generator"] == "blastwave" and meta["settings"]["eta_s"] == 0.12


def test_interrupted_generation_resumes_to_the_same_file(tmp_path):
    kwargs = dict(model="blastwave", n_events=6, seed=5, chunk_events=2, progress=False, centrality=(70.0, 80.0))
    ref = tmp_path / "ref.parquet"
    generate_to_file(ref, **kwargs)
    out = tmp_path / "E.parquet"
    with pytest.raises(KeyboardInterrupt):
        generate_to_file(out, stop_after=1, **kwargs)
    assert not out.exists() and (tmp_path / "E.parquet.parts").is_dir()
    summary = generate_to_file(out, **kwargs)
    assert summary.resumed_chunks == 1
    assert ak.to_list(E.read_events(out)) == ak.to_list(E.read_events(ref))
    # a partial run with other options is not silently mixed in
    with pytest.raises(KeyboardInterrupt):
        generate_to_file(out.with_name("F.parquet"), stop_after=1, **kwargs)
    with pytest.raises(Exception, match="different options"):
        generate_to_file(out.with_name("F.parquet"), **(kwargs | {"seed": 6}))


def test_observe_json_has_the_required_names(tmp_path, capsys):
    out = tmp_path / "E.parquet"
    generate_to_file(out, n_events=12, seed=1, progress=False, centrality=(60.0, 70.0))
    code, stdout, _ = _run(["hic", "observe", str(out), "--json", "--plots", str(tmp_path / "plots"),
                            "--centrality-classes", "60-65,65-70"], capsys)
    assert code == 0
    obs = json.loads(stdout)["observables"]
    for name in ("v2{2}", "v2{4}", "v2{6}", "v2{8}", "v3{2}", "v3{4}", "dNch/deta", "mean_pt", "n_events"):
        # flagged observables (12 events are too few for v2{4}...) also carry "flag" and "reason"
        assert name in obs and {"value", "error"} <= set(obs[name]) <= {"value", "error", "flag", "reason"}
        assert ("flag" in obs[name]) == ("reason" in obs[name])
    assert obs["v2{4}"].get("flag") in ("few_events", "undefined", "unreliable")
    assert obs["n_events"]["value"] == 12
    assert obs["dNch/deta"]["value"] > 0 and obs["mean_pt"]["value"] > 0.3
    assert any(p.suffix == ".png" for p in (tmp_path / "plots").iterdir())


def test_convert_oscar_to_parquet_round_trips(tmp_path, capsys):
    src = tmp_path / "E.parquet"
    generate_to_file(src, n_events=3, seed=2, progress=False, centrality=(70.0, 80.0))
    ev = E.read_events(src)
    oscar = tmp_path / "run.oscar"
    write_file(oscar, ev, "oscar2013")
    out = tmp_path / "back.parquet"
    code, stdout, _ = _run(["hic", "convert", str(oscar), str(out), "--no-progress"], capsys)
    assert code == 0 and "wrote 3 events" in stdout
    back = E.read_events(out)
    np.testing.assert_allclose(ak.flatten(back.particles.px), ak.flatten(ev.particles.px), rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(ak.flatten(back.particles.pdg), ak.flatten(ev.particles.pdg))


@pytest.mark.parametrize("argv, message", [
    (["hic", "generate", "--events", "2", "--centrality", "50-10", "--out", "{tmp}/x.parquet"], "--centrality"),
    (["hic", "generate", "--events", "0", "--out", "{tmp}/x.parquet"], "--events"),
    (["hic", "generate", "--events", "2", "--system", "FooBar", "--out", "{tmp}/x.parquet"], "FooBar"),
    (["hic", "generate", "--events", "2", "--eta-s", "-1", "--out", "{tmp}/x.parquet"], "--eta-s"),
    (["hic", "generate", "--events", "2", "--out", "{tmp}/nodir/x.parquet"], "does not exist"),
    (["hic", "observe", "{tmp}/missing.parquet"], "does not exist"),
    (["hic", "convert", "{tmp}/bad.oscar", "{tmp}/x.parquet"], "bad.oscar:"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    (tmp_path / "bad.oscar").write_text(
        "#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n"
        "# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e\n# event 0 out 1\n1 2 3\n")
    code, _, err = _run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(pythia_available(), reason="Pythia is installed")
def test_angantyr_without_pythia_says_how_to_install(tmp_path, capsys):
    code, _, err = _run(["hic", "generate", "--model", "angantyr", "--events", "1",
                         "--out", str(tmp_path / "a.parquet")], capsys)
    assert code == 2 and "qcdgen[pythia]" in err


# --------------------------------------------------------------------------- observe: outputs and small samples

def _flow_file(path, classes, n_per_class, *, v2=0.06, mult=300, seed=0):
    """π± events with dN/dφ ∝ 1 + 2 v2 cos 2(φ − Ψ), all inside the default acceptance
    (|η| < 0.8, 0.2 < pT < 5 GeV), ``n_per_class`` events in each centrality class."""
    rng = np.random.default_rng(seed)
    cent, phis = [], []
    for lo, hi in classes:
        for _ in range(n_per_class):
            cent.append(rng.uniform(lo, hi))
            psi = rng.uniform(0, np.pi)
            cand = rng.uniform(-np.pi, np.pi, 4 * mult)
            keep = rng.uniform(0, 1 + 2 * v2, cand.size) < 1 + 2 * v2 * np.cos(2 * (cand - psi))
            phis.append(cand[keep][:mult])
    phi = np.concatenate(phis)
    n = phi.size
    pt = np.minimum(0.25 + rng.exponential(0.5, n), 4.5)
    eta = rng.uniform(-0.75, 0.75, n)
    pdg = rng.choice([211, -211], n)
    mass = 0.13957
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    parts = dict(px=px, py=py, pz=pz, E=np.sqrt(px ** 2 + py ** 2 + pz ** 2 + mass ** 2), mass=np.full(n, mass),
                 pdg=pdg, charge=np.sign(pdg))
    E.write_events(path, E.make_events(np.full(len(cent), mult), parts, centrality=np.array(cent)))
    return path


def _must_not_run(*args, **kwargs):
    raise AssertionError("events were read before the output paths were checked")


@pytest.mark.parametrize("kind, message", [
    ("file", "is an existing file, not a directory"),
    ("below_file", "is a file, not a directory"),
    ("proc", "does not allow creating entries"),
])
def test_bad_plots_path_is_refused_before_reading_events(tmp_path, capsys, monkeypatch, kind, message):
    import qcdgen.hic.observables as observables
    import qcdgen.hic.observables.summary as summary_module

    monkeypatch.setattr(observables, "observe_file", _must_not_run)
    monkeypatch.setattr(summary_module, "iter_events", _must_not_run)
    (tmp_path / "taken").write_text("not a directory")
    plots = {"file": tmp_path / "taken", "below_file": tmp_path / "taken" / "plots",
             "proc": "/proc/qcdgen-test-plots"}[kind]
    # the event file need not even exist: the output path is checked first
    code, stdout, err = _run(["hic", "observe", str(tmp_path / "E.parquet"), "--plots", str(plots)], capsys)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("qcdgen: error: --plots") and message in err, err
    assert "No such file or directory" not in err
    assert not (tmp_path / "taken" / "plots").exists()


def test_check_writable_names_the_real_reason():
    from qcdgen.errors import InputError
    from qcdgen.io.atomic import check_writable

    with pytest.raises(InputError) as info:
        check_writable("/proc/qcdgen-test.h5", "output")
    text = str(info.value)
    assert "'/proc'" in text and "not writable" in text and "does not allow creating entries" in text
    assert "No such file or directory" not in text


def _json_at(doc, key: str):
    """Follow a key such as per_class["0-5%"]["observables"]["rho2"] through the JSON document."""
    import re

    head, rest = key.split("[", 1) if "[" in key else (key, "")
    node = doc[head]
    for part in re.findall(r'\["([^"]*)"\]', "[" + rest if rest else ""):
        node = node[part]
    return node


def _printed_numbers_are_possible(doc):
    """No correlation coefficient outside [-1, 1] and no v_n{k>=4} >= v_n{2} printed as a number."""
    blocks = [doc["observables"]] + [c["observables"] for c in doc["per_class"].values()]
    for obs in blocks:
        for name, entry in obs.items():
            if name.startswith("rho") and entry["value"] is not None:
                assert -1 <= entry["value"] <= 1, (name, entry)
            if name[:2] in ("v2", "v3") and name[2:] in ("{4}", "{6}", "{8}") and entry["value"] is not None:
                v2 = obs[name[:2] + "{2}"]["value"]
                assert v2 is not None and entry["value"] < v2, (name, entry, v2)
            if entry["value"] is None and name != "n_events":
                assert entry["flag"] in ("undefined", "unreliable") and entry["reason"], (name, entry)


def test_small_classes_are_flagged_and_print_no_impossible_number(tmp_path, capsys):
    import re
    import warnings as w

    from qcdgen.hic.observables import observe_file

    classes = [(0, 10), (10, 20), (20, 30), (30, 40)]
    path = _flow_file(tmp_path / "small.parquet", classes, 15, seed=4)
    arg = ",".join(f"{lo}-{hi}" for lo, hi in classes)
    # the raw estimators of this sample do give impossible numbers, so the test exercises the nulling
    with w.catch_warnings():
        w.simplefilter("ignore")
        summary = observe_file(path, classes)
    unreliable = [(scope, name) for scope, q in summary.quality.items() for name, f in q.items()
                  if f.flag == "unreliable"]
    assert any(name.startswith("rho") for _, name in unreliable), summary.flags
    assert any(name.startswith("v2{") for _, name in unreliable), summary.flags

    code, stdout, err = _run(["hic", "observe", str(path), "--json", "--centrality-classes", arg], capsys)
    assert code == 0
    doc = json.loads(stdout)
    _printed_numbers_are_possible(doc)
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("qcdgen: warning: ") for line in lines)
    assert all(len(line) <= 130 for line in lines), max(lines, key=len)
    assert not any("summary.flags" in line for line in lines)
    for line in lines:
        key = re.search(r'see ((?:observables|per_class)(?:\["[^"]*"\])+)', line)
        assert key, line
        _json_at(doc, key.group(1))  # the key each warning names exists in the --json output
    for lo, hi in classes:  # every class is told it is small, in its own line
        label = f"{lo}-{hi}%"
        assert any(line.startswith(f"qcdgen: warning: {label}: 15 events, too few for") for line in lines), label
        flag = doc["per_class"][label]["observables"]["v2{4}"]["flag"]
        assert flag in ("few_events", "undefined", "unreliable")
    assert doc["warnings"] == [line[len("qcdgen: warning: "):] for line in lines]

    # the table: no tau_int column, no "nan", nulled values as n/a
    code, stdout, _ = _run(["hic", "observe", str(path), "--centrality-classes", arg], capsys)
    assert code == 0
    assert "τ_int" not in stdout and "tau_int" not in stdout and "nan" not in stdout.lower().replace("n/a", "")
    assert "n/a" in stdout
    for value in re.findall(r"│ rho\d\s+│\s+(\S+)", stdout):
        assert value == "n/a" or abs(float(value)) <= 1, value


def test_observe_plots_are_written_and_show_missing_points(tmp_path, capsys):
    classes = [(0, 10), (10, 20)]
    path = _flow_file(tmp_path / "E.parquet", classes, 15, seed=5)
    plots = tmp_path / "new" / "plots"
    code, _, err = _run(["hic", "observe", str(path), "--plots", str(plots), "--centrality-classes", "0-10,10-20"],
                        capsys)
    assert code == 0 and f"wrote 6 plots to {plots}" in err
    for p in plots.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size < 200_000
