"""The measurement tables shipped with qcdgen: readable as calibration data, named as observe names them."""

import numpy as np

from qcdgen.cli.infer import data_path
from qcdgen.hic.centrality import ALICE_CLASSES
from qcdgen.hic.data import SHIPPED, shipped_data_path
from qcdgen.inference.data import read_data


def _table():
    return read_data(shipped_data_path("alice-pbpb2760"))


def test_every_shipped_table_exists_and_names_its_sources():
    for name, (file, _) in SHIPPED.items():
        path = shipped_data_path(name)
        assert path.is_file(), file
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert any("PRL" in line or "PRC" in line or "arXiv" in line for line in header), name


def test_alice_table_is_physical():
    data = _table()
    ref = {key: v for key, v in zip(data.keys, data.values)}
    dn = [ref[("dNch/deta", f"{a}-{b}%")] for a, b in ALICE_CLASSES]
    assert np.all(np.diff(dn) < 0)                      # multiplicity falls with centrality
    assert 1500 < dn[0] < 1700                          # ~1600 in 0-5 % (ALICE's headline number)
    for (name, cls), v in ref.items():
        if name == "v2{4}":                             # flow fluctuations: v2{4} < v2{2}
            assert v < ref[("v2{2}", cls)]
    pt = [ref[(f"mean_pt({s})", "0-5%")] for s in ("pi+", "K+", "p")]
    assert pt == sorted(pt)                             # radial flow: <pT> grows with mass
    assert np.all(data.errors > 0)


def test_shipped_names_are_observe_names():
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
    from qcdgen.hic.observables import observe

    events, _ = HydroInspiredGenerator(centrality=(0, 5)).generate(3, np.random.default_rng(0))
    names = set(observe(events, warn=False).observables)
    assert {name for name, _ in _table().keys} <= names


def test_a_shipped_name_stands_for_its_file_and_a_path_stays_a_path(tmp_path):
    assert data_path("alice-pbpb2760") == str(shipped_data_path("alice-pbpb2760"))
    own = tmp_path / "alice-like.csv"
    assert data_path(str(own)) == str(own)
