"""Simulator file formats: round trips, hand-written files from real layouts, malformed files."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events, read_events, read_metadata
from qcdgen.hic.formats import FORMATS, MalformedFileError, convert, detect_format, iter_file, write_file
from qcdgen.hic.species import charge

COUNTS = [3, 0, 5, 2, 4]
POSITIONS = {"oscar2013", "oscar2013-extended", "oscar1999", "urqmd-f19", "parquet"}
STORES_B = {"oscar2013", "oscar2013-extended", "oscar1999", "urqmd-f19", "hepmc3", "parquet"}
STORES_NPART = {"hepmc3", "parquet"}


def _events(seed: int = 7) -> ak.Array:
    rng = np.random.default_rng(seed)
    n = sum(COUNTS)
    pdg = rng.choice([211, -211, 321, -321, 2212, -2212, 111, 3122, -3122, 22], n)
    mass = rng.uniform(0.0, 1.3, n)
    px, py, pz = rng.normal(0.0, 1.5, (3, n)) * rng.choice([1e-3, 1.0, 30.0], (3, n))
    energy = np.sqrt(mass**2 + px**2 + py**2 + pz**2)
    cols = {"px": px, "py": py, "pz": pz, "E": energy, "mass": mass, "pdg": pdg, "charge": charge(pdg),
            "t": rng.uniform(0, 50, n), "x": rng.normal(0, 5, n), "y": rng.normal(0, 5, n), "z": rng.normal(0, 5, n)}
    return make_events(COUNTS, cols, b=rng.uniform(0, 12, len(COUNTS)), npart=rng.integers(2, 417, len(COUNTS)),
                       ncoll=rng.integers(1, 1200, len(COUNTS)))


def _flat(events, name):
    return ak.to_numpy(ak.flatten(events.particles[name]))


def _write_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path, fmt):
    events = _events()
    path = tmp_path / f"events.{fmt}"
    assert write_file(path, events, fmt) == len(COUNTS)
    assert detect_format(path) == fmt
    chunks = list(iter_file(path, chunk_events=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    back = ak.concatenate(chunks)
    assert ak.num(back.particles, axis=1).tolist() == COUNTS
    for name in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(_flat(back, name), _flat(events, name), rtol=1e-12, atol=0)
    assert _flat(back, "pdg").tolist() == _flat(events, "pdg").tolist()
    assert _flat(back, "charge").tolist() == _flat(events, "charge").tolist()
    assert (_flat(back, "pdg") < 0).any()
    # JETSCAPE has no mass column: it is recomputed from E and p (cancellation costs digits)
    np.testing.assert_allclose(_flat(back, "mass"), _flat(events, "mass"), rtol=0, atol=1e-12 if fmt != "jetscape" else 1e-6)
    if fmt in POSITIONS:
        for name in ("t", "x", "y", "z"):
            np.testing.assert_allclose(_flat(back, name), _flat(events, name), rtol=1e-12, atol=0)
    else:
        assert "t" not in back.particles.fields
    if fmt in STORES_B:
        # HepMC3 writes GenHeavyIon with about 8 significant digits
        np.testing.assert_allclose(back.b.to_numpy(), events.b.to_numpy(), rtol=1e-12 if fmt != "hepmc3" else 1e-6)
    else:
        assert np.isnan(back.b.to_numpy()).all()
    if fmt in STORES_NPART:
        assert back.npart.tolist() == events.npart.tolist()
        assert back.ncoll.tolist() == events.ncoll.tolist()
    else:
        assert back.npart.tolist() == [-1] * len(COUNTS) and back.ncoll.tolist() == [-1] * len(COUNTS)


def test_writers_accept_chunk_iterables_and_write_atomically(tmp_path):
    events = _events()
    path = tmp_path / "chunks.oscar"
    assert write_file(path, (events[i:i + 2] for i in range(0, 5, 2)), "oscar2013") == 5
    assert len(ak.concatenate(list(iter_file(path)))) == 5

    def failing():
        yield events[:2]
        raise RuntimeError("simulated crash")

    target = tmp_path / "never.oscar"
    with pytest.raises(RuntimeError):
        write_file(target, failing(), "oscar1999")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["chunks.oscar"]


def test_convert_to_parquet(tmp_path):
    events = _events()
    src = tmp_path / "run.f19"
    write_file(src, events, "urqmd-f19")
    out = tmp_path / "run.parquet"
    assert convert(src, out, progress=True) == 5
    back = read_events(out)
    assert ak.num(back.particles, axis=1).tolist() == COUNTS
    np.testing.assert_allclose(_flat(back, "pz"), _flat(events, "pz"), rtol=1e-12)
    np.testing.assert_allclose(back.b.to_numpy(), events.b.to_numpy(), rtol=1e-12)
    meta = read_metadata(out)
    assert meta["source_format"] == "urqmd-f19" and meta["source_file"] == str(src)
    # and parquet back through the same API, chunked
    assert [len(c) for c in iter_file(out, chunk_events=3)] == [3, 2]


SMASH_OSCAR2013 = """\
#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge
# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e
# SMASH-3.1
# event 0 ensemble 0 in 2
0 0 0 -5 0.938 5.08 0 0 4.99 2212 0 1
0 0 0 5 0.938 5.08 0 0 -4.99 2112 1 0
# event 0 ensemble 0 out 3
200 1.5 -2 3 0.138 0.53 0.3 0.4 0.0 211 2 1
200 0.1 0.2 0.3 0.938 1.5 -0.6 0.8 0.1 -2212 3 -1
200 0 0 0 0.494 0.7 0.0 -0.5 0.2 -321 4 -1
# event 0 ensemble 0 end 0 impact   2.345 scattering_projectile_target yes
# event 0 ensemble 1 out 1
200 0 0 0 0.938 1.0 0.12 0.05 -0.2 2212 0 1
# event 0 ensemble 1 end 0 impact   2.345 scattering_projectile_target yes
# event 1 ensemble 0 in 1
0 0 0 0 0.938 1 0 0 0 2212 0 1
# event 1 ensemble 0 end 0 impact   9.100 scattering_projectile_target no
"""


def test_smash_oscar2013_by_hand(tmp_path):
    path = _write_text(tmp_path, "particle_lists.oscar", SMASH_OSCAR2013)
    assert detect_format(path) == "oscar2013"
    ev = ak.concatenate(list(iter_file(path)))
    # (event 0, ensemble 0), (event 0, ensemble 1), and event 1 whose out block SMASH skipped
    assert ak.num(ev.particles, axis=1).tolist() == [3, 1, 0]
    first = ev.particles[0]
    assert first.pdg.tolist() == [211, -2212, -321]
    assert first.charge.tolist() == [1, -1, -1]
    assert math.hypot(first.px[0], first.py[0]) == pytest.approx(0.5)
    assert first.E.tolist() == [0.53, 1.5, 0.7]
    assert first.mass.tolist() == [0.138, 0.938, 0.494]
    assert (first.t[0], first.x[0], first.y[0], first.z[0]) == (200, 1.5, -2, 3)
    assert ev.b.tolist() == [2.345, 2.345, 9.1]
    assert ev.particles[1].pz.tolist() == [-0.2]


def test_oscar2013_extended_reads_columns_by_name(tmp_path):
    text = ("#!OSCAR2013Extended particle_lists t x y z mass p0 px py pz pdg ID charge ncoll form_time xsecfac "
            "proc_id_origin proc_type_origin time_last_coll pdg_mother1 pdg_mother2\n"
            "# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e none fm none none none fm none none\n"
            "# event 4 out 1\n"
            "12.5 1 2 3 0.13957 2.5 1.2 -0.9 2.0 -211 77 -1 3 1.25 1 502 5 11.0 113 0\n"
            "# event 4 end 0 impact 0.5 empty no\n")
    path = _write_text(tmp_path, "ext.oscar", text)
    assert detect_format(path) == "oscar2013-extended"
    ev = ak.concatenate(list(iter_file(path)))
    p = ev.particles[0][0]
    assert (p.px, p.py, p.pz, p.E, p.pdg, p.charge, p.t) == (1.2, -0.9, 2.0, 2.5, -211, -1, 12.5)
    assert ev.b.tolist() == [0.5]


UrQMD_F19 = """\
OSC1997A    
final_id_p_x
     UrQMD    3.4  (197,    79)+(197,    79)  eqsp  0.1000E+03         1
         1         3     3.250     0.000
         1        211  0.300000E+00  0.400000E+00  0.100000E+01  0.116520E+01  0.139570E+00  0.100000E+01 -0.200000E+01  0.500000E+01  0.150000E+02
         2      -2212 -0.600000D+00  0.800000D+00 -0.200000D+01  0.241000D+01  0.938000D+00  0.000000D+00  0.000000D+00  0.000000D+00  0.200000D+02
         3        111  0.120000E+01  0.500000E+00  0.000000E+00  0.131000E+01  0.134977E+00  0.100000E+00  0.200000E+00  0.300000E+00  0.180000E+02
         2         0     8.100     0.000
         3         1    12.000     0.000
         1        321  0.000000E+00 -0.700000E+00  0.100000E+00  0.860000E+00  0.493677E+00  0.000000E+00  0.000000E+00  0.000000E+00  0.100000E+02
