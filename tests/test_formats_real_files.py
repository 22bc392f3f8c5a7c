"""The simulator-file readers against files other programs wrote (tests/data/formats, see its README).

Every expected number is read from the file's own lines here (event headers, particle lines,
status columns) or is a fact of the format or of the PDG tables, never from the reader.
"""

from __future__ import annotations

import gzip
import math
import re
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic import species
from qcdgen.hic.formats import convert, detect_format, iter_file
from qcdgen.hic.formats._text import MalformedFileError

DATA = Path(__file__).parent / "data" / "formats"
SMASH_2013 = DATA / "smash_particle_lists_ensemble.oscar"
SMASH_EXT_OLD = DATA / "smash_particle_lists_extended_old.oscar"
JETSCAPE_HADRONS = DATA / "jetscape_hadrons.dat"
JETSCAPE_PARTONS = DATA / "jetscape_partons.dat"
JETSCAPE_CUSTOM = DATA / "jetscape_custom_header.dat"
HEPMC_SIBYLL = DATA / "pyhepmc_sibyll21.hepmc"
HEPMC_PYTHIA6 = DATA / "pyhepmc_pythia6_simple.hepmc"
ALL_FILES = [SMASH_2013, SMASH_EXT_OLD, JETSCAPE_HADRONS, JETSCAPE_PARTONS, JETSCAPE_CUSTOM, HEPMC_SIBYLL,
             HEPMC_PYTHIA6]


def _read(path, fmt=None) -> ak.Array:
    return ak.concatenate(list(iter_file(path, format=fmt)))


def _oscar2013_blocks(path):
    """(out-count, particle rows as token lists) per event, and the b of each end line, by regex."""
    counts, rows, bs = [], [], []
    for line in Path(path).read_text().splitlines():
        m = re.match(r"# event \d+ (?:ensemble \d+ )?out (\d+)", line)
        if m:
            counts.append(int(m.group(1)))
            rows.append([])
        elif line.startswith("# event") and " end " in line:
            bs.append(float(line.split("impact")[1].split()[0]))
        elif not line.startswith("#") and line.strip():
            rows[-1].append(line.split())
    return counts, rows, bs


# ----------------------------------------------------------------------------- SMASH OSCAR2013

def test_smash_oscar2013_with_ensemble_lines():
    assert detect_format(SMASH_2013) == "oscar2013"
    ev = _read(SMASH_2013)
    counts, rows, bs = _oscar2013_blocks(SMASH_2013)
    assert counts == [28, 29]  # the excerpt's own "# event N ensemble 0 out M" lines
    assert ak.num(ev.particles, axis=1).tolist() == counts == [len(r) for r in rows]
    assert ev.b.tolist() == bs
    for event, r in zip(ev.particles, rows):
        table = np.array(r, dtype=float)  # t x y z mass p0 px py pz pdg ID charge
        np.testing.assert_array_equal(event.pdg.to_numpy(), table[:, 9].astype(int))
        np.testing.assert_array_equal(event.charge.to_numpy(), table[:, 11].astype(int))
        np.testing.assert_array_equal(event.E.to_numpy(), table[:, 5])
        np.testing.assert_array_equal(event.t.to_numpy(), table[:, 0])
        # SMASH's charges agree with the PDG tables of the particle package
        np.testing.assert_array_equal(species.charge(table[:, 9].astype(int)), table[:, 11].astype(int))


def test_smash_oscar2013_extended_with_an_empty_event():
    assert detect_format(SMASH_EXT_OLD) == "oscar2013-extended"
    ev = _read(SMASH_EXT_OLD)
    counts, _, bs = _oscar2013_blocks(SMASH_EXT_OLD)
    assert counts == [4, 0]
    assert ak.num(ev.particles, axis=1).tolist() == counts and ev.b.tolist() == bs


# ----------------------------------------------------------------------------- SMASH OSC1999A layouts

_OSC99_HEADER_32 = ("# OSC1999A\n# final_id_p_x\n# SMASH-3.2\n# Block format:\n# nin nout event_number ensemble_number\n"
                    "# id pdg 0 px py pz p0 mass x y z t\n"
                    "# End of event: 0 0 event_number ensemble_number impact_parameter\n#\n")
