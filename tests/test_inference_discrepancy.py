"""Multi-fidelity emulation: a biased cheap simulator corrected by a few expensive runs.

Exact statements: for a known function with a known linear discrepancy, the corrected emulator
recovers the expensive function within its stated errors (and the uncorrected one does not); the
68 % band of the correction covers the truth at its nominal rate over noise draws; a calibration
with the corrected emulator covers the truth where the uncorrected one misses it.
"""

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.inference.calibrate import calibrate
from qcdgen.inference.campaign import run_campaign
from qcdgen.inference.data import ExperimentalData
from qcdgen.inference.design import ParameterBox, make_design, write_design
from qcdgen.inference.discrepancy import CorrectedEmulator, correct_emulator
from qcdgen.inference.emulator import Emulator, load_emulator

BOX = ParameterBox(("t",), np.array([0.0]), np.array([2.0]))
KEYS1 = [("f", "0-10%"), ("g", "0-10%")]


def truth_1d(t):
    t = np.atleast_1d(t)
    return np.stack([1 + t + 0.3 * np.sin(3 * t), np.exp(-t)], axis=1)


def bias_1d(t):
    t = np.atleast_1d(t)
    return np.stack([0.2 + 0.1 * t, -0.05 + 0.02 * t], axis=1)


@pytest.fixture(scope="module")
def cheap_emulator():
    X = np.linspace(0, 2, 14)[:, None]
    Y = truth_1d(X[:, 0]) - bias_1d(X[:, 0]) + 1e-4 * np.random.default_rng(0).normal(size=(14, 2))
    return Emulator.fit(X, Y, BOX, KEYS1, restarts=1)


def test_linear_discrepancy_recovers_the_expensive_function(cheap_emulator):
    rng = np.random.default_rng(1)
    X_hi = np.array([[0.1], [0.7], [1.3], [1.9]])
    err = np.full((4, 2), 0.005)
    Y_hi = truth_1d(X_hi[:, 0]) + err * rng.normal(size=(4, 2))
    fixed = correct_emulator(cheap_emulator, X_hi, Y_hi, err, KEYS1, basis="linear")
    t = np.linspace(0.05, 1.95, 40)[:, None]
    mean, cov = fixed.predict(t)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    z = (mean - truth_1d(t[:, 0])) / sd
    assert np.sqrt(np.mean(z ** 2)) < 2.0 and np.max(np.abs(mean - truth_1d(t[:, 0]))) < 0.02
    base_mean, base_cov = cheap_emulator.predict(t)
    z_base = (base_mean - truth_1d(t[:, 0])) / np.sqrt(np.diagonal(base_cov, axis1=1, axis2=2))
    assert np.min(np.abs(z_base[:, 0])) > 10          # the cheap emulator alone is far off
    c = fixed.info["correction"]
    assert c["runs"] == 4 and c["ndf"] == 4 and c["chi2"] < 20
    assert abs(c["relative_shift_at_centre"]["f 0-10%"] - 0.3 / (truth_1d(1.0)[0, 0] - 0.3)) < 0.02


def coverage(emu, understate, draws=300):
    """Fraction of noise draws whose corrected 68 % band holds the truth (two test points, two outputs)."""
    rng = np.random.default_rng(2)
    X_hi = np.array([[0.2], [0.6], [1.0], [1.4], [1.8]])
    err = np.full((5, 2), 0.05)                       # run noise dominates the cheap emulator's error
    t = np.array([[0.45], [1.55]])
    hits = []
    for _ in range(draws):
        Y_hi = truth_1d(X_hi[:, 0]) + err * rng.normal(size=(5, 2))
        mean, cov = correct_emulator(emu, X_hi, Y_hi, err / understate, KEYS1).predict(t)
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        hits.append(np.abs(mean - truth_1d(t[:, 0])) < sd)
    return float(np.mean(hits))


def test_correction_band_coverage_with_right_and_understated_errors(cheap_emulator):
    """δ's posterior is Bayesian linear regression: with the right run errors its 68 % band covers at least
    nominally (the χ²/ndf scale factor only widens); with errors stated 3x too small the scale factor
    restores nominal coverage (without it the band would cover about 30 %)."""
    right = coverage(cheap_emulator, 1.0)
    assert 0.66 < right < 0.80, right                 # 1200 correlated trials: s.e. about 0.02
    understated = coverage(cheap_emulator, 3.0)
    assert abs(understated - 0.683) < 0.07, understated


