"""p(spectrum | initial profile, η/s): conditional diffusion of charged-hadron spectra images.

After Sun, Yan, Gale & Jeon, PRC 112 (2025) L051903: the final state of an event is the image
S = dN/(dy pT dpT dφ) on 16 pT × 32 φ bins (|y| < 0.5); a U-Net trained by denoising score matching
generates it from the event's initial entropy profile and η/s, and generated images are Poisson-sampled
into particles.

Representation (all fitted on the training set and stored in the model file):

- image: x = log(δ + S/S̄(pT)) with S̄ the mean spectrum per pT row and δ = 0.1 (zeros of sparse histograms
  stay finite); then a per-pixel linear baseline x ≈ μ(c) = W·f(c) is subtracted and the rest divided by its
  per-pixel rms: y₀ = (x − μ(c))/σ. f(c) = (1, standardised η/s, log ∫s, r_rms, ε₂cos2Φ₂, ε₂sin2Φ₂,
  ε₃cos3Φ₃, ε₃sin3Φ₃, ε₂, ε₃): to leading order hydro responds linearly, log S ∋ 2 vₙ cos n(φ − Ψₙ) with
  vₙ ∝ εₙ (Teaney & Yan, PRC 83 (2011) 064904), so the baseline carries multiplicity, ⟨pT⟩ and linear flow;
  the U-Net learns the remaining (non-linear, non-Gaussian) part of p(y₀ | c), starting from N(0, I)
  (:class:`qcdgen.diffusion.conditional.GaussianResidualNet`).
- conditioning image [4, 16, 32]: the profile resampled on a polar grid about its centre of mass
  (one radius per pT row, uniform in (0, W)), the spectrum's 32 φ centres; log(1 + s/s̄), standardised), the pT coordinate, and
  εₙ cos n(φ − Φₙ) for n = 2, 3. On the polar grid a rotation of the profile is a cyclic shift along φ, the
  same shift the spectrum undergoes, and the U-Net pads φ periodically, so it is rotation-covariant by
  construction (a Cartesian profile next to a (pT, φ) image would not be).
- conditioning vector: f(c) without the constant.

Sampling: probability-flow ODE (Heun, default) or reverse SDE. Particles: N_ab ~ Poisson(λ_ab), λ = S ∫dy pT dpT dφ,
for a smooth image. A model trained on spectra averaged over K particlizations (``oversample``) generates such
averages, whose own noise is Poisson(Kλ)/K; a second Poisson draw would double the event's statistical
fluctuations (v₂{2}² gains 1/(K N)). So the model's images are instead thinned: N_ab ~ Binomial(⌊Kλ_ab⌉, 1/K)
(stochastic rounding), which is exactly Poisson(λ) when Kλ is a sum of K Poisson(λ) histograms, i.e. one
particlization. pT² and φ are uniform within the bin (the image is a density per pT dpT dφ), y uniform in |y| < 0.5 (boost
invariance), charge ±1 with equal probability. The species (hence the mass, hence η) is π, K or p: a particle
at (pT, m) has |η| < 0.5 for |y| < y*, sinh y* = pT sinh(0.5)/mT, so the training data's ratio
R(pT) = (dN/dη at |η| < 0.5)/(dN/dy) fixes the pion fraction f_π(pT) per pT bin through
R = f_π 2y*_π + (1 − f_π)(⅔ 2y*_K + ⅓ 2y*_p) (K : p = 2 : 1 assumed); dNch/dη is then that of the data.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from qcdgen.errors import InputError

__all__ = ["KIND", "SpectraDiffusion", "train_spectra_diffusion", "sample_spectra", "spectra_to_events",
           "generate_events", "load_spectra_model", "profile_features", "PION_MASS"]

KIND = "spectra-diffusion"
DELTA = 0.1
PION_MASS = 0.13957
_SPECIES = ((211, PION_MASS), (321, 0.493677), (2212, 0.938272))
_FEATURES = ("eta_s", "log_s", "r_rms", "e2c", "e2s", "e3c", "e3s", "e2", "e3")


def profile_features(profiles: np.ndarray, window: float, eta_s: np.ndarray, phi_centres: np.ndarray,
                     n_r: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(polar [N, n_r, n_φ], patterns [N, 2, n_φ], raw features [N, 9]) of profiles [N, P, P] (axes x, y)."""
    from qcdgen.hic.initial import Grid
    from qcdgen.hic.initial.eccentricity import eccentricities, r_rms

    prof = np.asarray(profiles, np.float64)
    grid = Grid(n=prof.shape[-1], max=float(window))
    eps, psi = eccentricities(prof, grid, (2, 3))
    rr = r_rms(prof, grid)
    tot = prof.sum(axis=(1, 2))
    if not (np.all(tot > 0) and np.isfinite(eps).all() and np.isfinite(rr).all()):
        bad = int(np.argmin((tot > 0) & np.isfinite(eps).all(1) & np.isfinite(rr)))
        raise InputError(f"profile {bad} is empty or not finite: no conditioning can be built from it")
    c = grid.centers
    xc, yc = np.einsum("eij,i->e", prof, c) / tot, np.einsum("eij,j->e", prof, c) / tot
    r = (np.arange(n_r) + 0.5) * window / n_r
    px = xc[:, None, None] + r[None, :, None] * np.cos(phi_centres)[None, None, :]
    py = yc[:, None, None] + r[None, :, None] * np.sin(phi_centres)[None, None, :]
    # grid_sample on [N, 1, P(x), P(y)]: the last grid coordinate indexes H (x), the first W (y);
    # align_corners=False puts −1 and 1 at the outer cell edges ±W, as the profile's cell centres assume
    coords = torch.from_numpy(np.stack([py, px], axis=-1) / window).float()
    polar = torch.nn.functional.grid_sample(torch.from_numpy(prof).float()[:, None], coords, mode="bilinear",
                                            padding_mode="zeros", align_corners=False)[:, 0].numpy()
    patterns = np.stack([eps[:, k, None] * np.cos(n * (phi_centres[None] - psi[:, k, None]))
                         for k, n in enumerate((2, 3))], axis=1)
    feats = np.stack([np.asarray(eta_s, float), np.log(tot * grid.cell_area), rr,
                      eps[:, 0] * np.cos(2 * psi[:, 0]), eps[:, 0] * np.sin(2 * psi[:, 0]),
                      eps[:, 1] * np.cos(3 * psi[:, 1]), eps[:, 1] * np.sin(3 * psi[:, 1]), eps[:, 0], eps[:, 1]], 1)
    return polar, patterns, feats


