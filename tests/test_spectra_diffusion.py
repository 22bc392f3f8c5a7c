"""Conditional diffusion engine (exact Gaussian scores) and the spectra diffusion of qcdgen.hic.conditional.

Engine: for x | c ~ N(A c, Σ) the VP-noised marginal is N(a A c, a²Σ + s²I), so the exact noise predictor
is net = −s (a²Σ + s²I)⁻¹ (x − a A c). Sampling with it must return mean A c and covariance Σ (pulls), and
its DSM loss must equal the quadrature (1/(T−ε)) ∫ dt mean_k a²λ_k/(a²λ_k + s²) (λ_k the eigenvalues of Σ).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcdgen.diffusion.conditional import conditional_dsm_loss, conditional_sample
from qcdgen.diffusion.sde import VPSDE
from qcdgen.errors import InputError
from qcdgen.nn.unet import ConditionalUNet

torch.set_num_threads(1)

A = torch.tensor([[1.0, -0.5], [0.3, 2.0], [0.0, 0.7]], dtype=torch.float64)
L = torch.tensor([[0.8, 0, 0], [0.3, 0.5, 0], [-0.2, 0.1, 0.3]], dtype=torch.float64)
SIGMA = L @ L.T
LAM, U = torch.linalg.eigh(SIGMA)
SDE = VPSDE()


def exact_net(x, t, cond_image=None, cond_vector=None):
    """−z prediction of the exact conditional Gaussian score (cond_image unused)."""
    a = SDE.mean_coeff(t.double()).view(-1, 1)
    s = SDE.marginal_std(t.double()).view(-1, 1)
    r = x.double() - a * (cond_vector.double() @ A.T)
    return (-s * (((r @ U) / (a ** 2 * LAM + s ** 2)) @ U.T)).to(x.dtype)


@pytest.mark.parametrize("method,steps", [("ode", 100), ("sde", 1000)])
def test_conditional_sample_exact_gaussian(method, steps):
    n = 4000
    conds = torch.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    c = conds.repeat(n, 1)
    x = conditional_sample(exact_net, SDE, (2 * n, 3), steps, torch.Generator().manual_seed(1), cond_vector=c,
                           method=method, dtype=torch.float64)
    var = torch.diag(SIGMA)
    for k in range(2):
        xs = x[k::2]
        pull_mean = (xs.mean(0) - conds[k] @ A.T) / torch.sqrt(var / n)
        cov_se = torch.sqrt((SIGMA ** 2 + torch.outer(var, var)) / n)
        pull_cov = (torch.cov(xs.T) - SIGMA) / cov_se
        assert pull_mean.abs().max() < 4, pull_mean
        assert pull_cov.abs().max() < 4, pull_cov


def test_conditional_dsm_loss_of_exact_score_matches_quadrature():
    vals = []
    gen = torch.Generator().manual_seed(3)
    for i in range(40):
        c = torch.randn(2000, 2, generator=gen, dtype=torch.float64)
        x0 = c @ A.T + torch.randn(2000, 3, generator=gen, dtype=torch.float64) @ L.T
        vals.append(float(conditional_dsm_loss(exact_net, SDE, x0, gen, cond_vector=c)))
    t = torch.linspace(SDE.eps, SDE.T, 20001, dtype=torch.float64)
    a2, s2 = SDE.mean_coeff(t)[:, None] ** 2, SDE.marginal_std(t)[:, None] ** 2
    exact = float(torch.trapezoid((a2 * LAM / (a2 * LAM + s2)).mean(1), t)) / (SDE.T - SDE.eps)
    mean, se = np.mean(vals), np.std(vals, ddof=1) / math.sqrt(len(vals))
    assert abs(mean - exact) < 4 * se, (mean, se, exact)


def test_unet_commutes_with_cyclic_phi_shifts_and_checks_shapes():
    torch.manual_seed(0)
    net = ConditionalUNet(1, cond_channels=2, cond_dim=3, base=8, depth=2, periodic_w=True)
    for p in net.parameters():  # the zero-initialised output layer would make the check trivial
        torch.nn.init.normal_(p, std=0.1)
    x, ci, cv, t = torch.randn(3, 1, 16, 32), torch.randn(3, 2, 16, 32), torch.randn(3, 3), torch.rand(3)
    out = net(x, t, ci, cv)
    assert out.shape == x.shape and out.abs().mean() > 1e-3
    shifted = net(x.roll(4, -1), t, ci.roll(4, -1), cv)
    assert torch.allclose(out.roll(4, -1), shifted, atol=1e-5)
    with pytest.raises(InputError):
        net(torch.randn(3, 1, 16, 30), t, ci, cv)
    with pytest.raises(InputError):
        net(x, t, None, cv)


# ---------------------------------------------------------------- spectra diffusion on blast-wave pairs
from dataclasses import replace  # noqa: E402

N_EVENTS = 48


@pytest.fixture(scope="module")
def bw(tmp_path_factory):
    """48 blast-wave events (0-50 %, 2 particlizations per spectrum), their pairs and a briefly trained model."""
    from qcdgen.hic.conditional.pairs import build_pairs, save_pairs
    from qcdgen.hic.conditional.spectra_diffusion import train_spectra_diffusion
    from qcdgen.hic.generation import generate_to_file

    d = tmp_path_factory.mktemp("spectra")
    generate_to_file(d / "E.parquet", model="blastwave", n_events=N_EVENTS, seed=1, chunk_events=N_EVENTS,
                     progress=False, centrality=(0, 50), oversample=2)
    pd = build_pairs([d / "E.parquet"])
    save_pairs(pd, d / "pairs.h5")
    model = train_spectra_diffusion(pd, steps=40, batch=16, base=8, seed=0)
    model.save(d / "S.pt")
    return d, pd, model


def _counts(pd, spectra):
    from qcdgen.hic.observables.spectrum2d import spectrum_measure
    return (np.asarray(spectra, float) * spectrum_measure(pd.pt_edges, pd.phi_edges)[None]).sum(axis=(1, 2))


def test_generated_multiplicity_and_v2_follow_each_profile(bw):
    """dN/dy of the generated spectra agrees with the blast wave's event by event (paired differences within
    4 standard errors), and the generated flow vector V2 follows the profile's (blast-wave V2 follows ε2 event by
    event): the vector correlation is large, and it vanishes when the same model is given shuffled profiles."""
    from qcdgen.hic.conditional.emulator import smooth_flow
    from qcdgen.hic.conditional.spectra_diffusion import sample_spectra

    _, pd, model = bw
    gen = sample_spectra(model, pd.profiles, 0.08, steps=12, seed=1)
    diff = _counts(pd, gen) - _counts(pd, pd.spectra)
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / math.sqrt(len(diff)) + 0.01 * _counts(pd, pd.spectra).mean()
    assert np.corrcoef(_counts(pd, gen), _counts(pd, pd.spectra))[0, 1] > 0.95

    def vec_corr(a, b):
        return float(np.real(np.sum(a * np.conj(b))) / np.sqrt(np.sum(abs(a) ** 2) * np.sum(abs(b) ** 2)))

    truth = smooth_flow(pd)[0][:, 0]
    assert vec_corr(smooth_flow(replace(pd, spectra=gen))[0][:, 0], truth) > 0.7
    perm = np.roll(np.arange(len(pd)), len(pd) // 2)
    shuffled = sample_spectra(model, pd.profiles[perm], 0.08, steps=12, seed=1)
    assert abs(vec_corr(smooth_flow(replace(pd, spectra=shuffled))[0][:, 0], truth)) < 0.35


def test_poisson_sampling_of_an_analytic_spectrum():
    """Particles drawn from S = A e^{-pT/T}(1 + 2 v2 cos 2φ): total count, <pT> (exact bin integrals with pT²
    uniform in a bin) and v2 (bin-averaged: v2 sinc(Δφ)) against the analytic values, as pulls."""
    import awkward as ak

    from qcdgen.hic.conditional.spectra_diffusion import spectra_to_events
    from qcdgen.hic.events import kinematics
    from qcdgen.hic.observables.spectrum2d import PHI_EDGES, PT_EDGES, spectrum_measure

    ptc, phic = 0.5 * (PT_EDGES[1:] + PT_EDGES[:-1]), 0.5 * (PHI_EDGES[1:] + PHI_EDGES[:-1])
    v2 = 0.1
    s = 800 * np.exp(-ptc / 0.35)[:, None] * (1 + 2 * v2 * np.cos(2 * phic))[None]
    n_ev = 300
    ev = spectra_to_events(np.repeat(s[None], n_ev, 0), PT_EDGES, PHI_EDGES, np.random.default_rng(5),
                           centrality=np.full(n_ev, 5.0))
    lam = s * spectrum_measure()
    k = kinematics(ev.particles)
    n = ak.to_numpy(ak.num(ev.particles))
    assert abs(n.mean() - lam.sum()) < 4 * math.sqrt(lam.sum() / n_ev)
    a, b = PT_EDGES[:-1], PT_EDGES[1:]
    mean_pt_bin = 2 / 3 * (b ** 3 - a ** 3) / (b ** 2 - a ** 2)
    exact_pt = (lam.sum(1) * mean_pt_bin).sum() / lam.sum()
    pt = ak.to_numpy(ak.flatten(k.pt))
    assert abs(pt.mean() - exact_pt) < 4 * pt.std() / math.sqrt(len(pt))
    c2 = np.cos(2 * ak.to_numpy(ak.flatten(k.phi)))
    dphi = PHI_EDGES[1] - PHI_EDGES[0]
    assert abs(c2.mean() - v2 * np.sinc(dphi / np.pi)) < 4 * c2.std() / math.sqrt(len(c2))
    # a K = 4 particlization average, thinned by 1/4, gives one particlization: Poisson counts (var = mean)
    rng = np.random.default_rng(8)
    avg = rng.poisson(np.repeat(lam[None], 4 * n_ev, 0)).reshape(n_ev, 4, *lam.shape).mean(1) / spectrum_measure()
    thin = ak.to_numpy(ak.num(spectra_to_events(avg, PT_EDGES, PHI_EDGES, rng, oversample=4).particles))
    assert abs(thin.var(ddof=1) / lam.sum() - 1) < 4 * math.sqrt(2 / (n_ev - 1))
    assert abs(thin.mean() - lam.sum()) < 4 * math.sqrt(lam.sum() / n_ev)
    y = ak.to_numpy(ak.flatten(0.5 * np.log((ev.particles.E + ev.particles.pz) / (ev.particles.E - ev.particles.pz))))
    assert np.abs(y).max() < 0.5 and abs(ak.to_numpy(ak.flatten(ev.particles.charge)).mean()) < 0.02


def test_cli_train_sample_observe_and_finetune(bw, capsys):
    """spectra-sample writes an event file `qcdgen hic observe` reads; its dNch/deta (|η| < 0.5) agrees with the
    blast wave's within 5 % (the species mix from R(pT) fixes the η/y Jacobian); --init fine-tunes."""
    from qcdgen.cli.main import main
    from qcdgen.hic.observables.summary import observe_file

    d, pd, _ = bw
    assert main(["hic", "spectra-sample", str(d / "S.pt"), "--profiles", str(d / "pairs.h5"), "--eta-s", "0.08",
                 "--steps", "8", "--out", str(d / "G.parquet")]) == 0
    obs = observe_file(d / "G.parquet", warn=False)
    truth = pd.n_charged.mean() / 1.0
    assert abs(obs["dNch/deta"].value / truth - 1) < 0.05
    assert main(["hic", "spectra-train", str(d / "pairs.h5"), "--init", str(d / "S.pt"), "--steps", "3",
                 "--batch", "8", "--out", str(d / "F.pt"), "--no-progress"]) == 0
    assert "fine-tuned" in capsys.readouterr().out


