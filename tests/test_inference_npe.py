"""Neural posterior estimation: exact linear-Gaussian posterior, SBC, event bags, and the CLI.

Tolerances. The posterior draws' own Monte Carlo error is tiny (20 000 draws: 0.007 σ on a mean,
0.5 % on a width); what limits agreement is the flow trained on 8000 simulations for 30 epochs
(the Monte Carlo error of the *training set*). Over 3 training seeds × 4 observations these
settings gave mean errors up to 0.25 σ and width errors up to 13 %, hence the bounds 0.35 σ,
15 % and 0.1 on the correlation; a wrong posterior (the prior: widths × 2.9; a mean shifted by
half a posterior σ) fails them.
"""

import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.inference.campaign import run_campaign
from qcdgen.inference.design import Design, ParameterBox
from qcdgen.inference.npe import (DeepSetEncoder, NPESettings, load_npe, npe_sbc, posterior_log_prob,
                                  sample_posterior, train_npe)
from qcdgen.inference.sbc import run_sbc

# -- linear Gaussian model: θ ~ N(0, I₂), x = A θ + b + σ ε, ε ~ N(0, I₅) -------------------------
A = np.array([[1.0, 0.5], [0.3, -1.0], [0.8, 0.8], [-0.5, 0.2], [0.1, 1.2]])
B = np.array([0.5, -0.2, 0.0, 1.0, 0.3])
SIGMA = 0.5
POST_COV = np.linalg.inv(np.eye(2) + A.T @ A / SIGMA ** 2)
POST_SD = np.sqrt(np.diag(POST_COV))


def simulate(theta, rng):
    theta = np.atleast_2d(theta)
    x = theta @ A.T + B + SIGMA * rng.normal(size=(len(theta), len(B)))
    return x


def analytic_posterior(x):
    return POST_COV @ A.T @ (x - B) / SIGMA ** 2, POST_COV


@pytest.fixture(scope="module")
def linear_npe():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(8000, 2))
    settings = NPESettings(epochs=30, batch_size=256, lr=2e-3, transforms=2, hidden=(32, 32), patience=0, seed=0)
    return train_npe(theta, simulate(theta, rng), names=["t0", "t1"], settings=settings)


@pytest.mark.parametrize("truth", [(0.3, -0.5), (1.5, 1.0)])
def test_linear_gaussian_npe_matches_the_analytic_posterior(linear_npe, truth):
    rng = np.random.default_rng(42)
    x_obs = simulate(np.array(truth), rng)[0]
    mean, cov = analytic_posterior(x_obs)
    draws = sample_posterior(linear_npe.model, x_obs, 20000, torch.Generator().manual_seed(1))
    assert draws.shape == (20000, 2)
    c = np.cov(draws.T)
    assert np.all(np.abs(draws.mean(0) - mean) < 0.35 * POST_SD), (draws.mean(0), mean, POST_SD)
    assert np.all(np.abs(np.sqrt(np.diag(c)) / POST_SD - 1) < 0.15), (np.sqrt(np.diag(c)), POST_SD)
    corr, exact = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1]), cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert abs(corr - exact) < 0.1, (corr, exact)
    # the density agrees with the draws: log q at the analytic mean is near the Gaussian's peak value
    lp = posterior_log_prob(linear_npe.model, mean[None], x_obs)[0]
    peak = -np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(cov))
    assert abs(lp - peak) < 0.4, (lp, peak)


def test_sampling_is_seeded_and_the_file_round_trips(linear_npe, tmp_path):
    x_obs = simulate(np.array([0.1, 0.2]), np.random.default_rng(3))[0]
    a = sample_posterior(linear_npe.model, x_obs, 500, 7)
    assert np.array_equal(a, sample_posterior(linear_npe.model, x_obs, 500, 7))
    assert not np.array_equal(a, sample_posterior(linear_npe.model, x_obs, 500, 8))
    linear_npe.model.save(tmp_path / "npe.pt", {"note": "test"})
    model, info = load_npe(tmp_path / "npe.pt")
    assert info == {"note": "test"} and model.names == ["t0", "t1"]
    assert np.array_equal(a, sample_posterior(model, x_obs, 500, 7))
    batch = sample_posterior(model, np.stack([x_obs, x_obs + 1]), 100, 0)
    assert batch.shape == (100, 2, 2)
    with pytest.raises(InputError, match="does not fit"):
        sample_posterior(model, x_obs[:3], 10, 0)