@dataclass
class SpectraDiffusion:
    """The trained model: the residual U-Net (EMA weights), its SDE and the fitted representation ``prep``."""

    net: torch.nn.Module          # GaussianResidualNet(ConditionalUNet)
    sde: object
    prep: dict
    info: dict = field(default_factory=dict)

    # -- representation -------------------------------------------------------------------------------
    def conditioning(self, profiles, eta_s):
        p = self.prep
        n_pt, n_phi = len(p["pt_edges"]) - 1, len(p["phi_edges"]) - 1
        polar, patterns, feats = profile_features(profiles, p["profile_window"], eta_s, _centres(p["phi_edges"]), n_pt)
        f = (feats - p["feat_mean"]) / p["feat_std"]
        img = (np.log1p(polar / p["polar_scale"]) - p["polar_mean"]) / p["polar_std"]
        full = img.shape[:1] + (n_pt, n_phi)
        img = np.stack([img, np.broadcast_to(np.linspace(-1, 1, n_pt)[None, :, None], full),
                        np.broadcast_to(patterns[:, :1] / 0.3, full), np.broadcast_to(patterns[:, 1:] / 0.3, full)], 1)
        return torch.from_numpy(img.astype(np.float32)), torch.from_numpy(f.astype(np.float32)), f

    def baseline(self, f: np.ndarray) -> np.ndarray:
        """μ(c) = W·(1, f) in the log image, [N, n_pt, n_φ]."""
        W = self.prep["W"]
        return (np.concatenate([np.ones((len(f), 1)), f], 1) @ W).reshape((len(f),) + self.prep["sigma"].shape)

    def encode(self, spectra, f):
        x = np.log(DELTA + np.asarray(spectra, float) / self.prep["scale"][None, :, None])
        return ((x - self.baseline(f)) / self.prep["sigma"])[:, None].astype(np.float32)

    def decode(self, y, f):
        x = np.asarray(y, float)[:, 0] * self.prep["sigma"] + self.baseline(f)
        return np.clip(np.exp(x) - DELTA, 0.0, None) * self.prep["scale"][None, :, None]

    # -- files ----------------------------------------------------------------------------------------
    def save(self, path) -> None:
        from qcdgen.io.checkpoint import plain_values, save_checkpoint
        save_checkpoint(path, {"kind": KIND, "config": self.net.residual.config, "state": self.net.state_dict(),
                               "sde": self.sde.to_dict(), "prep": plain_values(self.prep),
                               "info": plain_values(self.info)})