_OSC99_HEADER_31 = ("# OSC1999A\n# final_id_p_x\n# SMASH-3.1\n# Block format:\n# nin nout event_number\n"
                    "# id pdg 0 px py pz p0 mass x y z t\n# End of event: 0 0 event_number impact_parameter\n#\n")
B_VALUES = (2.5, 7.125)


def _osc1999_from_smash(ensemble: bool, header: bool = True) -> str:
    """The SMASH excerpt's events in SMASH's OSC1999A layout (oscaroutput.cc: ``%zu %zu %i %i`` blocks,
    ``%zu %zu %i %i %7.3f`` end lines from SMASH-3.2; ``%zu %zu %i`` and ``%zu %zu %i %7.3f`` before)."""
    _, rows, _ = _oscar2013_blocks(SMASH_2013)
    text = (_OSC99_HEADER_32 if ensemble else _OSC99_HEADER_31) if header else ""
    for ev, (r, b) in enumerate(zip(rows, B_VALUES)):
        label = f"{ev} 0" if ensemble else f"{ev}"
        text += f"{len(r)} 0 {label}\n"
        for t, x, y, z, m, e, px, py, pz, pdg, pid, _q in r:
            text += f"{pid} {pdg} 0 {px} {py} {pz} {e} {m} {x} {y} {z} {t}\n"
        text += f"0 0 {label} {b:7.3f}\n"
    return text


@pytest.mark.parametrize("ensemble, header", [(True, True), (True, False), (False, True)])
def test_smash_osc1999a_end_line_layouts(tmp_path, ensemble, header):
    path = tmp_path / "particle_lists.oscar1999"
    path.write_text(_osc1999_from_smash(ensemble, header))
    if header:
        assert detect_format(path) == "oscar1999"
    ev = _read(path, "oscar1999")
    ref = _read(SMASH_2013)
    # the ensemble number (0) is not the impact parameter
    assert ev.b.tolist() == list(B_VALUES)
    assert ak.num(ev.particles, axis=1).tolist() == ak.num(ref.particles, axis=1).tolist()
    for name in ("px", "py", "pz", "E", "mass", "pdg", "charge", "t", "x", "y", "z"):
        assert ak.to_list(ev.particles[name]) == ak.to_list(ref.particles[name]), name


def _interaction_lines_2013(row_a, row_b):
    return ("# interaction in 2 out 2 rho    0.0000000 weight        4.2 partial    4.2000000 type     1\n"
            + " ".join(row_a) + "\n" + " ".join(row_b) + "\n" + " ".join(row_a) + "\n" + " ".join(row_b) + "\n")


def test_smash_collision_history_without_print_start_end_is_refused(tmp_path):
    _, rows, _ = _oscar2013_blocks(SMASH_2013)
    head = SMASH_2013.read_text().splitlines()[:3]
    head[0] = head[0].replace("particle_lists", "full_event_history")
    text = "\n".join(head) + "\n" + _interaction_lines_2013(rows[0][0], rows[0][1])
    text += "# event 0 ensemble 0 end 0 impact   2.500 scattering_projectile_target yes\n"
    path = tmp_path / "full_event_history.oscar"
    path.write_text(text)
    with pytest.raises(MalformedFileError, match="no final state") as info:
        _read(path)
    assert "\n" not in str(info.value) and info.value.lineno == 9
    from qcdgen.cli.main import main

    assert main(["hic", "convert", str(path), str(tmp_path / "out.parquet"), "--no-progress"]) == 2
    assert not (tmp_path / "out.parquet").exists()


def test_smash_collision_history_with_print_start_end_reads_the_out_block(tmp_path):
    counts, rows, _ = _oscar2013_blocks(SMASH_2013)
    head = SMASH_2013.read_text().splitlines()[:3]
    head[0] = head[0].replace("particle_lists", "full_event_history")
    text = "\n".join(head) + "\n"
    for ev, r in enumerate(rows):
        text += f"# event {ev} ensemble 0 in 2\n" + " ".join(r[0]) + "\n" + " ".join(r[1]) + "\n"
        text += _interaction_lines_2013(r[0], r[1])
        text += f"# event {ev} ensemble 0 out {len(r)}\n" + "".join(" ".join(x) + "\n" for x in r)
        text += f"# event {ev} ensemble 0 end 0 impact   1.000 scattering_projectile_target yes\n"
    path = tmp_path / "full_event_history.oscar"
    path.write_text(text)
    ev = _read(path)
    assert ak.num(ev.particles, axis=1).tolist() == counts


