"""GP and PCA+GP emulator: interpolation, predictive variance, truncation term, files."""

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.inference.design import ParameterBox, make_design
from qcdgen.inference.emulator import Emulator, cross_validate, fit_gp, load_emulator

BOX = ParameterBox(("a", "b"), [0.0, 0.0], [1.0, 1.0])


def smooth(u):
    return np.sin(3 * u[:, 0]) + 0.5 * np.cos(2 * u[:, 1]) + u[:, 0] * u[:, 1]


def test_gp_reproduces_a_smooth_function_and_its_noise_level():
    design = make_design([("a", 0, 1), ("b", 0, 1)], 30, seed=0)
    u = design.points
    noise = 0.02
    y = smooth(u) + noise * np.random.default_rng(1).normal(size=len(u))
    gp = fit_gp(u, y, seed=0, restarts=1)
    test = np.random.default_rng(2).uniform(0.05, 0.95, size=(200, 2))
    mean, var = gp.predict(test)
    err = mean - smooth(test)
    assert np.sqrt(np.mean(err ** 2)) < 3 * noise          # interpolates held-out points
    z = err / np.sqrt(var)
    assert 0.4 < np.sqrt(np.mean(z ** 2)) < 2.0             # honest error bars
    assert 0.3 * noise ** 2 < gp.noise_variance < 3 * noise ** 2   # the fitted white noise is the true one
    _, var_train = gp.predict(u)
    assert np.all(var_train < 2.2 * gp.noise_variance) and np.all(var_train > gp.noise_variance)
    # the NumPy predictor is scikit-learn's
    from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: F401
    assert np.allclose(gp.predict(u, return_var=False), y, atol=5 * noise)


def outputs(theta):
    a, b = theta[:, 0:1], theta[:, 1:2]
    c = np.linspace(0, 1, 15)[None, :]
    return np.concatenate([a * (1 + c) + b ** 2 * np.sin(3 * c), np.exp(-a * c) + 0.3 * b * c], axis=1)


KEYS = [(o, f"{i}") for o in ("f", "g") for i in range(15)]


def fitted(variance, seed=0):
    design = make_design([("a", 0, 1), ("b", 0, 1)], 25, seed=seed)
    Y = outputs(design.points) + 0.003 * np.random.default_rng(seed).normal(size=(25, 30))
    return design, Y, Emulator.fit(design.points, Y, BOX, KEYS, variance=variance, restarts=0)


def test_pca_truncation_adds_the_dropped_variance():
    _, Y, emu = fitted(0.95)
    assert 1 <= emu.n_components < 5 and emu.explained[:emu.n_components].sum() >= 0.95
    theta = np.array([[0.3, 0.7], [0.8, 0.2]])
    _, cov = emu.predict(theta)
    _, gp_cov = emu.predict(theta, gp_only=True)
    extra = cov - gp_cov
    assert np.allclose(extra, emu.cov_trunc[None])
    for e in extra:  # positive semi-definite and not negligible
        ev = np.linalg.eigvalsh(e)
        assert ev.min() > -1e-12 * ev.max() and np.trace(e) > 0.01 * np.trace(cov[0])
    assert np.all(np.diagonal(cov, axis1=1, axis2=2) >= np.diagonal(gp_cov, axis1=1, axis2=2))
    # dropped variance = the training variance the kept components miss
    Z = (Y - emu.mean) / emu.scale
    lam = np.linalg.svd(Z, compute_uv=False) ** 2 / (len(Y) - 1)
    dropped = np.sum(lam[emu.n_components:])
    assert np.isclose(np.sum(np.diag(emu.cov_trunc) / emu.scale ** 2), dropped + 1e-4 * len(KEYS), rtol=1e-6)
    # keeping all components leaves only the nugget
    _, _, full = fitted(1.0)
    assert np.allclose(full.cov_trunc, np.diag(1e-4 * full.scale ** 2), atol=1e-10 * np.max(full.scale ** 2))


def test_emulator_accuracy_and_leave_points_out_validation():
    design, Y, emu = fitted(0.99)
    theta = np.random.default_rng(5).uniform(0.1, 0.9, size=(50, 2))
    mean, cov = emu.predict(theta)
    z = (mean - outputs(theta)) / np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    assert np.sqrt(np.mean(z ** 2)) < 2.5
    val = cross_validate(design.points, Y, BOX, KEYS, folds=5, restarts=0)
    s = val.summary()
    assert s["points"] == 25 and s["folds"] == 5 and 0.3 < s["rms_z"] < 3 and s["median_relative_error"] < 0.05
    lines = val.csv_text().splitlines()
    assert lines[0] == "point,fold,observable,class,simulated,predicted,std,z"
    numbers = np.array([[float(v) for v in line.rsplit(",", 4)[1:]] for line in lines[1:]])  # plain numbers
    assert numbers.shape == (len(lines) - 1, 4) and np.isfinite(numbers).all()
    with pytest.raises(InputError, match="a = 1.5 is outside the design's range"):
        emu.predict([1.5, 0.5])


def test_save_load_round_trip_and_corrupt_files(tmp_path, capsys):
    _, _, emu = fitted(0.99)
    path = emu.save(tmp_path / "emu.pt")
    back = load_emulator(path)
    theta = np.array([0.25, 0.4])
    assert np.allclose(back.predict(theta)[0], emu.predict(theta)[0])
    assert np.allclose(back.predict(theta)[1], emu.predict(theta)[1])
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(InputError, match="not a readable qcdgen emulator file"):
        load_emulator(bad)
    import torch

    torch.save({"kind": "something else"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a qcdgen emulator file"):
        load_emulator(tmp_path / "other.pt")
    state = emu.to_state()
    state["A"] = state["A"][:, :3]
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(InputError, match="corrupt emulator file"):
        load_emulator(tmp_path / "shape.pt")
    # the CLI: one line, exit 2
    assert main(["infer", "predict", str(bad), "--at", "a=0.1,b=0.2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable qcdgen emulator file" in err[0]
    assert main(["infer", "predict", str(path), "--at", "a=0.1,b=2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--at b = 2 is outside the design's range [0, 1]" in err[0]
    assert main(["infer", "predict", str(path), "--at", "a=0.1,b=0.2", "--observables", "f"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 15