def _centres(edges) -> np.ndarray:
    e = np.asarray(edges, float)
    return 0.5 * (e[1:] + e[:-1])


def _build_net(config: dict, sde):
    from qcdgen.diffusion.conditional import GaussianResidualNet
    from qcdgen.nn.unet import ConditionalUNet
    return GaussianResidualNet(ConditionalUNet(**config), sde)


def load_spectra_model(path) -> SpectraDiffusion:
    """A model file written by :meth:`SpectraDiffusion.save` (InputError for a file of another kind)."""
    from qcdgen.diffusion.sde import sde_from_dict
    from qcdgen.hic.conditional.emulator import load_model_file

    payload = load_model_file(path, KIND)
    sde = sde_from_dict(payload["sde"])
    net = _build_net(payload["config"], sde)
    net.load_state_dict(payload["state"])
    prep = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in payload["prep"].items()}
    return SpectraDiffusion(net.eval(), sde, prep, dict(payload.get("info", {})))


def _fit_prep(pd) -> dict:
    """The representation of :mod:`this module <qcdgen.hic.conditional.spectra_diffusion>` fitted on ``pd``."""
    eta = np.asarray(pd.conditions["eta_s"], float)
    if not np.isfinite(eta).all():
        raise InputError("every training event needs a finite eta_s condition")
    polar, _, feats = profile_features(pd.profiles, pd.profile_window, eta, _centres(pd.phi_edges),
                                       len(pd.pt_edges) - 1)
    spectra = np.asarray(pd.spectra, float)
    scale = spectra.mean(axis=(0, 2))
    if not np.all(scale > 0):
        raise InputError(f"the training spectra are empty in pT bin {int(np.argmin(scale > 0))}")
    std = feats.std(0)
    prep = {"pt_edges": np.asarray(pd.pt_edges, float), "phi_edges": np.asarray(pd.phi_edges, float),
            "profile_cells": int(pd.profile_cells), "profile_window": float(pd.profile_window), "model": pd.model,
            "scale": scale, "feat_mean": feats.mean(0), "feat_std": np.where(std > 1e-12, std, 1.0),
            "polar_scale": float(polar.mean())}
    prep["pion_fraction"] = _pion_fraction(pd)
    prep["oversample"] = max(int(pd.oversample), 1)
    lp = np.log1p(polar / prep["polar_scale"])
    prep.update(polar_mean=float(lp.mean()), polar_std=float(lp.std()) or 1.0,
                eta_s_range=[float(eta.min()), float(eta.max())], n_train=len(pd))
    f = (feats - prep["feat_mean"]) / prep["feat_std"]
    X = np.concatenate([np.ones((len(f), 1)), f], 1)
    x = np.log(DELTA + spectra / scale[None, :, None]).reshape(len(f), -1)
    ridge = 1e-3 * len(f) * np.eye(X.shape[1])
    ridge[0, 0] = 0.0
    prep["W"] = np.linalg.solve(X.T @ X + ridge, X.T @ x)
    resid = (x - X @ prep["W"]).reshape(spectra.shape)
    prep["sigma"] = np.maximum(resid.std(0), 1e-3)
    return prep


def _eta_window(pt: np.ndarray, mass: float) -> np.ndarray:
    """2y*: the rapidity width of |η| < 0.5 at (pT, m)."""
    return 2 * np.arcsinh(pt * np.sinh(0.5) / np.sqrt(pt * pt + mass * mass))


