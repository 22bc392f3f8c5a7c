"""The profile -> observables emulator (qcdgen.hic.conditional.emulator) on blast-wave pairs.

The blast wave's flow is a known linear response to the initial geometry (hydro_inspired.
flow_parameters): ρ_n = κ ε_n exp(−β n² (η/s) ħc / (T_ch R)), R = √2 r_rms, and v_n ∝ ρ_n for small ρ_n.
So between η/s = 0 and 0.3 the slope of V_2 against ε_2 e^{2iΦ_2} must drop by the known damping factor,
and the emulator, which never sees that formula, must learn it from (profile, event) pairs.
"""

import math

import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.hic.conditional.emulator import (HARMONICS, _augment, emulator_targets, evaluate_emulator,
                                             load_emulator, profile_features, train_emulator)
from qcdgen.hic.conditional.pairs import build_pairs, save_pairs
from qcdgen.hic.generation import generate_to_file
from qcdgen.hic.generators.hydro_inspired import HydroInspiredSettings
from qcdgen.hic.initial import Grid
from qcdgen.hic.initial.eccentricity import eccentricities

ETAS = (0.0, 0.3)
CELLS = 16


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("emu")
    files = []
    for eta in ETAS:
        f = d / f"bw{eta}.parquet"
        generate_to_file(f, model="blastwave", n_events=160, seed=11, progress=False, centrality=(10.0, 50.0),
                         eta_s=eta, oversample=0, y_max=1.2)
        files.append(f)
    pd = build_pairs(files, profile_cells=CELLS)
    perm = np.random.default_rng(0).permutation(len(pd))
    train, test = pd.subset(np.sort(perm[:240])), pd.subset(np.sort(perm[240:]))
    emu = train_emulator(train, epochs=30, growth=8, blocks=2, layers_per_block=2, seed=0)
    save_pairs(test, d / "test.h5")
    save_pairs(build_pairs(files[:1], profile_cells=8), d / "coarse.h5")
    emu.save(d / "emu.pt")
    return {"dir": d, "pd": pd, "test": test, "emu": emu}


def _slope(V, E):
    """Least-squares complex slope b of V = b E (real part)."""
    return float(np.real(np.sum(V * np.conj(E))) / np.sum(np.abs(E) ** 2))


def test_augmentation_matches_the_eccentricities_of_the_turned_profile(data):
    """rot90^k and the y flip act on V_n as on ε_n e^{inΦ_n} computed independently from the turned profile."""
    prof = data["pd"].profiles[:6]
    grid = Grid(n=CELLS, max=10.0)
    E0, _ = profile_features(prof, (CELLS, 10.0))
    e0 = torch.as_tensor(np.stack([E0.real, E0.imag], -1).reshape(6, -1))
    for k in range(4):
        for flip in (False, True):
            x, y, e = _augment(torch.as_tensor(prof).unsqueeze(1), torch.zeros(6, 6), e0, k, flip)
            eps, psi = eccentricities(x[:, 0].numpy(), grid, HARMONICS)
            want = eps * np.exp(1j * np.array(HARMONICS) * psi)
            got = e.numpy()[:, 0::2] + 1j * e.numpy()[:, 1::2]
            np.testing.assert_allclose(got, want, atol=1e-9)