"""


def test_urqmd_f19_by_hand(tmp_path):
    path = _write_text(tmp_path, "test.f19", UrQMD_F19)
    assert detect_format(path) == "urqmd-f19"
    ev = ak.concatenate(list(iter_file(path)))
    assert ak.num(ev.particles, axis=1).tolist() == [3, 0, 1]
    first = ev.particles[0]
    assert first.pdg.tolist() == [211, -2212, 111]
    assert first.charge.tolist() == [1, -1, 0]  # from the PDG tables: the format has no charge
    assert math.hypot(first.px[0], first.py[0]) == pytest.approx(0.5)
    assert math.hypot(first.px[1], first.py[1]) == pytest.approx(1.0)  # Fortran D exponents
    assert first.pz[1] == pytest.approx(-2.0)
    assert first.E.tolist() == pytest.approx([1.1652, 2.41, 1.31])
    assert first.mass.tolist() == pytest.approx([0.13957, 0.938, 0.134977])
    assert (first.x[0], first.y[0], first.z[0], first.t[0]) == pytest.approx((1.0, -2.0, 5.0, 15.0))
    assert ev.b.tolist() == [3.25, 8.1, 12.0]
    assert ev.particles[2].py.tolist() == [-0.7]


OSC1999A = """\
# OSC1999A
# final_id_p_x
# UrQMD 3.4
0 2 1 4.5 0.0
1 2212 0 0 0 5 5.1 0.938 0 0 -3 0
2 2212 0 0 0 -5 5.1 0.938 0 0 3 0
2 2 1 0.5
1 2212 0 0 0 5 5.1 0.938 0 0 -3 0
2 2212 0 0 0 -5 5.1 0.938 0 0 3 0
3 2212 0 0.3 0.1 4 4.1 0.938 0 0 0 1
4 211 0 -0.3 -0.1 -4 4.0 0.13957 0 0 0 1
2 0 1
3 2212 0 0.3 0.1 4 4.1 0.938 0.5 0.6 0.7 30
4 -211 0 -0.3 -0.4 -4 4.0 0.13957 1 2 3 31
0 0
0 0 2 6.25
"""


def test_osc1999a_blocks_by_hand(tmp_path):
    path = _write_text(tmp_path, "f20", OSC1999A)
    assert detect_format(path) == "oscar1999"
    ev = ak.concatenate(list(iter_file(path)))
    # event 1: initial block, a collision, then the final list; event 2: an end line only
    assert ak.num(ev.particles, axis=1).tolist() == [2, 0]
    final = ev.particles[0]
    assert final.pdg.tolist() == [2212, -211]
    assert final.charge.tolist() == [1, -1]
    assert math.hypot(final.px[1], final.py[1]) == pytest.approx(0.5)
    assert final.t.tolist() == [30, 31]
    assert ev.b.tolist() == [4.5, 6.25]  # from the initial block, then from the end line


def test_jetscape_by_hand(tmp_path):
    text = ("#\tJETSCAPE_FINAL_STATE\tv2\t|\tN\tpid\tstatus\tE\tPx\tPy\tPz\n"
            "#\tEvent\t1\tweight\t0.25\tEPangle\t0\tN_hadrons\t3\n"
            "0 211 27 1.0 0.3 0.4 0.8\n"
            "1 -2212 11 3.0 1.2 -0.5 2.5\n"
            "2 111 -1 1.0 0.1 0.2 0.3\n"
            "# Event 2 weight 1 EPangle 0 N_hadrons 1\n"
            "0 22 0 2.0 0 0 2.0\n"
            "#\tsigmaGen\t66.9\tsigmaErr\t0.1\n")
    path = _write_text(tmp_path, "final_state_hadrons.dat", text)
    assert detect_format(path) == "jetscape"
    ev = ak.concatenate(list(iter_file(path)))
    assert ak.num(ev.particles, axis=1).tolist() == [2, 1]  # the hole (status -1) is dropped
    first = ev.particles[0]
    assert first.pdg.tolist() == [211, -2212]
    assert first.charge.tolist() == [1, -1]
    assert first.mass[0] == pytest.approx(math.sqrt(1.0 - 0.09 - 0.16 - 0.64))
    assert ev.particles[1].mass.tolist() == [0.0]


# ----------------------------------------------------------------------------- malformed files

HEADER_2013 = ("#!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge\n"
               "# Units: fm fm fm fm GeV GeV GeV GeV GeV none none e\n")
LINE_2013 = "1 0 0 0 0.138 0.5 0.1 0.2 0.3 211 0 1\n"


def _error(path, fmt=None) -> MalformedFileError:
    with pytest.raises(MalformedFileError) as info:
        list(iter_file(path, format=fmt))
    assert isinstance(info.value, InputError)
    assert "\n" not in str(info.value)
    return info.value


def test_short_particle_line(tmp_path):
    path = _write_text(tmp_path, "run.oscar", HEADER_2013 + "# event 0 out 2\n" + LINE_2013
                       + "1 0 0 0 0.138 0.5 0.1 0.2 0.3\n# event 0 end 0 impact 1.0\n")
    assert str(_error(path)) == f"{path}:5: expected 12 columns, got 9"


def test_non_numeric_field(tmp_path):
    path = _write_text(tmp_path, "run.oscar", HEADER_2013 + "# event 0 out 2\n" + LINE_2013
                       + "1 0 0 0 0.138 0.5 abc 0.2 0.3 211 1 1\n# event 0 end 0 impact 1.0\n")
    assert str(_error(path)) == f"{path}:5: could not parse 'abc' as a number in column px"
    f19 = _write_text(tmp_path, "bad.f19", UrQMD_F19.replace("-0.700000E+00", "-0.7000x0E+00"))
    assert str(_error(f19)).startswith(f"{f19}:10: could not parse '-0.7000x0E+00' as a number in column py")


def test_truncated_last_event(tmp_path):
    path = _write_text(tmp_path, "run.oscar", HEADER_2013 + "# event 0 out 1\n" + LINE_2013
                       + "# event 0 end 0 impact 1.0\n# event 1 out 3\n" + LINE_2013 * 2)
    assert str(_error(path)) == f"{path}:6: event 1 declares 3 particles but 2 were found"
    f19 = _write_text(tmp_path, "cut.f19", UrQMD_F19.rsplit("\n", 2)[0] + "\n")  # drop the last particle
    assert str(_error(f19)) == f"{f19}:9: event 3 declares 1 particles but 0 were found"
    # a truncated event followed by the next event line is found too
    f19b = _write_text(tmp_path, "cut2.f19", UrQMD_F19.replace("         3         1    12.000", "         3         2    12.000")
                       + "         4         0     1.000     0.000\n")
    assert str(_error(f19b)) == f"{f19b}:9: event 3 declares 2 particles but 1 were found"
    osc99 = _write_text(tmp_path, "cut.osc", OSC1999A.replace("2 0 1\n", "3 0 1\n"))
    assert str(_error(osc99)).startswith(f"{osc99}:12: event 1 declares 3 particles in this block but 2 were found")
    jet = _write_text(tmp_path, "cut.dat", "#\tJETSCAPE_FINAL_STATE\tv2\n#\tEvent\t1\tweight\t1\tN_hadrons\t2\n"
                      "0 211 27 1.0 0.3 0.4 0.8\n")
    assert str(_error(jet)) == f"{jet}:2: event 1 declares 2 particles but 1 were found"


def test_missing_end_line(tmp_path):
    path = _write_text(tmp_path, "run.oscar", HEADER_2013 + "# event 0 out 1\n" + LINE_2013
                       + "# event 1 out 1\n" + LINE_2013 + "# event 1 end 0 impact 1.0\n")
    err = _error(path)
    assert str(err).startswith(f"{path}:5: event 0 has no end line")
    assert (err.path, err.lineno) == (str(path), 5)
    at_eof = _write_text(tmp_path, "eof.oscar", HEADER_2013 + "# event 0 out 1\n" + LINE_2013)
    assert str(_error(at_eof)).startswith(f"{at_eof}:4: the file ends inside event 0")
    osc99 = _write_text(tmp_path, "eof.osc", OSC1999A.rsplit("0 0 2", 1)[0].replace("\n0 0\n", "\n"))
    assert str(_error(osc99)).startswith(f"{osc99}:14: the file ends inside event 1")


def test_more_particles_than_declared(tmp_path):
    path = _write_text(tmp_path, "run.oscar", HEADER_2013 + "# event 0 out 1\n" + LINE_2013 * 2
                       + "# event 0 end 0 impact 1.0\n")
    assert str(_error(path)).startswith(f"{path}:5: more particle lines than the 1 declared")


def test_bad_inputs_give_input_errors(tmp_path):
    missing = tmp_path / "nope.oscar"
    with pytest.raises(InputError, match="does not exist"):
        iter_file(missing)
    with pytest.raises(InputError, match="does not exist"):
        convert(missing, tmp_path / "out.parquet")
    unknown = _write_text(tmp_path, "mystery.txt", "hello world\n1 2 3\n")
    with pytest.raises(InputError, match="--format") as info:
        detect_format(unknown)
    assert "oscar2013" in str(info.value) and "jetscape" in str(info.value)
    with pytest.raises(InputError, match="--format must be one of"):
        iter_file(unknown, format="root")
    with pytest.raises(InputError, match="--format must be one of"):
        write_file(tmp_path / "x", _events(), "csv")
    with pytest.raises(InputError, match="chunk_events"):
        iter_file(_write_text(tmp_path, "e.oscar", HEADER_2013), chunk_events=0)
    with pytest.raises(InputError, match="empty"):
        detect_format(_write_text(tmp_path, "empty.dat", "\n\n"))
    # a file given the wrong explicit format fails on its first line
    oscar = _write_text(tmp_path, "ok.oscar", SMASH_OSCAR2013)
    assert str(_error(oscar, "urqmd-f19")).startswith(f"{oscar}:1: expected the 'OSC1997A' header line")


def test_broken_hepmc_names_the_file(tmp_path):
    path = tmp_path / "good.hepmc"
    write_file(path, _events(), "hepmc3")
    lines = path.read_text().splitlines()
    cut = next(i for i, ln in enumerate(lines) if ln.startswith("P ") and i > 8)
    bad = _write_text(tmp_path, "bad.hepmc", "\n".join(lines[:cut]) + "\nP 2 0 211 garbage\n")
    with pytest.raises(InputError, match="bad.hepmc"):
        list(iter_file(bad))