def test_sbc_uniform_for_the_npe_and_not_for_a_shifted_posterior(linear_npe):
    rng = np.random.default_rng(5)
    theta = rng.normal(size=(300, 2))
    res = npe_sbc(linear_npe.model, theta, simulate(theta, rng), n_posterior=99, seed=1)
    assert res.ranks.shape == (300, 2) and res.passed(), res.p_values
    for level, cov in res.coverage.items():
        assert np.all(np.abs(cov - level) < 0.08), (level, cov)
    # the generic SBC loop of sbc.py (prior draw, simulator, posterior callables), 200 simulations
    model = linear_npe.model

    def posterior(shift):
        return lambda y, n, g: sample_posterior(model, y, n, g) + shift * POST_SD

    prior = lambda g: g.normal(size=2)  # noqa: E731
    sim = lambda t, g: simulate(t, g)[0]  # noqa: E731
    good = run_sbc(prior, sim, posterior(0.0), n_sims=200, n_posterior=99, seed=2)
    bad = run_sbc(prior, sim, posterior(1.0), n_sims=200, n_posterior=99, seed=2)
    assert good.passed(), good.p_values
    assert not bad.passed() and np.all(bad.p_values < 1e-4), bad.p_values
    assert np.all(bad.coverage[0.9] < 0.8)


# -- event bags: (β₂, β₄) from K events, each a noisy function of them ----------------------------
LO, HI = np.array([0.0, -0.1]), np.array([0.4, 0.2])


def prior_box(n, rng):
    return LO + (HI - LO) * rng.random((n, 2))


def bag_events(theta, k, rng):
    """Per event: an ε₂-like β₂ + noise, an ε₄-like β₄ + β₂²/2 + noise, and a feature carrying nothing."""
    b2, b4 = theta[:, 0, None], theta[:, 1, None]
    e2 = b2 + 0.15 * rng.normal(size=(len(theta), k))
    e4 = b4 + 0.5 * b2 ** 2 + 0.1 * rng.normal(size=(len(theta), k))
    return np.stack([e2, e4, rng.normal(size=(len(theta), k))], -1)


@pytest.fixture(scope="module")
def bag_results():
    settings = NPESettings(epochs=20, batch_size=128, lr=2e-3, transforms=2, hidden=(32, 32), summary=8,
                           encoder_hidden=(32, 32), patience=0)
    out = {}
    for k in (1, 10, 100):
        rng = np.random.default_rng(k)
        theta = prior_box(2000, rng)
        res = train_npe(theta, bag_events(theta, k, rng), names=["beta2", "beta4"], inputs=["e2", "e4", "noise"],
                        bounds=(LO, HI), bags=True, settings=settings)
        held = prior_box(200, rng)
        x = bag_events(held, k, rng)
        sbc = npe_sbc(res.model, held, x, n_posterior=99, seed=k)
        width = sample_posterior(res.model, x[:50], 400, 0).std(0).mean(0)     # mean posterior sd over 50 bags
        out[k] = (res, sbc, width)
    return out


def test_bag_posterior_narrows_with_k_and_sbc_passes_at_each_k(bag_results):
    w = {k: v[2] for k, v in bag_results.items()}
    assert w[10][0] < 0.75 * w[1][0] and w[100][0] < 0.75 * w[10][0], w
    assert w[100][1] < w[1][1], w
    for k, (res, sbc, _) in bag_results.items():
        assert sbc.passed(), (k, sbc.p_values)
        assert np.all(np.abs(sbc.coverage[0.9] - 0.9) < 0.08), (k, sbc.coverage)
        draws = sample_posterior(res.model, bag_events(np.array([[0.25, 0.05]]), k, np.random.default_rng(9))[0],
                                 1000, 1)
        assert np.all(draws >= LO) and np.all(draws <= HI)          # the box prior's support


def test_deep_set_encoder_is_permutation_invariant():
    torch.manual_seed(0)
    enc = DeepSetEncoder(3, 4, (8,))
    bags = torch.randn(5, 7, 3)
    perm = bags[:, torch.randperm(7)]
    assert enc(bags).shape == (5, 4) and torch.allclose(enc(bags), enc(perm), atol=1e-6)


