"""Event model: Parquet round trip, streaming by row groups, kinematics, refusals."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic import events as E
from qcdgen.hic import species


def _random_events(n_events=7, seed=0, positions=False):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 40, n_events)
    counts[1] = 0
    n = counts.sum()
    codes = rng.choice([211, -211, 321, -2212, 111, 3122], n)
    m = species.mass(codes)
    p = rng.normal(size=(n, 3))
    cols = {"px": p[:, 0], "py": p[:, 1], "pz": p[:, 2], "E": np.sqrt(m ** 2 + (p ** 2).sum(1)), "mass": m,
            "pdg": codes, "charge": species.charge(codes)}
    if positions:
        cols |= {k: rng.normal(size=n) for k in ("t", "x", "y", "z")}
    return E.make_events(counts, cols, b=rng.uniform(0, 15, n_events), npart=rng.integers(2, 416, n_events),
                         ncoll=rng.integers(1, 2000, n_events), sqrts=2760.0, eta_s=rng.uniform(0, 0.3, n_events))


@pytest.mark.parametrize("positions", [False, True])
def test_parquet_round_trip_is_exact_and_streams_by_row_group(tmp_path, positions):
    ev = _random_events(positions=positions)
    path = tmp_path / "e.parquet"
    E.write_events(path, ev, metadata={"generator": "test"}, row_group_events=3)
    chunks = list(E.iter_events(path))
    assert [len(c) for c in chunks] == [3, 3, 1]
    back = E.read_events(path)
    assert ak.to_list(back) == ak.to_list(ev)
    assert E.count_events(path) == 7
    assert E.read_metadata(path)["generator"] == "test"
    assert E.condition_fields(back) == ["sqrts", "eta_s"]
    assert len(E.read_events(path, max_events=4)) == 4


def test_kinematics_match_textbook_formulas():
    ev = _random_events(seed=3)
    k = E.kinematics(ev.particles)
    p = ev.particles
    pt = np.hypot(ak.flatten(p.px), ak.flatten(p.py))
    y = 0.5 * np.log((ak.flatten(p.E) + ak.flatten(p.pz)) / (ak.flatten(p.E) - ak.flatten(p.pz)))
    pabs = np.sqrt(pt ** 2 + ak.flatten(p.pz) ** 2)
    eta = 0.5 * np.log((pabs + ak.flatten(p.pz)) / (pabs - ak.flatten(p.pz)))
    np.testing.assert_allclose(ak.flatten(k.pt), pt, rtol=1e-12)
    np.testing.assert_allclose(ak.flatten(k.rapidity), y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ak.flatten(k.eta), eta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ak.flatten(k.phi), np.arctan2(ak.flatten(p.py), ak.flatten(p.px)), atol=1e-12)


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "e.parquet"
    ev = _random_events()
    with pytest.raises(RuntimeError):
        with E.EventWriter(path) as w:
            w.write(ev)
            raise RuntimeError("crash")
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_bad_input_is_refused_with_a_message(tmp_path):
    with pytest.raises(InputError, match="missing"):
        E.make_events([1], {"px": [1.0]})
    with pytest.raises(InputError, match="does not exist"):
        list(E.iter_events(tmp_path / "nope.parquet"))
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet"):
        list(E.iter_events(junk))
    ev = _random_events()
    bad = ak.with_field(ev, ak.unflatten(np.full(ak.sum(ak.num(ev.particles)), np.nan), ak.num(ev.particles)),
                        ["particles", "px"])
    with pytest.raises(InputError, match="non-finite"):
        E.write_events(tmp_path / "nan.parquet", bad)
    with pytest.raises(InputError, match="same fields"):
        with E.EventWriter(tmp_path / "mixed.parquet") as w:
            w.write(ev)
            w.write(_random_events(positions=True))


def test_species_lookups():
    codes = [211, -321, 2212, -3122, 3334, 111, 313]
    np.testing.assert_array_equal(species.charge(codes), [1, -1, 1, 0, -1, 0, 0])
    np.testing.assert_array_equal(species.baryon_number(codes), [0, 0, 1, -1, 1, 0, 0])
    np.testing.assert_array_equal(species.strangeness(codes), [0, -1, 0, 1, -3, 0, 1])
    assert species.mass([2212])[0] == pytest.approx(0.938272, abs=1e-6)
