"""The simulator-file readers against the sample outputs HepMC3 and pyhepmc ship as test inputs
(SMASH 2.0 OSC1999A particle lists and collision history, UrQMD 3.4 file 19, SMASH 2.0 OSCAR2013,
Pythia 8 HepMC3 with weights, a HepMC2 heavy-ion record, JEWEL's HepMC2, a truncated HepMC3;
tests/data/formats/README.md gives source, commit and licence).

Expected values are read from the files' own lines with plain string handling here, or are facts of
the format writers (SMASH ``oscaroutput.cc``, HepMC3 ``GenHeavyIon::from_string``) or of the PDG.
"""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic import species
from qcdgen.hic.formats import detect_format, iter_file
from qcdgen.hic.formats._text import MalformedFileError

DATA = Path(__file__).parent / "data" / "formats"
OSC99_LISTS = DATA / "smash_osc1999a_particle_lists.oscar1999"
OSC99_HISTORY = DATA / "smash_osc1999a_full_event_history.oscar1999"
URQMD_F19 = DATA / "urqmd_osc1997a.f19"
OSCAR2013_V2 = DATA / "smash_oscar2013_smash2.oscar"
PYTHIA8_HEPMC3 = DATA / "hepmc3_pythia8_weights.hepmc"
HEPMC2_HI = DATA / "hepmc2_heavy_ion.hepmc"
JEWEL = DATA / "jewel_hepmc2.hepmc"
BROKEN = DATA / "pyhepmc_broken.hepmc"
JETSCAPE_CUSTOM = DATA / "jetscape_custom_header.dat"


def _read(path, fmt=None) -> ak.Array:
    return ak.concatenate(list(iter_file(path, format=fmt)))


def _cli(args, capfd) -> tuple[int, list[str], str]:
    """(exit code, non-empty stderr lines, stdout) of ``qcdgen hic convert ARGS --no-progress``."""
    from qcdgen.cli.main import main

    rc = main(["hic", "convert", *map(str, args), "--no-progress"])
    out, err = capfd.readouterr()
    return rc, [ln for ln in err.splitlines() if ln.strip()], out


# ----------------------------------------------------------------------------- SMASH OSC1999A

def _osc99_events(path):
    """(rows of the final block, b of the end line) per event, from 'N 0 ev' / '0 0 ev b' lines."""
    events, rows = [], None
    for line in path.read_text().splitlines():
        t = line.split()
        if not t or t[0].startswith("#"):
            continue
        if len(t) < 12 and t[:2] == ["0", "0"]:
            events.append((rows, float(t[-1])))
        elif len(t) < 12:
            rows = []
        else:
            rows.append(t)
    return events


def _check_osc99(ev, events):
    assert ak.num(ev.particles, axis=1).tolist() == [len(r) for r, _ in events]
    assert ev.b.tolist() == [b for _, b in events]
    for got, (rows, _) in zip(ev.particles, events):
        table = np.array(rows, dtype=float)  # id pdg 0 px py pz p0 mass x y z t
        for name, col in (("pdg", 1), ("px", 3), ("py", 4), ("pz", 5), ("E", 6), ("mass", 7), ("x", 8), ("t", 11)):
            np.testing.assert_array_equal(got[name].to_numpy(), table[:, col], err_msg=name)
        np.testing.assert_array_equal(got.charge.to_numpy(), species.charge(table[:, 1].astype(int)))


def test_smash2_osc1999a_particle_lists():
    assert detect_format(OSC99_LISTS) == "oscar1999"
    events = _osc99_events(OSC99_LISTS)
    assert [b for _, b in events] == [3.432, 5.739, 5.970]  # the file's '0 0 N b' lines
    _check_osc99(_read(OSC99_LISTS), events)


def test_smash32_osc1999a_layout_of_the_same_events(tmp_path):
    """The same events in SMASH >= 3.2's layout (oscaroutput.cc: header '# nin nout event_number
    ensemble_number', blocks '%zu %zu %i %i', end '%zu %zu %i %i %7.3f'): b, not the ensemble number."""
    text = OSC99_LISTS.read_text().replace("# SMASH-2.0.2", "# SMASH-3.2").replace(
        "# nin nout event_number\n", "# nin nout event_number ensemble_number\n").replace(
        "# End of event: 0 0 event_number impact_parameter", "# End of event: 0 0 event_number ensemble_number "
        "impact_parameter")
    out = []
    for line in text.splitlines():
        t = line.split()
        if t and not t[0].startswith("#") and len(t) == 3:  # 'N 0 ev'
            line = f"{t[0]} {t[1]} {t[2]} 0"
        elif t and not t[0].startswith("#") and len(t) == 4:  # '0 0 ev b'
            line = f"0 0 {t[2]} 0 {float(t[3]):7.3f}"
        out.append(line)
    for header in (True, False):
        path = tmp_path / f"particle_lists_{header}.oscar1999"
        path.write_text("\n".join(ln for ln in out if header or not ln.startswith("#")) + "\n")
        _check_osc99(_read(path, "oscar1999"), _osc99_events(OSC99_LISTS))


