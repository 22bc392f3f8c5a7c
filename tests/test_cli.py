"""The command line: the documented commands work, and every user mistake is one line, exit 2."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from qcdgen import __version__
from qcdgen.cli.main import main

HMC = ["lattice", "hmc", "--size", "6", "--kappa", "0.2", "--lam", "0.05", "--configs", "40",
       "--chains", "2", "--thermalize", "50", "--no-progress"]
TABLE_NAMES = {"m", "abs_m", "m2", "chi2", "binder", "phi2"} | {f"kappa{n}" for n in range(2, 9)}


def test_console_script_version_and_help():
    out = subprocess.run([sys.executable, "-m", "qcdgen", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout
    out = subprocess.run([sys.executable, "-m", "qcdgen", "lattice", "hmc", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--kappa" in out.stdout and "--separation" in out.stdout


def test_hmc_then_observe_json(tmp_path, capsys):
    out = tmp_path / "ens.h5"
    assert main(HMC + ["--out", str(out), "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "tau_int(|M|)" in printed and "saved every" in printed
    with h5py.File(out) as f:
        assert f["phi"].shape == (40, 6, 6) and f["phi"].dtype == np.float64
        for key in ("action", "kappa", "lam", "sampler", "seed", "acceptance", "tau_int_abs_m", "qcdgen_version"):
            assert key in f.attrs, key
        # saved every ~2τ_int(|M|) trajectories (within the error of this short run's τ_int) ...
        tau, dtau = f.attrs["tau_int_abs_m"], f.attrs["tau_int_abs_m_error"]
        assert f.attrs["separation"] >= 2 * (tau - 2 * dtau)
        # ... so the saved series is close to uncorrelated (τ_int = 1/2 for independent samples)
        assert f.attrs["tau_int_saved_abs_m"] - 2 * f.attrs["tau_int_saved_abs_m_error"] < 1.0
    assert not (tmp_path / "ens.h5.ckpt.pt").exists()
    assert main(["lattice", "observe", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    obs = payload["observables"]
    assert TABLE_NAMES <= set(obs)
    assert all({"value", "error"} <= set(v) for v in obs.values())
    assert obs["kappa2"]["value"] == pytest.approx(obs["chi2"]["value"])
    assert main(["lattice", "observe", str(out)]) == 0
    assert "binder" in capsys.readouterr().out


def test_same_seed_same_ensemble(tmp_path):
    for name in ("a.h5", "b.h5"):
        assert main(HMC + ["--out", str(tmp_path / name), "--seed", "9", "--separation", "2"]) == 0
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["phi"][...], b["phi"][...])


def test_uneven_split_over_chains_keeps_every_chain_analysable(tmp_path, capsys):
    out = tmp_path / "e.h5"
    argv = [a if prev != "--configs" else "9" for prev, a in zip([None] + HMC, HMC)]
    argv = [a if prev != "--chains" else "4" for prev, a in zip([None] + argv, argv)]
    assert main(argv + ["--out", str(out), "--separation", "2"]) == 0
    with h5py.File(out) as f:
        assert f["phi"].shape[0] == 9
        np.testing.assert_array_equal(f["chain"][...], [0, 0, 0, 1, 1, 2, 2, 3, 3])
    assert main(["lattice", "observe", str(out), "--json"]) == 0


def bad_input_cases(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(2)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an hdf5 file at all")
    good_out = ["--out", str(tmp_path / "o.h5")]
    replace = lambda flag, value: [value if prev == flag else a for prev, a in zip([None] + HMC, HMC)]  # noqa: E731
    return {
        "L < 2": (replace("--size", "1") + good_out, "size"),
        "lambda < 0": (replace("--lam", "-0.1") + good_out, "lambda"),
        "kappa < 0": (replace("--kappa", "-0.2") + good_out, "kappa"),
        "not a number": (replace("--kappa", "abc") + good_out, "--kappa"),
        "fewer configs than 2 per chain": (replace("--configs", "3") + good_out, "per chain"),
        "unwritable output": (HMC + ["--out", str(tmp_path / "no" / "such" / "dir" / "o.h5")], "does not exist"),
        "output is a directory": (HMC + ["--out", str(tmp_path)], "directory"),
        "output on a filesystem that takes no files": (HMC + ["--out", "/proc/qcdgen-test.h5"], "not writable"),
        "cuda without a GPU": (HMC + good_out + ["--device", "cuda"], "cuda") if not _has_cuda() else None,
        "foreign HDF5": (["lattice", "observe", str(foreign)], "not a qcdgen lattice ensemble"),
        "corrupt HDF5": (["lattice", "observe", str(corrupt)], "not a readable HDF5"),
        "missing file": (["lattice", "observe", str(tmp_path / "missing.h5")], "does not exist"),
    }


def _has_cuda():
    import torch

    return torch.cuda.is_available()


def run_cli(argv, capsys):
    """Run the CLI in-process like the console script does: (exit code, stderr lines)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    cases = bad_input_cases(tmp_path)
    before = set(os.listdir(tmp_path))
    for name, case in cases.items():
        if case is None:
            continue
        argv, fragment = case
        code, lines = run_cli(argv, capsys)
        assert code == 2, (name, lines)
        assert len(lines) == 1, (name, lines)
        assert fragment in lines[0], (name, lines[0])
    assert set(os.listdir(tmp_path)) == before  # nothing half-written


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an hdf5 file at all")
    out = subprocess.run([sys.executable, "-m", "qcdgen", "lattice", "observe", str(corrupt)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