def test_smash_osc1999a_collision_history(tmp_path):
    _, rows, _ = _oscar2013_blocks(SMASH_2013)
    header = _OSC99_HEADER_32.replace("final_id_p_x", "full_event_history").replace(
        "# nin nout event_number ensemble_number", "# nin nout density tot_weight part_weight proc_type")

    def particle(r):
        t, x, y, z, m, e, px, py, pz, pdg, pid, _q = r
        return f"{pid} {pdg} 0 {px} {py} {pz} {e} {m} {x} {y} {z} {t}\n"

    # interactions only (a 2->2 and a 0->1 creation): no final state in the file
    body = "2 2    0.0000000    4.2000000    4.2000000     1\n" + "".join(particle(r) for r in rows[0][:4])
    body += "0 1    0.0000000    0.0000000    0.0000000    41\n" + particle(rows[0][5])
    bare = tmp_path / "history.oscar1999"
    bare.write_text(header + body + "0 0 0 0   2.500\n")
    with pytest.raises(MalformedFileError, match="no final state"):
        _read(bare)
    # with Print_Start_End the last list (N 0 event ensemble) is the final state
    full = tmp_path / "history_start_end.oscar1999"
    full.write_text(header + f"0 2 0 0\n{particle(rows[0][0])}{particle(rows[0][1])}" + body
                    + f"{len(rows[0])} 0 0 0\n" + "".join(particle(r) for r in rows[0]) + "0 0 0 0   2.500\n")
    ev = _read(full)
    assert ak.num(ev.particles, axis=1).tolist() == [len(rows[0])] and ev.b.tolist() == [2.5]


def test_smash_dilepton_file_is_refused(tmp_path):
    head = SMASH_2013.read_text().splitlines()[:3]
    head[0] = head[0].replace("particle_lists", "Dileptons")
    path = tmp_path / "Dileptons.oscar"
    path.write_text("\n".join(head) + "\n")
    with pytest.raises(MalformedFileError, match="Dileptons"):
        _read(path)


# ----------------------------------------------------------------------------- JETSCAPE

def _jetscape_headers(path):
    """Per event line: its key/value pairs, and the statuses of the particle lines that follow."""
    events = []
    for line in Path(path).read_text().splitlines():
        tokens = line.lstrip("#").split()
        if line.startswith("#") and tokens[:1] == ["Event"]:
            events.append((dict(zip(tokens[2::2], tokens[3::2])), []))
        elif not line.startswith("#") and line.strip():
            events[-1][1].append(int(line.split()[2]))
    return events


def test_jetscape_hadrons():
    assert detect_format(JETSCAPE_HADRONS) == "jetscape"
    ev = _read(JETSCAPE_HADRONS)
    heads = _jetscape_headers(JETSCAPE_HADRONS)
    declared = [int(h["N_hadrons"]) for h, _ in heads]
    assert declared == [25, 41]
    kept = [sum(s >= 0 for s in st) for _, st in heads]
    assert ak.num(ev.particles, axis=1).tolist() == kept
    assert ev.weight.tolist() == [float(h["weight"]) for h, _ in heads]
    assert np.isnan(ev.centrality.to_numpy()).all()  # the file has no centrality key
    flat = ak.flatten(ev.particles)
    np.testing.assert_array_equal(flat.charge.to_numpy(), species.charge(flat.pdg.to_numpy()))
    assert set(flat.charge.to_numpy().tolist()) <= {-1, 0, 1}


def test_jetscape_custom_header_centrality_not_set():
    ev = _read(JETSCAPE_CUSTOM)
    (head, statuses), = _jetscape_headers(JETSCAPE_CUSTOM)
    assert float(head["centrality"]) == -1.0  # JETSCAPE's "not set"
    assert math.isnan(ev.centrality[0])
    assert ev.weight.tolist() == [1.0]
    assert ak.num(ev.particles, axis=1).tolist() == [int(head["N_hadrons"])] == [201]