def _pion_fraction(pd) -> np.ndarray:
    """f_π per pT bin from R(pT) = dN/dη(|η| < 0.5)/dN/dy of the training pairs (module doc)."""
    from qcdgen.hic.observables.spectrum2d import spectrum_measure

    pt_e = np.asarray(pd.pt_edges, float)
    dndy = (np.asarray(pd.spectra, float) * spectrum_measure(pt_e, pd.phi_edges)[None]).sum(axis=(0, 2))
    cloud = np.asarray(pd.cloud_data)
    mid = cloud[np.abs(cloud[:, 2]) < 0.5, 0]
    dndeta = np.histogram(mid, bins=pt_e)[0].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = dndeta / dndy
    u = (np.arange(64) + 0.5) / 64      # 2y* averaged over the bin, pT² uniform as in the sampling
    ptq = np.sqrt(pt_e[:-1, None] ** 2 + u[None] * (pt_e[1:, None] ** 2 - pt_e[:-1, None] ** 2))
    j_pi = _eta_window(ptq, PION_MASS).mean(1)
    j_h = (2 * _eta_window(ptq, _SPECIES[1][1]) + _eta_window(ptq, _SPECIES[2][1])).mean(1) / 3
    f = np.where(np.isfinite(ratio), (ratio - j_h) / (j_pi - j_h), 1.0)
    return np.clip(f, 0.0, 1.0)


