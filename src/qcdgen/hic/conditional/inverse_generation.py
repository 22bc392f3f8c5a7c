"""Inverse generation: initial entropy profiles from the final state (issue 21, part 5).

Sun, Yan, Gale & Jeon (PRC 112 (2025) L051903) invert their end-to-end model with conditional
diffusion. Three routes, mapped onto qcdgen's paired data (:mod:`qcdgen.hic.conditional.pairs`):

- ``gen1``: profile ~ p(s(x, y) | smooth freeze-out spectrum ``pd.spectra``) (reverses the hydro stage);
- ``gen3``: profile ~ p(s | one event's hadron histogram), the counts of ``pd.cloud(i)`` with |η| < 0.5
  on the same (pT, φ) grid divided by ∫ dη pT dpT dφ of each bin;
- ``gen2``: a Gen2 diffusion model maps the one-event histogram to a smooth spectrum, then Gen1.

**Conditioning encoder.** A spectrum S(pT, φ) [16 × 32] enters the profile U-Net as a P × P polar
image on the profile's own (x, y) grid: C(x, y) = S(pT = r pT_max / W, φ = atan2(y, x)) (bilinear in
(pT, φ), periodic in φ, zero beyond r = W). The flow of the spectrum along φ then sits along the same
direction as the profile's geometry, and rotating the spectrum by Δφ rotates C by Δφ exactly (in the
continuum), so a convolutional net only has to learn a *local* map, equivariant under rotations it
sees by augmentation; a vector encoder (CNN → MLP) would have to learn the angle → orientation map
itself. Two channels: u − 1 with u = S / ⟨S⟩(pT) (multiplicity and ⟨pT⟩), and the relative
anisotropy (S / ⟨S⟩_φ − 1) / 0.1 (the vₙ modulation at O(1)). The conditioning vector holds η/s and
the rotation invariants ln N, ⟨pT⟩, v₂, v₃, v₄ of the input, a direct path for the εₙ magnitudes.
Every event is taken to the event-plane frame of its input (Ψ₂ → 0) before the network sees it, and the
generated profile is turned back by Ψ₂: Φ₂ then follows the spectrum's event plane by construction.

**Judging.** εₙ, Φₙ of generated vs true profiles (Teaney–Yan, :mod:`qcdgen.hic.initial.eccentricity`),
relative errors of εₙ{2} = √⟨εₙ²⟩ and ⟨εₙ⟩, event-by-event errors, the angle resolution
⟨cos n(Φ_gen − Φ_true)⟩ and the posterior spread over several samples per input.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.errors import InputError

__all__ = ["ROUTES", "KIND", "HARMONICS", "hadron_histograms", "polar_matrix", "SpectrumEncoder", "route_inputs",
           "train_inverse", "sample_inverse",
           "rotate_profiles", "rotate_spectra", "event_plane", "coarsen_profiles", "judge", "spectrum_flow", "blastwave_response"]

ROUTES = ("gen1", "gen3", "gen2")
KIND = "profile-diffusion"
HARMONICS = (2, 3, 4)
ANISO_SCALE = 0.1
PROFILE_FLOOR = 0.01
FORMAT = 2                  # model-file layout version


# -- final-state representations ------------------------------------------------------------------
def hadron_histograms(pd, eta_max: float = 0.5, indices=None) -> np.ndarray:
    """One-event charged-hadron histograms dN/(dη pT dpT dφ) (GeV⁻²) on the pairs' (pT, φ) grid:
    counts of ``pd.cloud(i)`` with |η| < ``eta_max`` over ∫ dη pT dpT dφ of each bin. [N, n_pt, n_phi]."""
    from qcdgen.hic.observables.spectrum2d import spectrum_measure

    pt_edges, phi_edges = np.asarray(pd.pt_edges, float), np.asarray(pd.phi_edges, float)
    measure = spectrum_measure(pt_edges, phi_edges, eta_max)
    idx = np.arange(len(pd)) if indices is None else np.asarray(indices, int)
    out = np.zeros((len(idx), *measure.shape), np.float32)
    for k, i in enumerate(idx):
        c = np.asarray(pd.cloud(int(i)), float)
        c = c[(np.abs(c[:, 2]) < eta_max) & (c[:, 3] != 0)] if c.size else c.reshape(0, 4)
        h, _, _ = np.histogram2d(c[:, 0], c[:, 1], bins=(pt_edges, phi_edges))
        out[k] = h / measure
    return out


def spectrum_flow(spectra, pt_edges, phi_edges, harmonics=HARMONICS):
    """(vₙ, Ψₙ) [N, len(harmonics)] of spectra dN/(pT dpT dφ) [N, n_pt, n_phi] over the whole pT range:
    vₙ e^{inΨₙ} = Σ_bins N_bin e^{inφ} / Σ_bins N_bin with N_bin = S · ½Δ(pT²) Δφ."""
    pt, ph = np.asarray(pt_edges, float), np.asarray(phi_edges, float)
    s = np.asarray(spectra, float) * (0.5 * np.diff(pt ** 2))[None, :, None] * np.diff(ph)[None, None]
    phi = 0.5 * (ph[1:] + ph[:-1])
    w = s.sum(axis=1)
    tot = w.sum(axis=1)
    v = np.stack([(w * np.exp(1j * n * phi)).sum(axis=1) / tot for n in harmonics], axis=1)
    return np.abs(v), np.angle(v) / np.asarray(harmonics)[None]


def polar_matrix(P: int, n_pt: int, n_phi: int) -> np.ndarray:
    """[P·P, n_pt·n_phi] bilinear map from a (pT, φ) image (φ on [−π, π), uniform bins) to its polar
    image on the profile's cell centres x_i = −1 + (i + ½)·2/P (units of the window W), with r = 1
    ↔ pT_max; cells beyond r = 1 are zero."""
    c = -1.0 + (np.arange(P) + 0.5) * 2.0 / P
    X, Y = np.meshgrid(c, c, indexing="ij")
    r, phi = np.hypot(X, Y).ravel(), np.arctan2(Y, X).ravel()
    a = np.clip(r * n_pt - 0.5, 0.0, n_pt - 1.0)             # fractional pT-bin coordinate
    b = (phi + math.pi) / (2 * math.pi) * n_phi - 0.5        # fractional φ-bin coordinate (periodic)
    a0, b0 = np.floor(a).astype(int), np.floor(b).astype(int)
    fa, fb = a - a0, b - b0
    M = np.zeros((P * P, n_pt * n_phi))
    rows = np.arange(P * P)
    inside = r <= 1.0
    for da, wa in ((0, 1 - fa), (1, fa)):
        ia = np.minimum(a0 + da, n_pt - 1)
        for db, wb in ((0, 1 - fb), (1, fb)):
            ib = (b0 + db) % n_phi
            np.add.at(M, (rows, ia * n_phi + ib), wa * wb * inside)
    return M


class SpectrumEncoder:
    """Spectra → standardized representations: ``u = S / ref(pT)`` (ref = training mean over events
    and φ), the two-channel polar conditioning image, and the Gen2 target (u − 1) / ``u_scale``."""

    def __init__(self, ref, u_scale: float = 1.0):
        self.ref = np.asarray(ref, np.float64)
        self.u_scale = float(u_scale)

    @classmethod
    def fit(cls, spectra) -> "SpectrumEncoder":
        s = np.asarray(spectra, np.float64)
        ref = s.mean(axis=(0, 2))
        if not np.all(np.isfinite(ref)) or np.any(ref <= 0):
            raise InputError("spectra have empty pT bins over the whole training set; cannot normalise")
        u = s / ref[None, :, None]
        return cls(ref, u_scale=float(np.std(u)) or 1.0)

    def to_dict(self) -> dict:
        return {"ref": self.ref.tolist(), "u_scale": self.u_scale}

    @classmethod
    def from_dict(cls, d) -> "SpectrumEncoder":
        return cls(d["ref"], d["u_scale"])

    def check(self, spectra) -> np.ndarray:
        s = np.asarray(spectra, np.float64)
        if s.ndim != 3 or s.shape[1] != self.ref.size:
            raise InputError(f"spectra must be [N, {self.ref.size}, n_phi], got shape {s.shape}")
        if not np.all(np.isfinite(s)):
            bad = np.flatnonzero(~np.isfinite(s).all(axis=(1, 2)))
            raise InputError(f"non-finite spectrum values in events {bad[:5].tolist()}")
        return s

    def u(self, spectra) -> np.ndarray:
        return self.check(spectra) / self.ref[None, :, None]

    def channels(self, spectra) -> np.ndarray:
        """[N, 2, n_pt, n_phi]: u − 1 and the relative anisotropy (S/⟨S⟩_φ − 1) / 0.1."""
        u = self.u(spectra)
        mean_phi = u.mean(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            aniso = np.where(mean_phi > 0, u / mean_phi - 1.0, 0.0) / ANISO_SCALE
        return np.stack([u - 1.0, np.clip(aniso, -10.0, 10.0)], axis=1).astype(np.float32)

    def polar_image(self, spectra, P: int) -> np.ndarray:
        """[N, 2, P, P] conditioning image on the profile grid (see the module docstring)."""
        ch = self.channels(spectra)
        N, C, n_pt, n_phi = ch.shape
        M = polar_matrix(P, n_pt, n_phi).astype(np.float32)
        return (ch.reshape(N * C, -1) @ M.T).reshape(N, C, P, P)

    def target(self, spectra) -> np.ndarray:
        """Gen2 diffusion variable [N, 1, n_pt, n_phi]."""
        return ((self.u(spectra) - 1.0) / self.u_scale)[:, None].astype(np.float32)

    def from_target(self, x) -> np.ndarray:
        return np.maximum(np.asarray(x, np.float64)[:, 0] * self.u_scale + 1.0, 0.0) * self.ref[None, :, None]


# -- rotations: the event-plane frame -------------------------------------------------------------
def rotate_spectra(spectra, angle) -> np.ndarray:
    """Rotate spectra [N, n_pt, n_phi] (uniform φ bins) by ``angle`` (scalar or [N]): S'(φ) = S(φ − angle),
    by a Fourier phase shift along φ (band-limited interpolation; a plain roll for whole bins)."""
    s = np.asarray(spectra, np.float64)
    n = s.shape[-1]
    c = np.fft.rfft(s, axis=-1)
    m = np.arange(c.shape[-1])
    ang = np.asarray(angle, np.float64).reshape(-1, *([1] * (s.ndim - 1)))
    ph = np.exp(-1j * m * ang)
    if n % 2 == 0:
        ph[..., -1] = np.cos(m[-1] * ang[..., 0])
    return np.fft.irfft(c * ph, n=n, axis=-1).astype(np.float32)


def event_plane(spectra, pt_edges, phi_edges) -> np.ndarray:
    """Ψ₂ ∈ (−π/2, π/2] of spectra or histograms [N, n_pt, n_phi] (pT-integrated, :func:`spectrum_flow`)."""
    return spectrum_flow(spectra, pt_edges, phi_edges, (2,))[1][:, 0]


def _rotate_torch(t, angles, mode="bicubic"):
    """Rotate images t [B, C, P, P] (axes x, y) counter-clockwise by ``angles`` [B]: t'(x) = t(R(−angle) x)."""
    import torch

    P = t.shape[-1]
    c = torch.linspace(-1 + 1 / P, 1 - 1 / P, P, dtype=t.dtype)
    X, Y = torch.meshgrid(c, c, indexing="ij")
    ca, sa = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]
    xs, ys = ca * X + sa * Y, -sa * X + ca * Y                # source point R(−angle) x
    # grid_sample: input [B, C, H=x, W=y]; grid[..., 0] indexes W (y), grid[..., 1] indexes H (x)
    grid = torch.stack([ys, xs], dim=-1).to(t.dtype)
    return torch.nn.functional.grid_sample(t, grid, mode=mode, padding_mode="zeros", align_corners=False)


