"""HDF5 ensembles: round trip, atomic writes, and refusal of anything that is not one."""

import h5py
import numpy as np
import pytest

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.io import Ensemble, atomic_path, read_ensemble, write_ensemble


def make(n=5):
    rng = np.random.default_rng(0)
    return Ensemble(phi=rng.normal(size=(n, 4, 4)), attrs={"action": "phi4", "size": 4, "kappa": 0.2,
                                                            "lam": 0.1, "dim": 2, "seed": 3},
                    chain=np.array([0, 0, 1, 1, 1][:n]))


def test_round_trip_is_exact(tmp_path):
    ens = make()
    write_ensemble(tmp_path / "e.h5", ens)
    back = read_ensemble(tmp_path / "e.h5")
    np.testing.assert_array_equal(back.phi, ens.phi)
    np.testing.assert_array_equal(back.chain, ens.chain)
    assert back.phi.dtype == np.float64
    assert back.attrs["kappa"] == 0.2 and back.attrs["seed"] == 3
    assert back.attrs["qcdgen_version"] == __version__


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "e.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a file")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path):
    write_ensemble(tmp_path / "e.h5", make())
    bad = make()
    bad.phi[1, 0, 0] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        write_ensemble(tmp_path / "e.h5", bad)
    assert np.all(np.isfinite(read_ensemble(tmp_path / "e.h5").phi))
    assert [p.name for p in tmp_path.iterdir()] == ["e.h5"]


def test_foreign_corrupt_and_missing_files_are_refused(tmp_path):
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["data"] = np.zeros(3)
    (tmp_path / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(InputError, match="not a qcdgen lattice ensemble"):
        read_ensemble(tmp_path / "foreign.h5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        read_ensemble(tmp_path / "corrupt.h5")
    with pytest.raises(InputError, match="does not exist"):
        read_ensemble(tmp_path / "missing.h5")