def test_round_trip_and_bad_input(cheap_emulator, tmp_path):
    X_hi = np.array([[0.1], [0.9], [1.7]])
    Y_hi = truth_1d(X_hi[:, 0])
    err = np.full((3, 2), 0.01)
    fixed = correct_emulator(cheap_emulator, X_hi, Y_hi, err, KEYS1, basis="linear")
    fixed.save(tmp_path / "e.pt")
    back = load_emulator(tmp_path / "e.pt")
    assert isinstance(back, CorrectedEmulator) and back.delta_basis == "linear"
    t = np.array([[0.3], [1.2]])
    assert np.allclose(back.predict(t)[0], fixed.predict(t)[0]) and np.allclose(back.predict(t)[1], fixed.predict(t)[1])
    assert np.allclose(back.predict(t[0], idx=np.array([1]), return_cov=False), fixed.predict(t)[0][0, 1:])
    import torch

    state = torch.load(tmp_path / "e.pt", weights_only=True)
    state["discrepancy"]["beta"] = state["discrepancy"]["beta"][:, :1]          # wrong shape for a linear basis
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="corrupt emulator file .discrepancy arrays are inconsistent"):
        load_emulator(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="needs more than 2 expensive runs, got 2; use --correction constant"):
        correct_emulator(cheap_emulator, X_hi[:2], Y_hi[:2], err[:2], KEYS1)
    with pytest.raises(InputError, match="lack 1 emulated output"):
        correct_emulator(cheap_emulator, X_hi, Y_hi[:, :1], err[:, :1], KEYS1[:1])
    with pytest.raises(InputError, match="outside"):
        correct_emulator(cheap_emulator, X_hi + 1.0, Y_hi, err, KEYS1)
    bad = Y_hi.copy()
    bad[1, 0] = np.nan
    with pytest.raises(InputError, match="undefined"):
        correct_emulator(cheap_emulator, X_hi, bad, err, KEYS1)


# -- end to end through the CLI: cheap and expensive campaigns, emulate --correct-with, calibrate ------------------

CLASSES = [f"{10 * c}-{10 * c + 10}%" for c in range(4)]
KEYS2 = [(o, c) for o in ("f", "g") for c in CLASSES]
TRUTH2 = np.array([0.42, 0.58])
NOISE = 0.004


def model2(theta, biased):
    a, b = np.atleast_2d(theta).T
    c = np.arange(4)[None, :]
    f = a[:, None] * (1 + c / 3) + b[:, None] ** 2 * np.cos(c) + 0.4 * (a * b)[:, None]
    g = np.exp(-a[:, None] * (c + 1) / 4) + 0.3 * b[:, None] * c / 3
    y = np.concatenate([f, g], axis=1)
    if biased:                                        # the cheap simulator: off by a smooth, linear amount
        y = y + np.concatenate([0.06 + 0.04 * a[:, None] + 0 * c, -0.03 + 0.02 * b[:, None] + 0 * c], axis=1)
    return y


class Fake:
    def __init__(self, biased):
        self.biased = biased

    def describe(self):
        return {"simulator": "fake", "biased": self.biased}

    def __call__(self, params, seed, point_dir):
        y = model2([params["a"], params["b"]], self.biased)[0] + NOISE * np.random.default_rng(seed).normal(size=8)
        return [{"observable": o, "class": c, "value": v, "error": NOISE} for (o, c), v in zip(KEYS2, y)]


def test_cli_emulate_correct_with_and_calibrate(tmp_path, capsys):
    cheap = make_design([("a", 0, 1), ("b", 0, 1)], 20, seed=5)
    dear = make_design([("a", 0, 1), ("b", 0, 1)], 6, seed=6)
    write_design(tmp_path / "design.csv", cheap)
    run_campaign(cheap, Fake(True), tmp_path / "cheap", seed=2, workers=0, progress=False)
    run_campaign(dear, Fake(False), tmp_path / "dear", seed=3, workers=0, progress=False)
    capsys.readouterr()
    assert main(["infer", "emulate", str(tmp_path / "cheap"), "--out", str(tmp_path / "plain.pt"), "--folds", "0",
                 "--restarts", "1"]) == 0
    assert main(["infer", "emulate", str(tmp_path / "cheap"), "--out", str(tmp_path / "fixed.pt"), "--folds", "0",
                 "--restarts", "1", "--correct-with", str(tmp_path / "dear")]) == 0
    printed = capsys.readouterr().out
    assert "linear discrepancy from 6 expensive runs" in printed
    rng = np.random.default_rng(7)
    err = np.full(8, 0.01)
    data = ExperimentalData(KEYS2, model2(TRUTH2, False)[0] + err * rng.normal(size=8), err)
    fixed = calibrate(load_emulator(tmp_path / "fixed.pt"), data, seed=1, truth=TRUTH2, max_steps=6000)
    plain = calibrate(load_emulator(tmp_path / "plain.pt"), data, seed=1, truth=TRUTH2, max_steps=3000)
    assert np.all(fixed.truth_inside(0.95)), fixed.summary()
    assert not np.all(plain.truth_inside(0.95)), plain.summary()
    # too few expensive runs for a linear correction in two parameters: one line, exit 2, no file
    few = make_design([("a", 0, 1), ("b", 0, 1)], 3, seed=8)
    run_campaign(few, Fake(False), tmp_path / "few", seed=4, workers=0, progress=False)
    capsys.readouterr()
    assert main(["infer", "emulate", str(tmp_path / "cheap"), "--out", str(tmp_path / "x.pt"), "--folds", "0",
                 "--correct-with", str(tmp_path / "few")]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "needs more than 3 expensive runs" in err_lines[0]
    assert not (tmp_path / "x.pt").exists()