def train_spectra_diffusion(pd, *, steps: int = 2000, batch: int = 32, lr: float = 2e-3, base: int = 16,
                            depth: int = 2, seed: int = 0, device: str = "cpu", init=None, ema_decay: float = 0.995,
                            checkpoint=None, checkpoint_every: int = 200, progress: bool = False,
                            refit_baseline: bool = False) -> SpectraDiffusion:
    """Train by conditional DSM on the pairs ``pd``; ``init`` (a model or model file) fine-tunes its weights.

    Fine-tuning keeps ``init``'s representation (scales and linear baseline) unless ``refit_baseline``, so the
    network continues in the space it was trained in. ``checkpoint`` (a path) is written every
    ``checkpoint_every`` steps and resumed from when present.
    """
    from qcdgen.diffusion.conditional import conditional_dsm_loss
    from qcdgen.diffusion.sde import VPSDE
    from qcdgen.io.checkpoint import load_matching_checkpoint, plain_values, save_checkpoint
    from qcdgen.runtime import progress_bar
    from qcdgen.train.ema import EMA

    for name, v in (("steps", steps), ("batch", batch), ("base", base), ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"--{name} must be an integer >= 1, got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise InputError(f"--lr must be > 0, got {lr!r}")
    if pd is None or len(pd) < 2:
        raise InputError("spectra training needs at least 2 pairs")
    if init is not None:
        old = init if isinstance(init, SpectraDiffusion) else load_spectra_model(init)
        _check_grid(old.prep, pd.profiles, pd.profile_window, pd.pt_edges, pd.phi_edges)
        prep = _fit_prep(pd) if refit_baseline else dict(old.prep)
        eta = np.asarray(pd.conditions["eta_s"], float)
        prep["eta_s_range"] = [min(old.prep["eta_s_range"][0], float(eta.min())),
                               max(old.prep["eta_s_range"][1], float(eta.max()))]
        prep["n_train"], prep["oversample"] = len(pd), max(int(pd.oversample), 1)
        config, sde = dict(old.net.residual.config), old.sde
        net = _build_net(config, sde)
        net.load_state_dict(old.net.state_dict())
    else:
        prep, sde = _fit_prep(pd), VPSDE()
        config = dict(in_channels=1, out_channels=1, cond_channels=4, cond_dim=len(_FEATURES), base=base,
                      depth=depth, time_dim=64, periodic_w=True)
        torch.manual_seed(seed)
        net = _build_net(config, sde)
    model = SpectraDiffusion(net, sde, prep)
    cimg, cvec, f = model.conditioning(pd.profiles, pd.conditions["eta_s"])
    y0 = torch.from_numpy(model.encode(pd.spectra, f))
    dev = torch.device(device)
    net.to(dev)
    cimg, cvec, y0 = cimg.to(dev), cvec.to(dev), y0.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ema = EMA(net, ema_decay)
    gen = torch.Generator(device=dev).manual_seed(seed)
    run = {"steps": steps, "batch": batch, "lr": float(lr), "seed": seed, "n": len(pd), "init": init is not None,
           "checksum": float(np.asarray(pd.spectra, float).sum())}
    start, losses = 0, []
    if checkpoint is not None and _exists(checkpoint):
        ck = load_matching_checkpoint(checkpoint, KIND + "-checkpoint", "run", run)
        net.load_state_dict(ck["state"])
        opt.load_state_dict(ck["opt"])
        ema.load_state_dict(ck["ema"])
        gen.set_state(ck["gen"])
        start, losses = int(ck["step"]), list(ck["losses"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 20, last_epoch=-1)
    for _ in range(start):
        sched.step()
    net.train()
    with progress_bar(progress) as bar:
        task = bar.add_task("spectra diffusion", total=steps, completed=start, status="")
        for step in range(start, steps):
            idx = torch.randint(len(y0), (min(batch, len(y0)),), generator=gen, device=dev)
            loss = conditional_dsm_loss(net, sde, y0[idx], gen, cimg[idx], cvec[idx])
            if not torch.isfinite(loss):
                raise InputError(f"spectra diffusion training diverged at step {step} (loss {float(loss)}); "
                                 "lower --lr")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            ema.update(net)
            losses.append(float(loss.detach()))
            bar.update(task, advance=1, status=f"loss {np.mean(losses[-50:]):.4f}")
            if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
                save_checkpoint(checkpoint, {"kind": KIND + "-checkpoint", "run": run, "step": step + 1,
                                             "state": net.state_dict(), "opt": opt.state_dict(),
                                             "ema": ema.state_dict(), "gen": gen.get_state(), "losses": losses})
    ema.copy_to(net)
    net.eval().cpu()
    model.info = plain_values({"steps": steps, "batch": batch, "lr": lr, "seed": seed, "n_train": len(pd),
                               "fine_tuned": init is not None, "final_loss": float(np.mean(losses[-100:])),
                               "sources": list(pd.source)})
    return model


def _exists(path) -> bool:
    from pathlib import Path
    return Path(path).is_file()


def _check_grid(prep: dict, profiles, window, pt_edges=None, phi_edges=None) -> None:
    P = prep["profile_cells"]
    shape = tuple(np.shape(profiles)[1:])
    if shape != (P, P) or not math.isclose(float(window), prep["profile_window"], rel_tol=1e-6):
        raise InputError(f"profile grid {shape[0] if shape else '?'}x{shape[-1] if shape else '?'} on "
                         f"+-{float(window):g} fm differs from the model's {P}x{P} on +-{prep['profile_window']:g} fm")
    for got, want, what in ((pt_edges, prep["pt_edges"], "pT"), (phi_edges, prep["phi_edges"], "phi")):
        if got is not None and (len(got) != len(want) or not np.allclose(got, want)):
            raise InputError(f"spectrum {what} bins differ from the model's")


def check_eta_s(model: SpectraDiffusion, eta_s: float, extrapolate: bool = False) -> None:
    """Refuse an η/s outside the training range unless ``extrapolate`` (then warn)."""
    lo, hi = model.prep["eta_s_range"]
    if not math.isfinite(eta_s) or eta_s < 0:
        raise InputError(f"--eta-s must be a finite number >= 0, got {eta_s!r}")
    if not (lo - 1e-9 <= eta_s <= hi + 1e-9):
        msg = f"eta/s = {eta_s:g} is outside the model's training range [{lo:g}, {hi:g}]"
        if not extrapolate:
            raise InputError(msg + "; pass --extrapolate to generate anyway")
        warnings.warn(msg + "; extrapolating", stacklevel=2)


@torch.no_grad()
def sample_spectra(model: SpectraDiffusion, profiles, eta_s, *, window: float | None = None, steps: int = 40,
                   method: str = "ode", seed: int = 0, batch: int = 256, device: str = "cpu") -> np.ndarray:
    """Generated dN/(dy pT dpT dφ) [N, n_pt, n_φ] (GeV⁻²) for profiles [N, P, P] at η/s (scalar or [N])."""
    from qcdgen.diffusion.conditional import conditional_sample

    profiles = np.asarray(profiles, np.float32)
    if profiles.ndim != 3 or len(profiles) == 0:
        raise InputError(f"profiles must be a non-empty [N, P, P] array, got shape {profiles.shape}")
    _check_grid(model.prep, profiles, model.prep["profile_window"] if window is None else window)
    eta = np.broadcast_to(np.asarray(eta_s, float), (len(profiles),))
    cimg, cvec, f = model.conditioning(profiles, eta)
    dev = torch.device(device)
    model.net.to(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    shape = (1,) + model.prep["sigma"].shape
    out = []
    for s in range(0, len(profiles), batch):
        ci, cv = cimg[s:s + batch].to(dev), cvec[s:s + batch].to(dev)
        out.append(conditional_sample(model.net, model.sde, (len(ci),) + shape, steps, gen, ci, cv, method=method,
                                      device=dev).cpu().numpy())
    model.net.cpu()
    return model.decode(np.concatenate(out), f)


def spectra_to_events(spectra, pt_edges, phi_edges, rng: np.random.Generator, pion_fraction=None,
                      oversample: int | None = None, **conditions):
    """Events of charged hadrons sampled from dN/(dy pT dpT dφ) images (see the module doc): Poisson, or with
    ``oversample`` = K > 1 a 1/K thinning of the image's K-sample counts; ``pion_fraction`` per pT bin (default 1:
    all pions), the rest K : p = 2 : 1."""
    from qcdgen.hic.events import make_events
    from qcdgen.hic.observables.spectrum2d import Y_MAX, spectrum_measure

    s = np.asarray(spectra, float)
    pt_e, phi_e = np.asarray(pt_edges, float), np.asarray(phi_edges, float)
    lam = s * spectrum_measure(pt_e, phi_e, Y_MAX)[None]
    if not np.isfinite(lam).all() or (lam < 0).any():
        raise InputError("spectra must be finite and >= 0 to be sampled into particles")
    k = int(oversample or 1)
    if k > 1:
        total = np.floor(k * lam)
        total += rng.random(lam.shape) < (k * lam - total)          # stochastic rounding of the K-sample counts
        n_bin = rng.binomial(total.astype(np.int64), 1.0 / k)
    else:
        n_bin = rng.poisson(lam)                                      # [N, n_pt, n_phi]
    counts = n_bin.sum(axis=(1, 2))
    flat = n_bin.reshape(-1)
    cell = np.repeat(np.arange(flat.size), flat) % (lam.shape[1] * lam.shape[2])
    ia, ib = cell // lam.shape[2], cell % lam.shape[2]
    m = len(cell)
    pt = np.sqrt(pt_e[ia] ** 2 + rng.random(m) * (pt_e[ia + 1] ** 2 - pt_e[ia] ** 2))
    phi = phi_e[ib] + rng.random(m) * (phi_e[ib + 1] - phi_e[ib])
    y = rng.uniform(-Y_MAX, Y_MAX, m)
    charge = np.where(rng.random(m) < 0.5, 1, -1)
    f_pi = np.ones(lam.shape[1]) if pion_fraction is None else np.asarray(pion_fraction, float)
    u = rng.random(m)
    kind = np.where(u < f_pi[ia], 0, np.where(u < f_pi[ia] + (1 - f_pi[ia]) * 2 / 3, 1, 2))
    mass = np.array([ms for _, ms in _SPECIES])[kind]
    mt = np.sqrt(pt * pt + mass ** 2)
    parts = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": mt * np.sinh(y), "E": mt * np.cosh(y),
             "mass": mass, "pdg": np.array([p for p, _ in _SPECIES])[kind] * charge, "charge": charge}
    b = conditions.pop("b", None)
    return make_events(counts, parts, b=b, **conditions)


def generate_events(model: SpectraDiffusion, pd, eta_s: float, *, extrapolate: bool = False, steps: int = 40,
                    method: str = "ode", seed: int = 0, device: str = "cpu"):
    """One generated event per profile of ``pd`` at η/s: (events, spectra). Conditions (centrality, b, β₂,
    √s) are copied from ``pd``; ``eta_s`` is the requested value."""
    if pd is None or len(pd) == 0:
        raise InputError("the profile file holds no profiles")
    check_eta_s(model, float(eta_s), extrapolate)
    _check_grid(model.prep, pd.profiles, pd.profile_window)
    spectra = sample_spectra(model, pd.profiles, float(eta_s), steps=steps, method=method, seed=seed, device=device)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 21]))
    cond = {k: np.asarray(pd.conditions[k], float) for k in ("centrality", "beta2", "sqrts") if k in pd.conditions}
    events = spectra_to_events(spectra, model.prep["pt_edges"], model.prep["phi_edges"], rng,
                               pion_fraction=model.prep.get("pion_fraction"), oversample=model.prep.get("oversample"),
                               b=np.asarray(pd.conditions.get("b", np.full(len(pd), np.nan)), float),
                               eta_s=float(eta_s), **cond)
    return events, spectra