# -- CLI on a fake campaign ------------------------------------------------------------------------
OBS = ("fa", "fb", "fab")


class ToySimulator:
    """The campaign protocol; also writes a per-event feature table for --bags."""

    def describe(self):
        return {"simulator": "npe-toy"}

    def __call__(self, params, seed, point_dir):
        rng = np.random.default_rng(seed)
        a, b = params["a"], params["b"]
        ev = np.stack([a + 0.2 * rng.normal(size=30), b + 0.2 * rng.normal(size=30)], 1)
        (point_dir / "event_features.csv").write_text(
            "e_a,e_b\n" + "\n".join(f"{float(u)!r},{float(v)!r}" for u, v in ev) + "\n")
        y = [a + 0.05 * rng.normal(), b + 0.05 * rng.normal(), a + b + 0.05 * rng.normal()]
        return [{"observable": o, "class": "all", "value": v, "error": 0.05} for o, v in zip(OBS, y)]


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("npe")
    box = ParameterBox(("a", "b"), [0.0, 0.0], [1.0, 1.0])
    design = Design(box, np.random.default_rng(1).random((240, 2)), seed=1, method="uniform random")
    run_campaign(design, ToySimulator(), root / "runs", seed=0, workers=0, progress=False)
    (root / "data.csv").write_text("observable,class,value,error\nfab,all,0.9,0.05\nfa,all,0.3,0.05\n"
                                   "fb,all,0.6,0.05\n")
    (root / "events.csv").write_text("e_b,e_a\n" + "\n".join("0.6,0.3" for _ in range(12)) + "\n")
    return root


def test_cli_npe_and_posterior(toy_runs, tmp_path, capsys):
    npe = tmp_path / "npe.pt"
    assert main(["infer", "npe", str(toy_runs / "runs"), "--out", str(npe), "--epochs", "40", "--sbc", "40",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "trained in" in printed and "SBC on 40 held-out points" in printed and npe.is_file()
    out = tmp_path / "post.csv"
    assert main(["infer", "posterior", str(npe), str(toy_runs / "data.csv"), "--samples", "2000",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2000 posterior draws in" in printed and " ms" in printed
    lines = out.read_text().splitlines()
    assert lines[0] == "a,b" and len(lines) == 2001
    draws = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.all((draws > 0) & (draws < 1))
    assert abs(np.median(draws[:, 0]) - 0.3) < 0.2 and abs(np.median(draws[:, 1]) - 0.6) < 0.2

    bags = tmp_path / "bags.pt"
    assert main(["infer", "npe", str(toy_runs / "runs"), "--out", str(bags), "--bags", "10", "--epochs", "5",
                 "--no-progress"]) == 0
    assert "bags of 10 events" in capsys.readouterr().out
    assert main(["infer", "posterior", str(bags), str(toy_runs / "events.csv"), "--samples", "500"]) == 0
    assert "first 10 of 12" in capsys.readouterr().out


@pytest.mark.parametrize("case,match", [
    ("corrupt", "not a readable qcdgen NPE file"),
    ("foreign", "not a qcdgen NPE file"),
    ("unknown", "not one the NPE was trained on"),
    ("missing", "lacks 1 observable"),
    ("bags_too_big", "--bags 50: a design point has only 30 events"),
])
def test_cli_bad_input_is_one_line_exit_2(toy_runs, tmp_path, capsys, case, match):
    npe = tmp_path / "npe.pt"
    data = toy_runs / "data.csv"
    if case in ("unknown", "missing"):
        assert main(["infer", "npe", str(toy_runs / "runs"), "--out", str(npe), "--epochs", "1", "--no-progress"]) == 0
        data = tmp_path / "data.csv"
        rows = toy_runs.joinpath("data.csv").read_text().splitlines()
        data.write_text("\n".join(rows + ["zz,all,1,1"] if case == "unknown" else rows[:-1]) + "\n")
    elif case == "corrupt":
        npe.write_bytes(b"not a torch file")
    elif case == "foreign":
        torch.save({"kind": "qcdgen.inference.emulator", "format": 1}, npe)
    capsys.readouterr()
    if case == "bags_too_big":
        rc = main(["infer", "npe", str(toy_runs / "runs"), "--out", str(npe), "--bags", "50", "--no-progress"])
    else:
        rc = main(["infer", "posterior", str(npe), str(data)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and match in err[0], err