def test_smash2_collision_history_is_refused_in_one_line(tmp_path, capfd):
    # the excerpt: SMASH's header, 7 '2 2 density weight partial type' interactions, '0 0 0   0.000'
    assert OSC99_HISTORY.read_text().splitlines()[1] == "# full_event_history"
    with pytest.raises(MalformedFileError, match="no final state") as info:
        _read(OSC99_HISTORY)
    assert info.value.lineno == 44 and "7 interaction(s)" in str(info.value)
    out = tmp_path / "history.parquet"
    rc, err, stdout = _cli([OSC99_HISTORY, out], capfd)
    assert rc == 2 and len(err) == 1 and "Print_Start_End" in err[0] and not out.exists()


# ----------------------------------------------------------------------------- UrQMD, SMASH OSCAR2013

def test_urqmd34_file19():
    assert detect_format(URQMD_F19) == "urqmd-f19"
    heads, rows = [], []
    for line in URQMD_F19.read_text().splitlines()[3:]:
        t = line.split()
        if len(t) == 4:
            heads.append(t)
            rows.append([])
        else:
            rows[-1].append([float(x.replace("D", "E")) for x in t])
    assert [int(h[1]) for h in heads] == [32, 29]
    ev = _read(URQMD_F19)
    assert ev.b.tolist() == [float(h[2]) for h in heads] == [0.971, 1.168]
    for got, r in zip(ev.particles, rows):
        table = np.array(r)  # i pdg px py pz p0 mass x y z t
        assert got.pdg.tolist() == table[:, 1].astype(int).tolist()
        np.testing.assert_array_equal(np.column_stack([got.px, got.py, got.pz, got.E, got.mass]), table[:, 2:7])


def test_smash2_oscar2013():
    ev = _read(OSCAR2013_V2)
    counts = [int(m) for m in re.findall(r"# event \d+ out (\d+)", OSCAR2013_V2.read_text())]
    bs = [float(m) for m in re.findall(r"end 0 impact +([0-9.]+)", OSCAR2013_V2.read_text())]
    assert counts == [33, 30] and ak.num(ev.particles, axis=1).tolist() == counts and ev.b.tolist() == bs
    flat = ak.flatten(ev.particles)  # SMASH's own charge column agrees with the PDG charges
    np.testing.assert_array_equal(flat.charge.to_numpy(), species.charge(flat.pdg.to_numpy()))


# ----------------------------------------------------------------------------- HepMC

def _hepmc3_events(path):
    """Per event: its W line's first weight and its status-1 'P' lines (pdg, px, py, pz, e)."""
    events = []
    for line in path.read_text().splitlines():
        t = line.split()
        if t[:1] == ["E"]:
            events.append([1.0, []])
        elif t[:1] == ["W"] and events:
            events[-1][0] = float(t[1])
        elif t[:1] == ["P"] and t[-1] == "1":
            events[-1][1].append((int(t[3]), *map(float, t[4:8])))
    return events


def test_pythia8_hepmc3_weights_and_partons():
    events = _hepmc3_events(PYTHIA8_HEPMC3)
    ev = _read(PYTHIA8_HEPMC3)
    assert ev.weight.tolist() == [w for w, _ in events] == [18.548240916556374, 348.05797479809996]
    assert ak.num(ev.particles, axis=1).tolist() == [len(f) for _, f in events]
    for got, (_, final) in zip(ev.particles, events):
        assert got.pdg.tolist() == [f[0] for f in final]
        np.testing.assert_array_equal(np.column_stack([got.px, got.py, got.pz, got.E]), np.array([f[1:] for f in final]))
    # the GenHeavyIon line is Pythia 8's all-zero placeholder: nothing is known
    assert "A 0 GenHeavyIon v0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 " in PYTHIA8_HEPMC3.read_text()
    assert np.isnan(ev.b.to_numpy()).all() and np.isnan(ev.centrality.to_numpy()).all()
    assert ev.npart.tolist() == ev.ncoll.tolist() == [-1, -1]
    # parton level: final quarks, diquarks and gluons; only e+- are charged (PDG: d -1/3, ud_1 -1/3 ...)
    pdg = ak.flatten(ev.particles.pdg).to_numpy()
    parton = species.is_parton(pdg)
    assert {abs(int(c)) for c in pdg[parton]} == {1, 2, 3, 21, 2103, 2203}
    charged = ak.flatten(ev.particles.charge).to_numpy() != 0
    assert sorted(set(pdg[charged].tolist())) == [-11, 11]
    from qcdgen.hic.observables.spectra import FlatParticles, select

    n_leptons = sum(abs(f[0]) == 11 for _, final in events for f in final)  # status-1 e+- lines
    assert select(FlatParticles.from_events(ev), charged=True).sum() == charged.sum() == n_leptons == 4


def _filled(path, tmp_path, record: str) -> Path:
    out = tmp_path / "filled.hepmc"
    out.write_text(PYTHIA8_HEPMC3.read_text().replace(
        "A 0 GenHeavyIon v0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -1 -1 -1 -1 -1 0 0", record))
    return out