def rotate_profiles(profiles, angle) -> np.ndarray:
    """Rotate profiles [N, P, P] (axes [event, x, y]) counter-clockwise by ``angle`` (scalar or [N]):
    s'(x) = s(R(−angle) x), bicubic (the εₙ of a rotated TRENTo profile change by < 1 %)."""
    import torch

    t = torch.as_tensor(np.asarray(profiles, np.float32))
    ang = torch.as_tensor(np.broadcast_to(np.asarray(angle, np.float32), (t.shape[0],)).copy())
    return _rotate_torch(t[:, None], ang)[:, 0].numpy()


# -- judging -----------------------------------------------------------------------------------------
def _grid(P: int, W: float):
    from qcdgen.hic.initial import Grid

    return Grid(n=int(P), max=float(W))


def judge(true_profiles, gen_profiles, window: float, harmonics=HARMONICS, n_boot: int = 200,
          rng=0) -> dict:
    """Compare generated profiles [N, K, P, P] (K samples per input) with the true ones [N, P, P].

    Per harmonic n (lists in ``harmonics`` order):
    ``rel_rms``  εₙ{2}_gen / εₙ{2}_true − 1 with εₙ{2} = √⟨εₙ²⟩ over events (and samples), bootstrap
    error over events in ``rel_rms_err``; ``rel_mean`` the same for ⟨εₙ⟩; ``ebe`` the event-by-event
    error ⟨|ε̄ₙ,gen − εₙ,true|⟩ / ⟨εₙ,true⟩ with ε̄ the posterior mean; ``corr`` Pearson r of ε̄ₙ,gen and
    εₙ,true; ``resolution`` ⟨cos n(Φₙ,gen − Φₙ,true)⟩ over all samples; ``spread`` the posterior
    spread ⟨std_K εₙ,gen⟩ / ⟨εₙ,true⟩. Profiles with no weight (NaN εₙ) are reported, never averaged in.
    """
    from qcdgen.hic.initial.eccentricity import eccentricities

    true = np.asarray(true_profiles, np.float64)
    gen = np.asarray(gen_profiles, np.float64)
    if gen.ndim == 3:
        gen = gen[:, None]
    if true.ndim != 3 or gen.ndim != 4 or gen.shape[0] != true.shape[0] or gen.shape[2:] != true.shape[1:]:
        raise InputError(f"judge: true profiles [N, P, P] and generated [N, K, P, P] must match, got "
                         f"{true.shape} and {gen.shape}")
    N, K, P, _ = gen.shape
    grid = _grid(P, window)
    eps_t, phi_t = eccentricities(true, grid, harmonics)
    eps_g, phi_g = eccentricities(np.maximum(gen.reshape(N * K, P, P), 0.0), grid, harmonics)
    eps_g, phi_g = eps_g.reshape(N, K, -1), phi_g.reshape(N, K, -1)
    bad = ~np.isfinite(eps_t).all(axis=1) | ~np.isfinite(eps_g).all(axis=(1, 2))
    if bad.all():
        raise InputError("judge: no event has finite eccentricities (empty generated or true profiles)")
    keep = ~bad
    eps_t, phi_t, eps_g, phi_g = eps_t[keep], phi_t[keep], eps_g[keep], phi_g[keep]
    h = np.asarray(harmonics)
    gbar = eps_g.mean(axis=1)
    r = np.random.default_rng(rng)
    boots = r.integers(0, eps_t.shape[0], size=(n_boot, eps_t.shape[0]))

    def rel_rms(ix):
        return np.sqrt((eps_g[ix] ** 2).mean(axis=(0, 1)) / (eps_t[ix] ** 2).mean(axis=0)) - 1.0

    def rel_mean(ix):
        return eps_g[ix].mean(axis=(0, 1)) / eps_t[ix].mean(axis=0) - 1.0

    all_ix = np.arange(eps_t.shape[0])
    rb = np.array([rel_rms(b) for b in boots])
    mb = np.array([rel_mean(b) for b in boots])
    cosd = np.cos(h[None, None] * (phi_g - phi_t[:, None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = [float(np.corrcoef(gbar[:, j], eps_t[:, j])[0, 1]) if len(gbar) > 2 else math.nan
                for j in range(len(h))]
    return {
        "harmonics": h.tolist(), "n_events": int(keep.sum()), "samples": int(K),
        "bad_events": np.flatnonzero(bad).tolist(),
        "eps_true_rms": np.sqrt((eps_t ** 2).mean(axis=0)).tolist(),
        "eps_gen_rms": np.sqrt((eps_g ** 2).mean(axis=(0, 1))).tolist(),
        "rel_rms": rel_rms(all_ix).tolist(), "rel_rms_err": rb.std(axis=0).tolist(),
        "rel_mean": rel_mean(all_ix).tolist(), "rel_mean_err": mb.std(axis=0).tolist(),
        "ebe": (np.abs(gbar - eps_t).mean(axis=0) / eps_t.mean(axis=0)).tolist(),
        "corr": corr,
        "resolution": cosd.mean(axis=(0, 1)).tolist(),
        "resolution_err": (cosd.mean(axis=1).std(axis=0) / math.sqrt(cosd.shape[0])).tolist(),
        "spread": (eps_g.std(axis=1).mean(axis=0) / eps_t.mean(axis=0)).tolist(),
        "eps_true": eps_t, "eps_gen": eps_g, "phi_true": phi_t, "phi_gen": phi_g,
    }


# -- closing the loop ----------------------------------------------------------------------------------
def blastwave_response(profiles, window: float, eta_s, settings=None) -> np.ndarray:
    """Forward map of the blast-wave generator: ρₙ = κ εₙ exp(−β n² (η/s) ħc / (T_ch R)) with
    R = √2 r_rms (:meth:`HydroInspiredGenerator.flow_parameters`) for profiles [N, P, P];
    returns ρₙ [N, len(settings.harmonics)] (the flow-velocity anisotropy that sets vₙ)."""
    from types import SimpleNamespace

    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator, HydroInspiredSettings
    from qcdgen.hic.initial.eccentricity import eccentricities, r_rms

    prof = np.maximum(np.asarray(profiles, np.float64), 0.0)
    grid = _grid(prof.shape[-1], window)
    eta = np.broadcast_to(np.asarray(eta_s, float), (prof.shape[0],))
    base = settings or HydroInspiredSettings()
    out = np.empty((prof.shape[0], len(base.harmonics)))
    for val in np.unique(eta):
        sel = eta == val
        gen = HydroInspiredGenerator(base, eta_s=float(val))
        eps, psi = eccentricities(prof[sel], grid, base.harmonics)
        out[sel] = gen.flow_parameters(SimpleNamespace(r_rms=r_rms(prof[sel], grid), eps=eps, psi=psi))[2]
    return out


# -- the conditional diffusion models -------------------------------------------------------------------
def route_inputs(pd, route: str) -> np.ndarray:
    """The final-state input of a route: the smooth spectra (gen1) or one-event histograms (gen3, gen2)."""
    if route not in ROUTES:
        raise InputError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    return np.asarray(pd.spectra, np.float32) if route == "gen1" else hadron_histograms(pd)


def coarsen_profiles(profiles, cells: int) -> np.ndarray:
    """Block means of profiles [N, P, P] down to ``cells`` per side (same window; P/cells an integer)."""
    prof = np.asarray(profiles)
    P = prof.shape[-1]
    if int(cells) < 4 or P % int(cells):
        raise InputError(f"--profile-cells must divide the data's {P} cells and be >= 4, got {cells}")
    f = P // int(cells)
    return prof.reshape(len(prof), int(cells), f, int(cells), f).mean(axis=(2, 4))


def profile_to_x(s, q: float) -> np.ndarray:
    """Diffusion variable of a profile: x = 1 + 2 ln(s/q + δ) / ln(1/δ), δ = PROFILE_FLOOR (s = 0 → −1,
    s = q → ≈ 1): logarithmic, so that the sampler's residual noise in the empty outskirts (weighted by
    rⁿ in εₙ) is suppressed by δ."""
    L = -math.log(PROFILE_FLOOR)
    return 1.0 + 2.0 * np.log(np.maximum(np.asarray(s, np.float64), 0.0) / q + PROFILE_FLOOR) / L


def x_to_profile(x, q: float) -> np.ndarray:
    """Inverse of :func:`profile_to_x`, clipped to 0 ≤ s ≤ 4 q."""
    L = -math.log(PROFILE_FLOOR)
    x = np.minimum(np.asarray(x, np.float64), 1.0 + 2.0 * math.log(4.0 + PROFILE_FLOOR) / L)
    return np.maximum(q * (np.exp((x - 1.0) * L / 2.0) - PROFILE_FLOOR), 0.0)


def spectrum_scalars(spectra, pt_edges, phi_edges) -> np.ndarray:
    """Rotation-invariant summaries [N, 5] of spectra: ln Σ N_bin, ⟨pT⟩, v₂, v₃, v₄ (pT-integrated)."""
    pt, ph = np.asarray(pt_edges, float), np.asarray(phi_edges, float)
    n = np.asarray(spectra, np.float64) * (0.5 * np.diff(pt ** 2))[None, :, None] * np.diff(ph)[None, None]
    tot = n.sum(axis=(1, 2))
    if np.any(tot <= 0):
        raise InputError(f"empty spectra (no particles) in events {np.flatnonzero(tot <= 0)[:5].tolist()}")
    mean_pt = (n.sum(axis=2) * 0.5 * (pt[1:] + pt[:-1])[None]).sum(axis=1) / tot
    v = spectrum_flow(spectra, pt, ph, (2, 3, 4))[0]
    return np.column_stack([np.log(tot), mean_pt, v])


def _cond_vector(eta, scalars, stats) -> np.ndarray:
    """[N, 6]: standardised η/s and :func:`spectrum_scalars` (``stats``: means and standard deviations)."""
    m, sd = np.asarray(stats[0]), np.asarray(stats[1])
    eta = np.nan_to_num(np.asarray(eta, np.float64), nan=m[0])
    return ((np.column_stack([eta, scalars]) - m) / sd).astype(np.float32)


def _fit_stats(eta, scalars):
    eta = np.asarray(eta, np.float64)
    eta = np.where(np.isfinite(eta), eta, np.nanmean(eta) if np.isfinite(eta).any() else 0.0)
    z = np.column_stack([eta, scalars])
    return z.mean(axis=0).tolist(), np.maximum(z.std(axis=0), 1e-3).tolist()


def _augment(x, c, flip, half, spectra: bool):
    """The exact symmetries of the event-plane frame, applied to x and c [B, C, H, W] together: y → −y
    (φ → −φ; W is φ for spectra, y for profiles and polar images) where ``flip``, then rotation by π
    (a roll by n_φ/2, or rot90²) where ``half``."""
    import torch

    f = torch.as_tensor(flip)[:, None, None, None]
    h = torch.as_tensor(half)[:, None, None, None]
    out = []
    for t in (x, c):
        t = torch.where(f, t.flip(-1), t)
        rotated = torch.roll(t, t.shape[-1] // 2, dims=-1) if spectra else torch.rot90(t, 2, dims=(-2, -1))
        out.append(torch.where(h, rotated, t))
    return out


def _train_net(config, x0, cond, eta, *, spectra, steps, batch, lr, seed, progress=None, what="model"):
    """Denoising score matching (:func:`qcdgen.diffusion.conditional.conditional_dsm_loss`) in the event-plane
    frame, augmented by its exact symmetries (φ → −φ, rotation by π) applied to x0 and cond together."""
    import torch

    from qcdgen.diffusion.conditional import conditional_dsm_loss
    from qcdgen.diffusion.sde import VPSDE
    from qcdgen.nn.unet import ConditionalUNet
    from qcdgen.train.ema import EMA

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net, sde = ConditionalUNet(**config), VPSDE()
    ema = EMA(net, decay=0.995 if steps < 4000 else 0.999)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    N = len(x0)
    X, C, E = torch.as_tensor(x0), torch.as_tensor(cond), torch.as_tensor(eta)
    losses = []
    for step in range(steps):
        idx = rng.integers(0, N, size=min(batch, N))
        x, c = _augment(X[idx], C[idx], rng.random(len(idx)) < 0.5, rng.random(len(idx)) < 0.5, spectra)
        loss = conditional_dsm_loss(net, sde, x, gen, cond_image=c, cond_vector=E[idx])
        if not torch.isfinite(loss):
            raise InputError(f"{what} training diverged: loss {loss.item()} at step {step}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        ema.update(net)
        losses.append(loss.item())
        if progress is not None:
            progress(what, step + 1, steps, float(np.mean(losses[-50:])))
    ema.copy_to(net)
    return {"config": config, "state": {k: v.clone() for k, v in net.state_dict().items()},
            "sde": sde.to_dict(), "final_loss": float(np.mean(losses[-100:]))}


def _sample_net(part, cond_image, cond_vector, shape, *, steps, method, seed, device, chunk=256):
    import torch

    from qcdgen.diffusion.conditional import conditional_sample
    from qcdgen.diffusion.sde import sde_from_dict
    from qcdgen.nn.unet import ConditionalUNet

    net = ConditionalUNet(**part["config"])
    net.load_state_dict(part["state"])
    net.to(device).eval()
    sde = sde_from_dict(part["sde"])
    gen = torch.Generator(device=device).manual_seed(int(seed))
    out = []
    for s in range(0, shape[0], chunk):
        ci = torch.as_tensor(cond_image[s:s + chunk]).to(device)
        cv = torch.as_tensor(cond_vector[s:s + chunk]).to(device)
        with torch.no_grad():
            x = conditional_sample(net, sde, (len(ci), *shape[1:]), steps, gen, cond_image=ci, cond_vector=cv,
                                   method=method, device=device)
        out.append(x.detach().cpu().numpy())
    x = np.concatenate(out)
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))
        raise InputError(f"sampling produced non-finite values for inputs {bad[:5].tolist()}")
    return x


def train_inverse(pd, route: str, *, steps: int = 2000, batch: int = 32, base: int = 32, depth: int = 2,
                  lr: float = 2e-3, seed: int = 0, cells: int | None = None, progress=None) -> dict:
    """Train one route on paired data ``pd``; returns the model dict (``kind`` "profile-diffusion").

    Every event is turned to the event-plane frame of its input (Ψ₂ of :func:`event_plane` → 0): the
    spectrum by a Fourier shift, the profile by a bicubic rotation. Profiles enter as x = :func:`profile_to_x` (s, q) with
    q the 99.9 % quantile of the training pixels; the conditioning vector is η/s and the
    rotation invariants of the input (:func:`spectrum_scalars`), standardised.
    ``cells``: train on profiles block-averaged to cells × cells (default: the data's own grid)."""
    inputs = route_inputs(pd, route)
    prof = np.asarray(pd.profiles, np.float64)
    data_cells = prof.shape[-1]
    if cells is not None and int(cells) != data_cells:
        prof = coarsen_profiles(prof, cells)
    P, n_phi = prof.shape[-1], inputs.shape[2]
    if P % 4 or n_phi % 4:
        raise InputError(f"profile cells ({P}) and phi bins ({n_phi}) must be multiples of 4")
    if len(pd) < 2:
        raise InputError(f"need at least 2 training events, got {len(pd)}")
    q = float(np.quantile(prof, 0.999))
    if not q > 0:
        raise InputError("the training profiles are all zero")
    eta = np.asarray(pd.conditions["eta_s"], np.float64)
    fin = eta[np.isfinite(eta)]
    cfg = {"in_channels": 1, "cond_channels": 2, "cond_dim": 6, "base": base, "depth": depth}
    edges = (np.asarray(pd.pt_edges, float), np.asarray(pd.phi_edges, float))
    out = {"kind": KIND, "format": FORMAT, "route": route, "profile_cells": P, "data_cells": data_cells, "profile_window": float(pd.profile_window),
           "pt_edges": edges[0].tolist(), "phi_edges": edges[1].tolist(), "data_model": pd.model,
           "profile_scale": q, "n_train": len(pd), "steps": steps,
           "eta_range": [float(fin.min()), float(fin.max())] if fin.size else [math.nan, math.nan]}
    smooth = np.asarray(pd.spectra, np.float64)
    if route == "gen2":                         # Gen2: histogram -> smooth spectrum, then Gen1 on smooth spectra
        psi = event_plane(inputs, *edges)
        enc, enc_s = SpectrumEncoder.fit(inputs), SpectrumEncoder.fit(smooth)
        scal = spectrum_scalars(inputs, *edges)
        out["gen2_stats"] = _fit_stats(eta, scal)
        out["gen2"] = _train_net(dict(cfg, periodic_w=True), enc_s.target(rotate_spectra(smooth, -psi)),
                                 enc.channels(rotate_spectra(inputs, -psi)), _cond_vector(eta, scal, out["gen2_stats"]),
                                 spectra=True, steps=steps,
                                 batch=batch, lr=lr, seed=seed + 1, progress=progress, what="Gen2")
        out["gen2_encoder"], out["smooth_encoder"] = enc.to_dict(), enc_s.to_dict()
        inputs = smooth
    psi = event_plane(inputs, *edges)
    enc = SpectrumEncoder.fit(inputs)
    scal = spectrum_scalars(inputs, *edges)
    out["stats"] = _fit_stats(eta, scal)
    ev = _cond_vector(eta, scal, out["stats"])
    x0 = profile_to_x(rotate_profiles(prof, -psi), q)[:, None].astype(np.float32)
    out["encoder"] = enc.to_dict()
    out["gen1"] = _train_net(cfg, x0, enc.polar_image(rotate_spectra(inputs, -psi), P), ev, spectra=False,
                             steps=steps, batch=batch, lr=lr, seed=seed, progress=progress, what="profile")
    return out


def sample_inverse(model: dict, inputs, eta_s, *, samples: int = 4, steps: int = 40, method: str = "ode",
                   seed: int = 0, device: str = "cpu") -> np.ndarray:
    """Generated profiles [N, K, P, P] (fm⁻², ≥ 0) for final-state inputs [N, n_pt, n_phi] of the model's
    route (smooth spectra for gen1, one-event histograms for gen3 and gen2) and η/s [N]: sampled in the
    event-plane frame of the input, then rotated back by its Ψ₂."""
    inputs = np.asarray(inputs, np.float32)
    K, P = int(samples), int(model["profile_cells"])
    if K < 1:
        raise InputError(f"samples must be >= 1, got {samples}")
    N = len(inputs)
    edges = (np.asarray(model["pt_edges"]), np.asarray(model["phi_edges"]))
    eta = np.broadcast_to(np.asarray(eta_s, np.float64), (N,))
    eta = np.repeat(eta, K)
    rep = np.repeat(inputs, K, axis=0)                                 # [N·K, n_pt, n_phi]
    if model["route"] == "gen2":
        enc2, enc_s = SpectrumEncoder.from_dict(model["gen2_encoder"]), SpectrumEncoder.from_dict(model["smooth_encoder"])
        psi = event_plane(rep, *edges)
        ev = _cond_vector(eta, spectrum_scalars(rep, *edges), model["gen2_stats"])
        x = _sample_net(model["gen2"], enc2.channels(rotate_spectra(rep, -psi)), ev, (len(rep), 1, *rep.shape[1:]),
                        steps=steps, method=method, seed=seed + 1, device=device)
        rep = rotate_spectra(enc_s.from_target(x), psi)
    psi = event_plane(rep, *edges)
    enc = SpectrumEncoder.from_dict(model["encoder"])
    ev = _cond_vector(eta, spectrum_scalars(rep, *edges), model["stats"])
    x = _sample_net(model["gen1"], enc.polar_image(rotate_spectra(rep, -psi), P), ev, (len(rep), 1, P, P),
                    steps=steps, method=method, seed=seed, device=device)
    prof = rotate_profiles(x_to_profile(x[:, 0], model["profile_scale"]), psi)
    return np.maximum(prof, 0.0).reshape(N, K, P, P).astype(np.float32)