def test_jetscape_partons_are_not_charged_hadrons():
    from qcdgen.hic.observables.spectra import FlatParticles, dnch_deta, select

    ev = _read(JETSCAPE_PARTONS)
    heads = _jetscape_headers(JETSCAPE_PARTONS)
    assert ak.num(ev.particles, axis=1).tolist() == [int(h["N_partons"]) for h, _ in heads]
    pdg = ak.flatten(ev.particles.pdg).to_numpy()
    assert {abs(c) for c in pdg.tolist()} <= {1, 2, 3, 4, 5, 21}
    assert 5 in pdg and -5 in pdg  # b and b-bar quarks: charge -1/3 and +1/3
    assert species.is_parton(pdg).all() and not species.is_hadron(pdg).any()
    assert (ak.flatten(ev.particles.charge).to_numpy() == 0).all()
    flat = FlatParticles.from_events(ev)
    assert not select(flat, charged=True).any()
    assert dnch_deta(flat).value == 0.0


# ----------------------------------------------------------------------------- HepMC3

def _hepmc_final_lines(path):
    """Status-1 ``P`` lines of a HepMC3 file: (pdg, px, py, pz, e)."""
    out = []
    for line in Path(path).read_text().splitlines():
        t = line.split()
        if t[:1] == ["P"] and t[-1] == "1":
            out.append((int(t[3]), *map(float, t[4:8])))
    return out


@pytest.mark.parametrize("path", [HEPMC_SIBYLL, HEPMC_PYTHIA6])
def test_hepmc3_final_state(path):
    assert detect_format(path) == "hepmc3"
    ev = _read(path)
    final = _hepmc_final_lines(path)
    assert len(ev) == 1 and ak.num(ev.particles, axis=1).tolist() == [len(final)]
    p = ev.particles[0]
    assert p.pdg.tolist() == [f[0] for f in final]
    np.testing.assert_array_equal(np.column_stack([p.px, p.py, p.pz, p.E]), np.array([f[1:] for f in final]))
    assert not species.is_parton(p.pdg.to_numpy()).any()  # the parton history (status 2, 3) is dropped
    assert ev.weight.tolist() == [1.0]  # no W line
    assert math.isnan(ev.b[0]) and math.isnan(ev.centrality[0])  # no GenHeavyIon


def test_hepmc3_heavy_ion_and_weights_from_pyhepmc_writer(tmp_path):
    import pyhepmc
    from pyhepmc import FourVector, GenEvent, GenHeavyIon, GenParticle, Units

    path = tmp_path / "hi.hepmc"
    with pyhepmc.open(path, "w") as out:  # pyhepmc's own writer
        for i, (b, cent, w) in enumerate([(3.25, 5.0, 0.5), (11.0, 62.5, 2.0), (7.0, -1.0, 1.5)]):
            event = GenEvent(Units.GEV, Units.MM)
            event.event_number = i
            event.weights = [w]
            event.add_particle(GenParticle(FourVector(0.3, 0.4, 1.0, 1.2), 211, 1))
            event.add_particle(GenParticle(FourVector(0.0, 0.0, 3.0, 3.0), 2, 1))  # a stray u quark
            hi = GenHeavyIon()
            hi.impact_parameter, hi.centrality, hi.Ncoll, hi.Npart_proj, hi.Npart_targ = b, cent, 10 + i, 4, 5
            event.heavy_ion = hi
            out.write(event)
    ev = _read(path)
    assert ev.b.tolist() == [3.25, 11.0, 7.0]
    assert ev.centrality.to_numpy()[:2].tolist() == [5.0, 62.5] and math.isnan(ev.centrality[2])
    assert ev.weight.tolist() == [0.5, 2.0, 1.5]
    assert ev.npart.tolist() == [9, 9, 9] and ev.ncoll.tolist() == [10, 11, 12]
    assert ak.to_list(ev.particles.charge) == [[1, 0]] * 3  # u quark: 2/3, not a charged particle
    parquet = tmp_path / "hi.parquet"
    assert convert(path, parquet) == 3
    from qcdgen.hic.events import read_events

    back = read_events(parquet)
    assert back.weight.tolist() == [0.5, 2.0, 1.5] and back.centrality.to_numpy()[:2].tolist() == [5.0, 62.5]