@pytest.mark.parametrize("record", [
    # HepMC3 GenHeavyIon::from_string, 'v0': Ncoll_hard Npart_proj Npart_targ Ncoll spec_n spec_p N_Nw Nw_N Nw_Nw
    # b ep_angle eccentricity sigma_inel_NN centrality, 4 Nspec, 2 empty maps
    "A 0 GenHeavyIon v0 12 100 98 800 -1 -1 -1 -1 -1 7.25 0.3 -1 70 35.5 -1 -1 -1 -1 0 0",
    # 'v1' (HEPMC3_NO_DEPRECATED builds): no spectators or eccentricity, a user centrality estimate
    "A 0 GenHeavyIon v1 12 100 98 800 -1 -1 -1 7.25 0.3 70 35.5 -1 -1 -1 -1 -1 0 0",
])
def test_hepmc3_filled_heavy_ion_record(tmp_path, record):
    ev = _read(_filled(PYTHIA8_HEPMC3, tmp_path, record))
    assert ev.b.tolist() == [7.25, 7.25] and ev.npart.tolist() == [198, 198] and ev.ncoll.tolist() == [800, 800]
    assert ev.centrality.tolist() == [35.5, 35.5]
    gz = tmp_path / "filled.hepmc.gz"
    gz.write_bytes(gzip.compress((tmp_path / "filled.hepmc").read_bytes()))
    assert detect_format(gz) == "hepmc3"
    back = _read(gz)
    assert back.centrality.tolist() == [35.5, 35.5] and back.weight.tolist() == ev.weight.tolist()


def test_hepmc2_heavy_ion_line():
    # 'H 78 62 51 89 0 0 0 0 0 9.670873e+00 ...': Ncoll_hard Npart_proj Npart_targ Ncoll ... b; HepMC2 has no centrality
    h = [ln.split() for ln in HEPMC2_HI.read_text().splitlines() if ln.startswith("H ")]
    ev = _read(HEPMC2_HI)
    assert ev.b.tolist() == [float(x[10]) for x in h] == [9.670873, 9.670873]
    assert ev.npart.tolist() == [int(x[2]) + int(x[3]) for x in h] and ev.ncoll.tolist() == [int(x[4]) for x in h]
    assert np.isnan(ev.centrality.to_numpy()).all()
    e = [ln.split() for ln in HEPMC2_HI.read_text().splitlines() if ln.startswith("E ")]
    assert ev.weight.tolist() == [float(x[13]) for x in e]  # 'E ... n_random=0 n_weights=1 w'
    final = [[int(t[2]) for t in map(str.split, block.splitlines()) if t[:1] == ["P"] and t[8] == "1"]
             for block in HEPMC2_HI.read_text().split("\nE ")[1:]]
    assert ak.to_list(ev.particles.pdg) == final


@pytest.mark.parametrize("path, what", [(JEWEL, "could not parse event 1"), (BROKEN, "failed after 0 events")])
def test_malformed_hepmc_is_one_line_and_no_library_output(tmp_path, capfd, path, what):
    """JEWEL 2.x's HepMC2 (the HepMC3 reader throws) and a HepMC3 file cut inside an event (the
    library printf's '16  vs  23 expected' to stdout): one line on stderr, nothing on stdout."""
    with pytest.raises(InputError, match=what):
        _read(path)
    out = tmp_path / "x.parquet"
    rc, err, stdout = _cli([path, out], capfd)
    assert rc == 2 and len(err) == 1 and what in err[0] and stdout == "" and not out.exists()


@pytest.mark.parametrize("path, fmt", [(OSC99_LISTS, "hepmc3"), (URQMD_F19, "hepmc3"), (PYTHIA8_HEPMC3, "oscar1999"),
                                       (OSCAR2013_V2, "oscar1999"), (OSC99_LISTS, "oscar2013"),
                                       (OSC99_LISTS, "urqmd-f19"), (URQMD_F19, "jetscape")])
def test_wrong_format_is_one_line(tmp_path, capfd, path, fmt):
    out = tmp_path / "x.parquet"
    rc, err, stdout = _cli([path, out, "--format", fmt], capfd)
    assert rc == 2 and len(err) == 1 and err[0].startswith("qcdgen: error:") and not out.exists()
    assert "WARNING" not in stdout + "".join(err) and "no events were written" not in err[0]


# ----------------------------------------------------------------------------- JETSCAPE centrality

def test_jetscape_centrality_and_weight_when_set(tmp_path):
    # JetScapeWriterFinalStateStream's event line, with the centrality and weight a run sets (%f)
    text = JETSCAPE_CUSTOM.read_text().replace("weight\t1\t", "weight\t0.25\t").replace(
        "centrality\t-1.000000", "centrality\t32.500000")
    path = tmp_path / "jetscape.dat.gz"
    path.write_bytes(gzip.compress(text.encode()))
    ev = _read(path)
    assert ev.centrality.tolist() == [32.5] and ev.weight.tolist() == [0.25]
    assert math.isclose(ak.sum(ev.particles.E), sum(float(ln.split()[3]) for ln in text.splitlines()
                                                     if ln and not ln.startswith("#")), rel_tol=1e-12)
