"""Inverse generation of initial profiles from the final state (issue 21 part 5).

Exact checks of the judging code (elliptic Gaussians: ε₂, ε₄, Φₙ, r_rms in closed form), of the
representations (histogram integral, Fourier rotation, flow vector of a cos-modulated spectrum), the
rotation equivariance of a trained model, the conditioning being real (generated ε₂ follows the truth,
a shuffled-conditioning control does not) and bad input (one line, exit 2). Small blast-wave pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.hic.conditional import inverse_generation as ig
from qcdgen.hic.initial import Grid

HBARC = 0.1973269804


def _gaussian(P, W, a, b, angle, x0=0.0, y0=0.0):
    """Elliptic Gaussian with variances a (along the rotated x axis) and b, rotated by ``angle``."""
    X, Y = Grid(n=P, max=W).xy()
    xr = (X - x0) * math.cos(angle) + (Y - y0) * math.sin(angle)
    yr = -(X - x0) * math.sin(angle) + (Y - y0) * math.cos(angle)
    return np.exp(-xr ** 2 / (2 * a) - yr ** 2 / (2 * b))


def _eps_exact(a, b):
    """ε₂ = |b − a|/(a + b), ε₄ = 3(a − b)²/(3a² + 2ab + 3b²) for a Gaussian (⟨z⁴⟩ = 3(a − b)²)."""
    return abs(b - a) / (a + b), 3 * (a - b) ** 2 / (3 * a * a + 2 * a * b + 3 * b * b)


# -- judging: exact -----------------------------------------------------------------------------------
def test_judge_elliptic_gaussian_exact():
    P, W = 64, 16.0
    a, b, alpha = 1.5 ** 2, 2.5 ** 2, 0.3
    true = _gaussian(P, W, a, b, alpha, 0.4, -0.7)[None]
    e2, e4 = _eps_exact(a, b)
    j = ig.judge(true, true[:, None], W, harmonics=(2, 4))
    assert j["eps_true_rms"] == pytest.approx([e2, e4], rel=1e-6)
    # Φ₂ along the short (x') axis: α; Φ₄ = (4α + π)/4 wrapped (the minus sign of the convention)
    assert j["phi_true"][0, 0] == pytest.approx(alpha, abs=1e-6)
    assert j["phi_true"][0, 1] == pytest.approx((4 * alpha + math.pi) / 4 - math.pi / 2, abs=1e-6)
    # a generated ellipse with other widths, turned by δ: relative error and ⟨cos n δ⟩ in closed form
    a2, b2, delta = 1.7 ** 2, 2.4 ** 2, 0.2
    gen = np.stack([_gaussian(P, W, a2, b2, alpha + delta), _gaussian(P, W, a2, b2, alpha - delta)])[None]
    j = ig.judge(true, gen, W, harmonics=(2, 4))
    g2, g4 = _eps_exact(a2, b2)
    assert j["rel_rms"] == pytest.approx([g2 / e2 - 1, g4 / e4 - 1], rel=1e-5)
    assert j["rel_mean"] == pytest.approx([g2 / e2 - 1, g4 / e4 - 1], rel=1e-5)
    assert j["resolution"] == pytest.approx([math.cos(2 * delta), math.cos(4 * delta)], rel=1e-6)
    assert j["spread"] == pytest.approx([0.0, 0.0], abs=1e-6)


def test_judge_rejects_mismatch_and_reports_empty():
    P, W = 16, 10.0
    true = np.stack([_gaussian(P, W, 2.0, 4.0, 0.1), np.zeros((P, P))])
    j = ig.judge(true, true[:, None], W)
    assert j["bad_events"] == [1] and j["n_events"] == 1
    with pytest.raises(InputError):
        ig.judge(true, np.zeros((2, 1, 8, 8)), W)


def test_blastwave_response_of_gaussian():
    """ρ₂ = κ ε₂ exp(−4β (η/s) ħc / (T_ch R)), R = √2 r_rms, r_rms² = a + b (Gaussian, exact)."""
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredSettings

    s = HydroInspiredSettings()
    a, b = 1.8 ** 2, 2.6 ** 2
    prof = _gaussian(64, 16.0, a, b, 0.7)[None]
    rho = ig.blastwave_response(prof, 16.0, 0.16, s)
    R = math.sqrt(2 * (a + b))
    e2, e4 = _eps_exact(a, b)
    expect2 = s.flow_kappa * e2 * math.exp(-s.viscous_beta * 4 * 0.16 * HBARC / (s.T_ch * R))
    expect4 = s.flow_kappa * e4 * math.exp(-s.viscous_beta * 16 * 0.16 * HBARC / (s.T_ch * R))
    assert rho[0, 0] == pytest.approx(expect2, rel=1e-5)
    assert rho[0, 2] == pytest.approx(expect4, rel=1e-5)


# -- representations: exact ----------------------------------------------------------------------------
def test_spectrum_flow_and_fourier_rotation():
    pt = np.linspace(0, 2, 17)
    phi = np.linspace(-math.pi, math.pi, 33)
    pc = 0.5 * (phi[1:] + phi[:-1])
    v2, psi2, v3, psi3 = 0.08, 0.4, 0.03, -0.6
    mod = 1 + 2 * v2 * np.cos(2 * (pc - psi2)) + 2 * v3 * np.cos(3 * (pc - psi3))
    S = (np.exp(-3 * np.linspace(0.06, 1.94, 16))[:, None] * mod[None])[None]
    v, ps = ig.spectrum_flow(S, pt, phi, (2, 3))
    assert v[0] == pytest.approx([v2, v3], rel=1e-9)
    assert ps[0] == pytest.approx([psi2, psi3], abs=1e-9)
    assert np.allclose(ig.rotate_spectra(S, 3 * 2 * math.pi / 32), np.roll(S, 3, axis=-1), atol=1e-6)
    # a rotation by any angle moves the event planes by that angle (band-limited shift is exact here)
    assert ig.event_plane(ig.rotate_spectra(S, 0.25), pt, phi)[0] == pytest.approx(psi2 + 0.25, abs=1e-6)


def test_polar_image_rotates_with_the_spectrum():
    """C(x, y) = S(pT(r), φ): rolling S by k bins rotates C by 2πk/n_φ (away from the origin)."""
    phi = np.linspace(-math.pi, math.pi, 33)
    pc = 0.5 * (phi[1:] + phi[:-1])
    S = np.exp(-np.linspace(0, 2, 16))[:, None] * (1 + 0.3 * np.cos(2 * (pc - 0.3)))[None]
    spectra = np.stack([S, np.roll(S, 5, axis=-1)])
    enc = ig.SpectrumEncoder.fit(spectra)
    img = enc.polar_image(spectra, 32)
    turned = ig.rotate_profiles(img[:1, 1], 5 * 2 * math.pi / 32)[0]
    X, Y = Grid(n=32, max=1.0).xy()
    ring = (np.hypot(X, Y) > 0.25) & (np.hypot(X, Y) < 0.9)
    assert np.abs(turned - img[1, 1])[ring].max() < 0.06 * np.abs(img[1, 1]).max()


def test_hadron_histogram_integral():
    class Fake:
        pt_edges = np.linspace(0, 2, 17)
        phi_edges = np.linspace(-math.pi, math.pi, 33)

        def __len__(self):
            return 1

        def cloud(self, i):
            rng = np.random.default_rng(3)
            n = 500
            return np.stack([rng.uniform(0, 2.5, n), rng.uniform(-math.pi, math.pi, n), rng.uniform(-0.8, 0.8, n),
                             rng.choice([-1.0, 1.0], n)], axis=1).astype(np.float32)

    from qcdgen.hic.observables.spectrum2d import spectrum_measure

    h = ig.hadron_histograms(Fake())
    c = Fake().cloud(0)
    inside = (np.abs(c[:, 2]) < 0.5) & (c[:, 0] < 2.0)
    assert (h[0] * spectrum_measure(Fake.pt_edges, Fake.phi_edges, 0.5)).sum() == pytest.approx(inside.sum())


# -- a trained model on blast-wave pairs ------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from qcdgen.hic.conditional.pairs import build_pairs
    from qcdgen.hic.generation import generate_to_file

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("inv")
    generate_to_file(d / "E.parquet", model="blastwave", n_events=140, seed=5, chunk_events=140, progress=False,
                     centrality=(0, 50), oversample=2)
    pd = build_pairs([d / "E.parquet"], profile_cells=CELLS)
    train, test = pd.subset(np.arange(100)), pd.subset(np.arange(100, 140))
    model = ig.train_inverse(train, "gen1", steps=TRAIN_STEPS, batch=32, base=8, lr=3e-3, seed=0)
    return d, pd, train, test, model


TRAIN_STEPS, CELLS = 500, 8          # tiny: 8 x 8 profiles (2.5 fm cells), a base-8 U-Net


def test_generated_planes_rotate_with_the_input(trained):
    """Rotate the input spectra by Δφ: the generated Φ₂ turn by Δφ (per sample, up to the bicubic rotation
    out of the event-plane frame and a different draw where Ψ₂ + Δφ wraps past π/2)."""
    from qcdgen.hic.initial.eccentricity import eccentricities

    _, _, _, test, model = trained
    k, n = 3, 20                                             # Δφ = 3 bins = 33.75°
    eta = test.conditions["eta_s"][:n]
    g0 = ig.sample_inverse(model, test.spectra[:n], eta, samples=1, steps=12, seed=4)
    g1 = ig.sample_inverse(model, np.roll(test.spectra[:n], k, axis=-1), eta, samples=1, steps=12, seed=4)
    grid = Grid(n=CELLS, max=test.profile_window)
    e0, f0 = eccentricities(g0[:, 0], grid, (2,))
    _, f1 = eccentricities(g1[:, 0], grid, (2,))
    dphi = k * 2 * math.pi / 32
    cos = np.cos(2 * (f1[:, 0] - f0[:, 0] - dphi))
    assert np.median(cos) > 0.99 and cos.mean() > 0.8
    # the same rotation of the truth scores the same: Φ₂(generated) − Φ₂(true) is unchanged on average
    _, ft = eccentricities(test.profiles[:n], grid, (2,))
    r0 = np.mean(np.cos(2 * (f0[:, 0] - ft[:, 0])))
    r1 = np.mean(np.cos(2 * (f1[:, 0] - dphi - ft[:, 0])))
    assert abs(r1 - r0) < 0.15 and r0 > 0.5


def test_conditioning_is_real(trained):
    """Generated ε₂ follow the true ε₂ event by event and Φ₂ the true Φ₂; with the inputs shuffled across
    events (a model that ignored them would score the same) both are lost."""
    _, _, _, test, model = trained
    eta = test.conditions["eta_s"]
    gen = ig.sample_inverse(model, test.spectra, eta, samples=2, steps=12, seed=1)
    shuffled = np.random.default_rng(1).permutation(len(test))
    ctrl = ig.sample_inverse(model, test.spectra[shuffled], eta, samples=2, steps=12, seed=1)
    j, jc = ig.judge(test.profiles, gen, test.profile_window), ig.judge(test.profiles, ctrl, test.profile_window)
    assert j["resolution"][0] > 0.55 and jc["resolution"][0] < 0.3
    assert j["corr"][0] > 0.45 and j["corr"][0] > jc["corr"][0] + 0.3
    assert abs(j["rel_rms"][0]) < 0.25                       # a 500-step model: ε₂{2} within 25 %


# -- the CLI: bad input is one line and exit code 2 ------------------------------------------------------
def _cli(argv):
    from qcdgen.cli import hic_inverse_gen
    from qcdgen.cli.main import OneLineParser, run_guarded

    p = OneLineParser(prog="qcdgen")
    hic_inverse_gen.register(p.add_subparsers(parser_class=OneLineParser))
    args = p.parse_args(argv)
    return run_guarded(lambda: args.run(args))


def test_cli_sample_and_bad_input(trained, capsys):
    from qcdgen.cli.hic_inverse_gen import save_model
    from qcdgen.hic.conditional.pairs import build_pairs, save_pairs

    d, pd, _, test, model = trained
    save_model(model, d / "P.pt")
    save_pairs(test.subset(np.arange(6)), d / "test.h5")
    assert _cli(["profiles-sample", str(d / "P.pt"), str(d / "test.h5"), "--out", str(d / "G.h5"),
                 "--samples", "2", "--steps", "4", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "gen1" in out and "<cos n dPhi>" in out
    import h5py

    with h5py.File(d / "G.h5") as f:
        assert f["profiles"].shape == (12, CELLS, CELLS) and float(f.attrs["profile_window"]) == test.profile_window

    save_pairs(build_pairs([d / "E.parquet"], profile_cells=16).subset(np.arange(4)), d / "other_grid.h5")
    torch.save({"kind": "spectra-diffusion"}, d / "other.pt")
    (d / "empty.h5").write_bytes(b"")
    (d / "empty.pt").write_bytes(b"")
    hot = test.subset(np.arange(4))
    hot.conditions["eta_s"] = np.full(4, 0.3)
    save_pairs(hot, d / "hot.h5")
    cases = [([str(d / "P.pt"), str(d / "other_grid.h5")], "trained on 8x8"),
             ([str(d / "other.pt"), str(d / "test.h5")], "not a profile-diffusion model"),
             ([str(d / "P.pt"), str(d / "empty.h5")], "not an HDF5 file"),
             ([str(d / "empty.pt"), str(d / "test.h5")], "not a qcdgen model file"),
             ([str(d / "P.pt"), str(d / "hot.h5")], "--extrapolate")]
    for files, message in cases:
        assert _cli(["profiles-sample", *files, "--out", str(d / "X.h5"), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert _cli(["profiles-train", str(d / "empty.h5"), "--route", "gen1", "--out", str(d / "Y.pt")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (d / "X.h5").exists() and not (d / "Y.pt").exists()