def test_wrong_hepmc3_format_is_one_line_without_library_noise(tmp_path, capfd):
    from qcdgen.cli.main import main

    rc = main(["hic", "convert", str(SMASH_2013), str(tmp_path / "x.parquet"), "--format", "hepmc3", "--no-progress"])
    captured = capfd.readouterr()
    assert rc == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not a HepMC ASCII file" in lines[0]
    assert "WARNING" not in captured.out + captured.err


# ----------------------------------------------------------------------------- gzip

@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_gzip_reads_the_same_events(tmp_path, path):
    for name in (path.name + ".gz", path.name):  # by magic bytes, whatever the name
        gz = tmp_path / "gz" / name
        gz.parent.mkdir(exist_ok=True)
        with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
            shutil.copyfileobj(src, dst)
        assert detect_format(gz) == detect_format(path)
        _assert_same_events(_read(gz), _read(path))


def _assert_same_events(a: ak.Array, b: ak.Array) -> None:
    """Equal fields, equal particles and equal event fields (NaN equal to NaN)."""
    assert a.fields == b.fields and a.particles.fields == b.particles.fields
    assert ak.num(a.particles, axis=1).tolist() == ak.num(b.particles, axis=1).tolist()
    for name in a.particles.fields:
        np.testing.assert_array_equal(ak.flatten(a.particles[name]).to_numpy(), ak.flatten(b.particles[name]).to_numpy())
    for name in a.fields:
        if name != "particles":
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy())


def test_truncated_gzip_is_an_input_error(tmp_path):
    gz = tmp_path / "cut.oscar.gz"
    data = gzip.compress(SMASH_2013.read_bytes())
    gz.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip"):
        _read(gz)


def test_urqmd_f20_collision_lines(tmp_path):
    """UrQMD file 20 in the layout of its ``output.f`` (``osc99_event``: ``3(i7,2x),2(f8.3,2x)``;
    ``osc99_coll``: ``3(i7,2x),i7,f8.3,4e12.4``, nine fields; ``osc99_eoe``: ``0 0``)."""
    def particle(i, pdg, pz):
        values = [0.0, 0.0, pz, math.sqrt(pz * pz + 0.938 ** 2), 0.938, 0.0, 0.0, 0.0, 1.0]
        return f"{i:10d}  {pdg:10d}  {0:10d}  " + "  ".join(f"{v:12.6E}" for v in values) + "\n"

    text = ("# OSC1999A\n# full_event_history\n# UrQMD 1.2\n# (197,    79)+(197,    79)  nncm  0.1000E+03         1\n"
            f"{0:7d}  {2:7d}  {1:7d}  {3.25:8.3f}  {0.0:8.3f}\n" + particle(1, 2212, 5.0) + particle(2, 2112, -5.0)
            + f"{2:7d}  {2:7d}  {101:7d}  {1:7d}{1.5:8.3f}" + "".join(f"{v:12.4E}" for v in (2.0, 40.0, 30.0, 0.1))
            + "\n" + particle(1, 2212, 5.0) + particle(2, 2112, -5.0) + particle(3, 2212, 4.0) + particle(4, 2112, -4.0)
            + f"{2:7d}  {0:7d}\n" + particle(3, 2212, 4.0) + particle(4, 2112, -4.0) + f"{0:7d}  {0:7d}\n")
    path = tmp_path / "test.f20"
    path.write_text(text)
    assert detect_format(path) == "oscar1999"
    ev = _read(path)
    assert ak.num(ev.particles, axis=1).tolist() == [2] and ev.b.tolist() == [3.25]
    assert ev.particles.pz[0].tolist() == [4.0, -4.0]  # the final list, not the initial one


def test_species_charges_of_partons_and_leptons():
    # PDG: d, s, b quarks -1/3, u-bar -2/3, uu_1 diquark +4/3, gluon 0; leptons and nuclei whole charges
    codes = [1, 3, 5, -2, 2203, 21, 11, -13, 211, -2212, 1000822080]
    assert species.three_charge(codes).tolist() == [-1, -1, -1, -2, 4, 0, -3, 3, 3, -3, 246]
    assert species.charge(codes).tolist() == [0, 0, 0, 0, 0, 0, -1, 1, 1, -1, 82]
    assert species.is_parton(codes).tolist() == [True] * 6 + [False] * 5
    assert species.is_hadron(codes).tolist() == [False] * 8 + [True] * 3
