"""``qcdgen inverse spectral`` / ``spectral-bench`` end to end, the ensemble API, and bad input."""

import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.errors import NaNError
from qcdgen.inverse.kernels import apply_kernel, kernel_matrix, omega_grid
from qcdgen.inverse.spectral import api
from qcdgen.inverse.tables import read_columns, write_columns


def breit_wigner(w, A=1.0, M=2.0, G=0.5):
    return 4 * A * G * w / ((M * M + G * G - w * w) ** 2 + 4 * G * G * w * w)


@pytest.fixture
def bw_csv(tmp_path):
    """A Källén–Lehmann correlator of a Breit–Wigner on the CLI's own grid, ε = 1e-3 noise."""
    omega = omega_grid(0, 20, 201)
    p = np.linspace(0.1, 10, 40)
    clean = apply_kernel(kernel_matrix("kl", p, omega), breit_wigner(omega)).numpy()
    err = 1e-3 * clean
    rng = np.random.default_rng(3)
    path = tmp_path / "corr.csv"
    write_columns(path, {"x": p, "value": clean + err * rng.standard_normal(p.size), "error": err})
    return path, breit_wigner(omega).numpy()


def test_spectral_cli_tikhonov_writes_band(bw_csv, tmp_path, capsys):
    path, truth = bw_csv
    out, png = tmp_path / "rho.csv", tmp_path / "rho.png"
    rc = main(["inverse", "spectral", str(path), "--kernel", "kl", "--method", "tikhonov", "--omega-min", "0",
               "--omega-max", "20", "--omega-points", "201", "--out", str(out), "--plot", str(png),
               "--ensemble", "4", "--no-progress"])
    assert rc == 0 and png.stat().st_size > 1000
    cols = read_columns(out, ["omega", "rho", "rho_lo", "rho_hi"])
    assert np.all(cols["rho_lo"] <= cols["rho"]) and np.all(cols["rho"] <= cols["rho_hi"])
    assert np.all(cols["rho_lo"] >= 0)
    # at ε = 1e-3 the resonance is found: peak within one width Γ = 0.5 of M = 2, L2 error below
    # 35 % (the KL kernel resolves only ~8 directions of ρ at this noise; the projection of the
    # truth on them alone misses ~20 %)
    assert abs(cols["omega"][cols["rho"].argmax()] - 2.0) < 0.5
    assert np.linalg.norm(cols["rho"] - truth) / np.linalg.norm(truth) < 0.35
    assert "chi2/point" in capsys.readouterr().out


def test_ensemble_band_and_refold(bw_csv):
    path, _ = bw_csv
    cols = read_columns(path, ["x", "value", "error"])
    corr = api.Correlator(x=cols["x"], value=cols["value"], error=cols["error"], kernel="kl")
    res = api.reconstruct(corr, omega_grid(0, 20, 201), "mem", ensemble=3, seed=1, progress=False)
    assert res.members.shape == (3, 201)
    np.testing.assert_allclose(res.rho, res.members.mean(axis=0))
    # a fit to data with errors σ: the mean's χ²/point is O(1), not 0 and not ≫ 1
    assert 0.05 < res.chi2_per_point < 5
    pulls = (corr.value - res.refolded()) / corr.error
    assert np.isclose(np.mean(pulls ** 2), res.chi2_per_point)
    same = api.reconstruct(corr, omega_grid(0, 20, 201), "mem", ensemble=3, seed=1, progress=False)
    np.testing.assert_array_equal(res.members, same.members)


def test_nan_member_is_reported_not_averaged(monkeypatch, bw_csv):
    path, _ = bw_csv
    cols = read_columns(path, ["x", "value", "error"])
    corr = api.Correlator(x=cols["x"], value=cols["value"], error=cols["error"], kernel="kl")

    def broken(K, data, sigma, omega, *, generator, device="cpu"):
        rho = torch.ones(omega.numel(), dtype=torch.float64)
        rho[3] = float("nan")
        return rho

    monkeypatch.setattr(api, "method_function", lambda method: broken)
    with pytest.raises(NaNError, match="member 0 .* 1 non-finite"):
        api.reconstruct(corr, omega_grid(0, 20, 201), "mem", ensemble=2, progress=False)