def test_emulator_learns_the_blast_wave_linear_response(data):
    """Slope of V_2 on ε_2 e^{2iΦ_2}: the generator's events (all 320, bootstrap error) against the known
    damping, and the emulator (held-out profiles) against the generator's events."""
    emu, test, pd = data["emu"], data["test"], data["pd"]
    s = HydroInspiredSettings()
    rng = np.random.default_rng(1)
    emu_slope, true_slope, true_boot, damping = {}, {}, {}, {}
    for eta in ETAS:
        sub = test.subset(np.flatnonzero(test.conditions["eta_s"] == eta))
        E, _ = profile_features(sub.profiles, (CELLS, 10.0))
        emu_slope[eta] = _slope(emu.predict(sub.profiles, eta)["V"][:, 0], E[:, 0])
        every = pd.subset(np.flatnonzero(pd.conditions["eta_s"] == eta))
        E, inv = profile_features(every.profiles, (CELLS, 10.0))
        V = emulator_targets(every)["V"][:, 0]
        true_slope[eta] = _slope(V, E[:, 0])
        true_boot[eta] = np.array([_slope(V[i], E[i, 0]) for i in rng.integers(0, len(V), (200, len(V)))])
        R = math.sqrt(2.0) * np.maximum(inv[:, 1], 0.3)
        damp = np.exp(-s.viscous_beta * 4 * eta * 0.1973269804 / (s.T_ch * R))
        damping[eta] = float(np.sum(damp * np.abs(E[:, 0]) ** 2) / np.sum(np.abs(E[:, 0]) ** 2))
    true_ratio = true_slope[0.3] / true_slope[0.0]
    ratio_err = float(np.std(true_boot[0.3] / true_boot[0.0]))
    # the data carry the known viscous damping (v_2 is slightly concave in ρ_2, so the ratio sits a bit above it)
    assert damping[0.3] < 0.6 and true_ratio == pytest.approx(damping[0.3], rel=0.2)
    # the emulator, which never sees that formula, learns it from the pairs
    assert abs(emu_slope[0.3] / emu_slope[0.0] - true_ratio) < max(3 * ratio_err, 0.05)
    assert emu_slope[0.0] == pytest.approx(true_slope[0.0], rel=0.25)


def test_accuracy_calibration_and_cumulants(data):
    r = evaluate_emulator(data["emu"], data["test"], classes=((10, 50),))
    assert r["r2"]["dNch/deta"] > 0.95            # dN/dη ∝ total entropy in the blast wave
    assert r["r2"]["V2"] > 0.4 and r["r2"]["V2"] <= r["r2_ceiling"]["V2"] + 0.1
    slope, err = r["calibration"]["v2"]["slope"]
    assert abs(slope - 1.0) < max(3 * err, 0.15)
    cu = r["classes"]["10-50"]["cumulants"]["emulator/target"]["v2{2}"]
    assert abs(cu[0] - 1.0) < max(3 * cu[1], 0.1)


def test_cli_predict_and_bad_input(data, capsys, tmp_path):
    d = data["dir"]
    assert main(["hic", "emulator-predict", str(d / "emu.pt"), str(d / "test.h5")]) == 0
    out = capsys.readouterr().out
    assert "R^2" in out and "calibration v2" in out
    # the saved model predicts what the trained one does
    again = load_emulator(d / "emu.pt").predict(data["test"].profiles, data["test"].conditions["eta_s"])
    np.testing.assert_allclose(again["V"], data["emu"].predict(data["test"].profiles,
                                                               data["test"].conditions["eta_s"])["V"], atol=1e-6)
    wrong_kind = tmp_path / "c.pt"
    torch.save({"kind": "eos-classifier"}, wrong_kind)
    empty = tmp_path / "empty.h5"
    save_pairs(data["test"].subset(np.array([], int)), empty)
    cases = {"grid": ([str(d / "emu.pt"), str(d / "coarse.h5")], "differs from the model's"),
             "kind": ([str(wrong_kind), str(d / "test.h5")], "is a eos-classifier model, not a profile-emulator"),
             "empty": ([str(d / "emu.pt"), str(empty)], "no events"),
             "eta_s": ([str(d / "emu.pt"), str(d / "test.h5"), "--eta-s", "0.5"], "--extrapolate")}
    for name, (argv, fragment) in cases.items():
        assert main(["hic", "emulator-predict", *argv]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], (name, err)
    assert main(["hic", "emulator-predict", str(d / "emu.pt"), str(d / "test.h5"), "--eta-s", "0.5",
                 "--extrapolate"]) == 0
    assert "extrapolating" in capsys.readouterr().err
