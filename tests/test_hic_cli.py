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
    assert code == 0 and "wrote 6 hydro events" in stdout
    ev = E.read_events(out)
    assert len(ev) == 6 and not (out.parent / "E.parquet.parts").exists()
    assert np.all(ev.eta_s == 0.12) and np.all(ev.sqrts == 2760.0)
    # geometric centrality from b lies in the requested class
    assert np.all((ev.centrality >= 59.0) & (ev.centrality <= 71.0))
    assert np.all(ev.npart >= 2) and np.all(ak.num(ev.particles) > 0)
    meta = E.read_metadata(out)
    assert meta["generator"] == "hydro" and meta["settings"]["eta_s"] == 0.12


def test_interrupted_generation_resumes_to_the_same_file(tmp_path):
    kwargs = dict(model="hydro", n_events=6, seed=5, chunk_events=2, progress=False, centrality=(70.0, 80.0))
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
        assert name in obs and set(obs[name]) == {"value", "error"}
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