def test_spectral_bench_cli_prints_table(tmp_path, capsys):
    rc = main(["inverse", "spectral-bench", "--shapes", "bw", "--noise", "1e-3", "--methods", "mem,tikhonov",
               "--repeats", "2", "--no-progress", "--json", str(tmp_path / "b.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "MEM MSE" in out and "Tikhonov MSE" in out
    import json

    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert {r["method"] for r in rows} == {"mem", "tikhonov"}
    assert all(r["mse"] >= 0 and r["kl"] >= 0 for r in rows)


@pytest.mark.parametrize("extra,content,message", [
    (["--method", "mem", "--kernel", "thermal"], None, "needs --temperature"),
    (["--method", "mem", "--kernel", "kl", "--ensemble", "0"], None, "--ensemble must be"),
    (["--method", "mem", "--kernel", "kl"], "x,value\n1,2\n", "missing column"),
    (["--method", "mem", "--kernel", "kl"], "x,value,error\n1,2,0\n2,1,1\n", "must be > 0"),
    (["--method", "mem", "--kernel", "kl"], "x,value,error\n1,2,1\n", "at least 2 data row"),
    (["--method", "mem", "--kernel", "kl", "--device", "tpu"], None, "--device must be"),
])
def test_spectral_cli_bad_input_is_one_line(bw_csv, tmp_path, capsys, extra, content, message):
    path, _ = bw_csv
    if content is not None:
        path = tmp_path / "bad.csv"
        path.write_text(content)
    rc = main(["inverse", "spectral", str(path), "--omega-min", "0", "--omega-max", "20", "--omega-points", "50",
               "--out", str(tmp_path / "o.csv"), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.csv").exists()


def test_spectral_cli_missing_file_and_bad_output_dir(tmp_path, capsys):
    rc = main(["inverse", "spectral", str(tmp_path / "none.csv"), "--kernel", "kl", "--method", "mem",
               "--omega-min", "0", "--omega-max", "5", "--omega-points", "20", "--out", str(tmp_path / "o.csv")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_tov_cli_writes_bands_and_refuses_bad_input(tmp_path, capsys):
    """A short fit end to end (physics of the fit: tests/test_tov.py and benchmarks/tov_poc.py)."""
    obs = tmp_path / "obs.csv"
    obs.write_text("mass,mass_error,radius,radius_error\n1.0,0.07,11.8,0.4\n1.4,0.07,11.7,0.4\n"
                   "1.8,0.07,11.4,0.4\n2.0,0.07,11.0,0.4\n")
    out = tmp_path / "eos.csv"
    rc = main(["inverse", "tov", str(obs), "--out", str(out), "--ensemble", "2", "--epochs", "2", "--no-progress"])
    assert rc == 0 and "M_max" in capsys.readouterr().out
    eos = read_columns(out, ["energy_density", "pressure", "pressure_lo", "pressure_hi"])
    assert np.all(np.diff(eos["pressure"]) > 0)                       # P(ε) monotone by construction
    assert np.all(eos["pressure_lo"] <= eos["pressure_hi"])
    mr = read_columns(tmp_path / "eos_mr.csv", ["mass", "radius", "radius_lo", "radius_hi", "members"],
                      allow_nan=True)
    assert mr["mass"].size > 10
    # masses above a member's M_max have no radius; a band needs two members: NaN there, never a guess
    np.testing.assert_array_equal(np.isnan(mr["radius"]), mr["members"] < 2)
    obs.write_text("mass,mass_error,radius\n1.0,0.1,12\n")
    rc = main(["inverse", "tov", str(obs), "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing column(s) radius_error" in err and len(err.strip().splitlines()) == 1


def test_potential_cli_writes_band_and_refuses_bad_levels(tmp_path, capsys):
    """A short fit end to end (solver physics and the PoC: tests/test_schrodinger.py)."""
    levels = tmp_path / "levels.csv"
    levels.write_text("n,l,E\n1,0,1.5\n2,0,3.5\n3,0,5.5\n")
    out = tmp_path / "V.csv"
    rc = main(["inverse", "potential", str(levels), "--mass", "1", "--out", str(out), "--ensemble", "2",
               "--epochs", "30", "--grid-points", "48", "--no-progress"])
    assert rc == 0 and "probed range" in capsys.readouterr().out
    v = read_columns(out, ["r", "V", "V_lo", "V_hi"])
    assert np.all(v["V_lo"] <= v["V"]) and np.all(v["V"] <= v["V_hi"])
    levels.write_text("n,l,E\n0,0,1.5\n")
    rc = main(["inverse", "potential", str(levels), "--mass", "1", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "n" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.csv").exists()