def test_cli_bad_input_exits_2(bw, capsys):
    """Profile grid differs; eta/s out of range (stops; goes on only with --extrapolate); model of another kind;
    empty profile file: one line each and exit code 2."""
    from qcdgen.cli.main import main
    from qcdgen.hic.conditional.pairs import build_pairs, save_pairs

    d, pd, _ = bw
    save_pairs(build_pairs([d / "E.parquet"], profile_cells=16), d / "p16.h5")
    torch.save({"kind": "profile-emulator"}, d / "other.pt")
    save_pairs(pd.subset(np.zeros(len(pd), bool)), d / "empty.h5")
    base = ["hic", "spectra-sample", str(d / "S.pt"), "--steps", "2", "--out", str(d / "X.parquet")]
    cases = {"profile grid 16x16": base + ["--profiles", str(d / "p16.h5"), "--eta-s", "0.08"],
             "outside the model's training range": base + ["--profiles", str(d / "pairs.h5"), "--eta-s", "0.3"],
             "is a profile-emulator model, not a spectra-diffusion model":
                 ["hic", "spectra-sample", str(d / "other.pt"), "--profiles", str(d / "pairs.h5"), "--eta-s",
                  "0.08", "--out", str(d / "X.parquet")],
             "holds no events": base + ["--profiles", str(d / "empty.h5"), "--eta-s", "0.08"]}
    for text, argv in cases.items():
        capsys.readouterr()
        assert main(argv) == 2, text
        err = capsys.readouterr().err.strip()
        assert text in err and len(err.splitlines()) == 1, err
    assert main(base + ["--profiles", str(d / "pairs.h5"), "--eta-s", "0.3", "--extrapolate"]) == 0
    assert "extrapolating" in capsys.readouterr().err
