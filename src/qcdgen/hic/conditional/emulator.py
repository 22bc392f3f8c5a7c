"""Emulator of per-event observables from the initial entropy profile (Hirvonen, Eskola & Niemi,
PRC 108 (2023) 034905): a DenseNet CNN (``qcdgen.nn.densenet``) maps the profile s(x, y) at τ₀ and
η/s to dN_ch/dη, ⟨p_T⟩ and the complex flow vectors V_n = v_n e^{inΨ_n}, n = 2, 3.

Targets (why these):
- dN_ch/dη = the event's own count of charged hadrons in |η| < 0.5 (``pd.n_charged``), ⟨p_T⟩ = the
  mean p_T of the same particles. Their Poisson noise averages out of an MSE fit (which learns
  the conditional mean); the R² ceiling it imposes is reported.
- V_n of the *smooth* spectrum ``pd.spectra`` (mean of K Cooper–Frye samples, p_T < 2 GeV, |y| < 0.5):

      V_n = Σ_ab w_ab e^{inφ_b} / (Σ_ab w_ab · sinc(nΔφ/2)),   w_ab = spectrum_ab × bin measure,

  (sinc undoes the φ binning). This is the deterministic hydro response plus a residual noise
  of variance σ² = 1/(K N_ab-sum) per event, K times smaller than that of the event's own
  Q_n = Σ_j e^{inφ_j}/M (σ² = 1/M). A regression on either learns E[V_n | profile]; the
  smooth target is K times less noisy, so it trains better.

Cumulants (compare like with like): the hydro's v_n{2}, v_2{4} come from the events' own
particles (p_T < 2 GeV, |η| < 0.8) through the generic framework (``observables.flow.
event_correlators``), which removes self-correlations: ⟨⟨2⟩⟩ → ⟨|V_n|²⟩, ⟨⟨4⟩⟩ → ⟨|V_n|⁴⟩ without
the 1/M multiplicity noise. The emulated V_n are noise-free, so their moments enter the same
cumulant formulas directly (``cumulants_from_correlators``), event-weighted by the same
W_2 = M(M−1), W_4 = M(M−1)(M−2)(M−3). (Sampling M pseudo-particles per event from the emulated
V_n and running the same estimator has the same expectation; it would only add statistical
noise, so it is not done.) The smooth targets' own moments are shown too, with their
noise removed: |V|² → |V̂|² − σ², |V|⁴ → |V̂|⁴ − 4σ²|V̂|² + 2σ⁴ (complex Gaussian noise). The
particle cumulants also hold non-flow (resonance decays) that no V_n carries: the target
column tells the emulator's error (emulator/target) apart from non-flow (target/hydro).

Augmentation: the 8 symmetries of the square grid act exactly on the targets. With the
profile's axes [x, y], ``rot90`` turns the fluid by +90° (V_n → i^n V_n) and flipping y
reflects it (V_n → V_n*).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.io.checkpoint import plain_values, save_checkpoint

__all__ = ["KIND", "HARMONICS", "emulator_targets", "train_emulator", "ProfileEmulator", "load_emulator",
           "evaluate_emulator", "load_model_file", "CLASSES"]

KIND = "profile-emulator"
HARMONICS = (2, 3)
CLASSES = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 50))
_ETA_CUT = 0.5


def load_model_file(path, kind: str) -> dict:
    """A ``.pt`` model file whose ``"kind"`` is ``kind`` (InputError naming the kind it has)."""
    from pathlib import Path
    if not Path(path).is_file():
        raise InputError(f"model file {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign files
        raise InputError(f"{str(path)!r} is not a readable qcdgen model file ({type(exc).__name__})") from None
    got = payload.get("kind") if isinstance(payload, dict) else None
    if got != kind:
        raise InputError(f"{path} is a {got or 'unknown'} model, not a {kind} model")
    return payload


def _check_pairs(pd, what="paired data"):
    if pd is None or len(pd) == 0:
        raise InputError(f"{what} holds no events")


def smooth_flow(pd) -> tuple[np.ndarray, np.ndarray]:
    """(V [N, len(HARMONICS)] complex, σ² [N, len(HARMONICS)]): flow vectors of the smooth spectra and their noise."""
    from qcdgen.hic.observables.spectrum2d import spectrum_measure
    w = np.asarray(pd.spectra, float) * spectrum_measure(pd.pt_edges, pd.phi_edges)[None]
    w_phi = w.sum(axis=1)                                     # [N, n_phi]
    phi_edges = np.asarray(pd.phi_edges, float)
    centres, dphi = 0.5 * (phi_edges[1:] + phi_edges[:-1]), np.diff(phi_edges)
    tot = w_phi.sum(axis=1)
    if not np.all(tot > 0):
        raise InputError(f"{int((tot <= 0).sum())} events have an empty spectrum (first: {int(np.argmin(tot > 0))})")
    V = np.stack([(w_phi * np.exp(1j * n * centres)).sum(1) / (tot * np.sinc(n * dphi.mean() / 2 / np.pi))
                  for n in HARMONICS], axis=1)
    k = max(int(getattr(pd, "oversample", 1) or 1), 1)
    sinc2 = np.array([np.sinc(n * dphi.mean() / 2 / np.pi) ** 2 for n in HARMONICS])
    return V, 1.0 / (k * tot[:, None] * sinc2[None, :])


def emulator_targets(pd) -> dict:
    """Per-event targets: dnch (|η|<0.5 count), mean_pt (GeV), V (complex [N, 2]), noise_var ([N, 2])."""
    _check_pairs(pd)
    mean_pt = np.empty(len(pd))
    for i in range(len(pd)):
        c = np.asarray(pd.cloud(i))
        sel = np.abs(c[:, 2]) < _ETA_CUT
        mean_pt[i] = c[sel, 0].mean() if sel.any() else np.nan
    if not np.isfinite(mean_pt).all():
        raise InputError(f"event {int(np.argmin(np.isfinite(mean_pt)))} has no charged particle in |eta| < 0.5")
    V, var = smooth_flow(pd)
    return {"dnch": np.asarray(pd.n_charged, float), "mean_pt": mean_pt, "V": V, "noise_var": var}


def _grid_of(pd) -> tuple[int, float]:
    return int(pd.profile_cells), float(pd.profile_window)


def profile_features(profiles, grid: tuple[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """(E [N, 2] complex ε_n e^{inΦ_n}, n = 2, 3; invariants [N, 4]: log S, r_rms, ε_2, ε_3) of grid profiles,
    from ``qcdgen.hic.initial.eccentricity`` (S = Σ s · cell area)."""
    from qcdgen.hic.initial import Grid
    from qcdgen.hic.initial.eccentricity import eccentricities, r_rms
    g = Grid(n=int(grid[0]), max=float(grid[1]))
    prof = np.asarray(profiles, float)
    eps, psi = eccentricities(prof, g, HARMONICS)
    if not np.isfinite(eps).all():
        raise InputError(f"profile {int(np.argmin(np.isfinite(eps).all(1)))} is empty (zero total entropy)")
    E = eps * np.exp(1j * np.array(HARMONICS) * psi)
    total = prof.sum(axis=(1, 2)) * g.cell_area
    return E, np.column_stack([np.log(total), r_rms(prof, g), eps])


class ProfileEmulator:
    """A trained emulator: ``predict(profiles, eta_s)`` → dict of per-event arrays.

    The network's head sees η/s and the rotation invariants (log S, r_rms, ε_2, ε_3); it returns
    log dN_ch/dη, ⟨p_T⟩, a residual flow vector R_n and a real linear-response coefficient κ_n, and
    V_n = κ_n ε_n e^{inΦ_n} + R_n. The first term is the hydro's leading linear response
    (Teaney & Yan, PRC 83 (2011) 064904), exactly equivariant; the DenseNet learns κ_n(η/s, size)
    and the non-linear rest R_n from the image. Outputs are standardised (``norm``).
    """

    def __init__(self, net, norm: dict, grid: tuple[int, float], eta_s_range: tuple[float, float], info: dict):
        self.net, self.norm, self.grid, self.eta_s_range, self.info = net.eval(), norm, grid, eta_s_range, info

    def _inputs(self, profiles, eta_s):
        """(image [N,1,P,P], conditioning [N,5], standardised E [N, 2, 2] (Re, Im))."""
        E, inv = profile_features(profiles, self.grid)
        x = torch.as_tensor(np.asarray(profiles, np.float32) / self.norm["profile_scale"]).unsqueeze(1)
        c = np.column_stack([np.asarray(eta_s, float), inv])
        c = torch.as_tensor(((c - self.norm["c_mean"]) / self.norm["c_std"]).astype(np.float32))
        e = E / np.asarray(self.norm["e_rms"])[None]
        return x, c, torch.as_tensor(np.stack([e.real, e.imag], -1).reshape(len(E), -1).astype(np.float32))

    def forward(self, x, c, e):
        """Standardised outputs [B, 6]: log dN, ⟨pT⟩, Re V2, Im V2, Re V3, Im V3."""
        out = self.net(x, c)
        kappa = out[:, 6:].repeat_interleave(2, dim=1)
        return torch.cat([out[:, :2], out[:, 2:6] + kappa * e], dim=1)

    def check_inputs(self, profiles, grid, eta_s, extrapolate: bool = False) -> np.ndarray:
        prof = np.asarray(profiles)
        if prof.ndim != 3 or len(prof) == 0:
            raise InputError(f"profiles must be a non-empty [N, P, P] array, got shape {prof.shape}")
        if (int(grid[0]), float(grid[1])) != self.grid or prof.shape[1:] != (self.grid[0],) * 2:
            raise InputError(f"profile grid {prof.shape[1]}x{prof.shape[2]} cells on ±{grid[1]:g} fm differs from the "
                             f"model's {self.grid[0]}x{self.grid[0]} on ±{self.grid[1]:g} fm")
        if not np.isfinite(prof).all():
            raise InputError(f"profiles hold NaN/inf (event {int(np.argmin(np.isfinite(prof).all(axis=(1, 2))))})")
        eta = np.broadcast_to(np.asarray(eta_s, float), (len(prof),))
        lo, hi = self.eta_s_range
        out = ~((eta >= lo - 1e-9) & (eta <= hi + 1e-9))
        if out.any():
            msg = f"eta/s {eta[out][0]:g} is outside the training range [{lo:g}, {hi:g}]"
            if not extrapolate:
                raise InputError(msg + " (pass --extrapolate to go on)")
            warnings.warn(msg + ": extrapolating", stacklevel=2)
        return eta

    @torch.no_grad()
    def predict(self, profiles, eta_s, batch: int = 256) -> dict:
        eta = np.broadcast_to(np.asarray(eta_s, float), (len(profiles),))
        outs = []
        for s in range(0, len(profiles), batch):
            outs.append(self.forward(*self._inputs(profiles[s:s + batch], eta[s:s + batch])).numpy().astype(float))
        y = np.concatenate(outs) * self.norm["y_std"] + self.norm["y_mean"]
        if not np.isfinite(y).all():
            raise InputError(f"emulator output is NaN/inf (event {int(np.argmin(np.isfinite(y).all(1)))})")
        return {"dnch": np.exp(y[:, 0]), "mean_pt": y[:, 1], "V": y[:, 2::2] + 1j * y[:, 3::2]}

    def save(self, path) -> None:
        save_checkpoint(path, {"kind": KIND, "config": self.net.config, "state": self.net.state_dict(),
                               "norm": plain_values(self.norm, False), "grid": list(self.grid),
                               "eta_s_range": list(self.eta_s_range), "info": plain_values(self.info, False)})


def load_emulator(path) -> ProfileEmulator:
    from qcdgen.nn.densenet import DenseNet2d
    p = load_model_file(path, KIND)
    net = DenseNet2d(**p["config"])
    net.load_state_dict(p["state"])
    norm = {k: np.asarray(v, float) if isinstance(v, list) else v for k, v in p["norm"].items()}
    return ProfileEmulator(net, norm, (int(p["grid"][0]), float(p["grid"][1])), tuple(p["eta_s_range"]), p["info"])


def _rotate(v, k: int, flip: bool):
    """The grid symmetry (y flip, then rot90^k) on standardised (Re, Im) pairs of V_2, V_3: [B, 4]."""
    v = v.clone()
    if flip:
        v[:, 1::2] = -v[:, 1::2]
    if k:
        for j, n in enumerate(HARMONICS):
            c, s = round(math.cos(n * k * math.pi / 2)), round(math.sin(n * k * math.pi / 2))
            re, im = v[:, 2 * j].clone(), v[:, 2 * j + 1].clone()
            v[:, 2 * j], v[:, 2 * j + 1] = c * re - s * im, c * im + s * re
    return v


def _augment(x, y, e, k: int, flip: bool):
    """rot90^k (after a y flip) of the profiles x [B,1,P,P] with the matching change of y's V_n and of E_n."""
    if flip:
        x = torch.flip(x, dims=(-1,))
    if k:
        x = torch.rot90(x, k, dims=(-2, -1))
    return x, torch.cat([y[:, :2], _rotate(y[:, 2:], k, flip)], dim=1), _rotate(e, k, flip)


def train_emulator(pd, *, epochs: int = 60, batch: int = 32, lr: float = 2e-3, seed: int = 0, growth: int = 12,
                   blocks: int = 3, layers_per_block: int = 3, val_fraction: float = 0.1, progress=None
                   ) -> ProfileEmulator:
    """Fit by MSE on standardised targets (log dN_ch/dη, ⟨p_T⟩, Re/Im V_2, V_3), with the 8 grid
    symmetries as augmentation; the weights of the best validation epoch are kept."""
    from qcdgen.nn.densenet import DenseNet2d
    _check_pairs(pd, "training data")
    if len(pd) < 10:
        raise InputError(f"the emulator needs at least 10 training events, got {len(pd)}")
    t = emulator_targets(pd)
    prof = np.asarray(pd.profiles, np.float32)
    if not np.isfinite(prof).all():
        raise InputError("training profiles hold NaN/inf")
    grid = _grid_of(pd)
    eta = np.asarray(pd.conditions["eta_s"], float)
    E, inv = profile_features(prof, grid)
    y = np.column_stack([np.log(np.maximum(t["dnch"], 1.0)), t["mean_pt"]]
                        + [f(t["V"][:, j]) for j in range(len(HARMONICS)) for f in (np.real, np.imag)])
    rms_v = [math.sqrt(np.mean(np.abs(t["V"][:, j]) ** 2) / 2) for j in range(len(HARMONICS))]
    c = np.column_stack([eta, inv])
    norm = {"profile_scale": float(prof.reshape(len(prof), -1).max(1).mean()),
            "c_mean": c.mean(0), "c_std": np.maximum(c.std(0), [0.05] + [1e-6] * inv.shape[1]),
            "e_rms": np.sqrt(np.mean(np.abs(E) ** 2, axis=0)),
            "y_mean": np.r_[y[:, 0].mean(), y[:, 1].mean(), np.zeros(2 * len(HARMONICS))],
            "y_std": np.r_[y[:, 0].std() + 1e-6, y[:, 1].std() + 1e-6, np.repeat(rms_v, 2)]}
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = DenseNet2d(1, 2 + 3 * len(HARMONICS), cond_dim=c.shape[1], growth=growth, blocks=blocks,
                     layers_per_block=layers_per_block)
    emu = ProfileEmulator(net, norm, grid, (float(eta.min()), float(eta.max())), {})
    X, C, Es = emu._inputs(prof, eta)
    Y = torch.as_tensor((y - norm["y_mean"]) / norm["y_std"], dtype=torch.float32)
    perm = torch.randperm(len(X), generator=gen)
    n_val = max(2, int(val_fraction * len(X)))
    val, tr = perm[:n_val], perm[n_val:]
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-5)
    steps = epochs * max(1, math.ceil(len(tr) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    best, best_state, history = float("inf"), None, []
    for ep in range(epochs):
        net.train()
        order = tr[torch.randperm(len(tr), generator=gen)]
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            if len(idx) < 2:
                continue
            k, flip = int(torch.randint(4, (1,), generator=gen)), bool(torch.randint(2, (1,), generator=gen))
            xb, yb, eb = _augment(X[idx], Y[idx], Es[idx], k, flip)
            loss = torch.mean((emu.forward(xb, C[idx], eb) - yb) ** 2)
            if not torch.isfinite(loss):
                raise InputError(f"emulator training diverged (loss {loss.item()}) at epoch {ep}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            vl = float(torch.mean((emu.forward(X[val], C[val], Es[val]) - Y[val]) ** 2))
        history.append(vl)
        if vl < best:
            best, best_state = vl, {k_: v.clone() for k_, v in net.state_dict().items()}
        if progress:
            progress(ep, vl)
    net.load_state_dict(best_state)
    emu.net = net.eval()
    emu.info = {"n_train": int(len(tr)), "n_val": int(n_val), "epochs": epochs, "val_loss": history,
                "best_val_loss": best, "source": [str(s) for s in getattr(pd, "source", [])]}
    return emu


def _r2(true, pred) -> float:
    """R² = 1 − Σ|pred − true|² / Σ|true − mean|² (complex values allowed)."""
    true, pred = np.asarray(true), np.asarray(pred)
    return float(1.0 - np.sum(np.abs(pred - true) ** 2) / np.sum(np.abs(true - true.mean()) ** 2))


def particle_correlators(pd, pt_max: float = 2.0) -> dict:
    """Hydro side of the cumulants: per-event ⟨2⟩, W_2 (n = 2, 3) and ⟨4⟩, W_4 (n = 2) from each event's
    own charged particles with p_T < pt_max, |η| < 0.8 (generic framework, no self-correlations)."""
    from qcdgen.hic.observables.flow import event_correlators
    phis, owner = [], []
    for i in range(len(pd)):
        c = np.asarray(pd.cloud(i))
        ph = c[c[:, 0] < pt_max, 1]
        phis.append(ph)
        owner.append(np.full(len(ph), i))
    phi, ev = np.concatenate(phis).astype(float), np.concatenate(owner)
    out = {}
    for n, orders in ((2, (2, 4)), (3, (2,))):
        for m, (val, w) in event_correlators(phi, ev, len(pd), n, orders).items():
            out[(n, m)] = (np.nan_to_num(val), w)
    return out


def _cumulant_set(m2_2, m2_4, m3_2) -> np.ndarray:
    """[v2{2}, v2{4}, v3{2}] from event-averaged ⟨⟨2⟩⟩, ⟨⟨4⟩⟩ (n = 2) and ⟨⟨2⟩⟩ (n = 3); NaN if unphysical."""
    from qcdgen.hic.observables.flow import cumulants_from_correlators
    c2 = cumulants_from_correlators(m2_2, m2_4)
    c3 = cumulants_from_correlators(m3_2)
    with np.errstate(invalid="ignore"):
        return np.stack([np.sqrt(c2[2]), np.where(-c2[4] >= 0, np.abs(c2[4]) ** 0.25, np.nan), np.sqrt(c3[2])], -1)


CUMULANTS = ("v2{2}", "v2{4}", "v3{2}")


def _class_cumulants(corr, Vp, Vt, var, idx, n_boot: int, rng) -> dict:
    """Hydro (particles), target (smooth V, noise removed) and emulator v2{2}, v2{4}, v3{2} in one class,
    with bootstrap (over events, all columns together) errors on the values and on the ratios."""
    w22, w24, w32 = (corr[k][1][idx] for k in ((2, 2), (2, 4), (3, 2)))
    h22, h24, h32 = (corr[k][0][idx] for k in ((2, 2), (2, 4), (3, 2)))
    a2, a3 = np.abs(Vt[idx, 0]) ** 2, np.abs(Vt[idx, 1]) ** 2
    s2, s3 = var[idx, 0], var[idx, 1]
    cols = {"hydro": (h22, h24, h32),
            "target": (a2 - s2, a2 ** 2 - 4 * s2 * a2 + 2 * s2 ** 2, a3 - s3),
            "emulator": (np.abs(Vp[idx, 0]) ** 2, np.abs(Vp[idx, 0]) ** 4, np.abs(Vp[idx, 1]) ** 2)}

    def values(sel):
        return {k: _cumulant_set(*(np.sum(w[sel] * c[sel]) / np.sum(w[sel]) for w, c in zip((w22, w24, w32), cc)))
                for k, cc in cols.items()}

    full = values(np.arange(len(idx)))
    boots = [values(rng.integers(0, len(idx), len(idx))) for _ in range(n_boot)]
    out = {}
    for key in cols:
        b = np.array([bb[key] for bb in boots])
        out[key] = {c: [float(full[key][j]), float(np.nanstd(b[:, j]))] for j, c in enumerate(CUMULANTS)}
    for num, den in (("emulator", "hydro"), ("emulator", "target"), ("target", "hydro")):
        r = np.array([bb[num] / bb[den] for bb in boots])
        out[f"{num}/{den}"] = {c: [float(full[num][j] / full[den][j]), float(np.nanstd(r[:, j]))]
                               for j, c in enumerate(CUMULANTS)}
    return out


def evaluate_emulator(emu: ProfileEmulator, pd, classes=CLASSES, n_boot: int = 200, calib_bins: int = 5,
                      seed: int = 0) -> dict:
    """Accuracy of ``emu`` on held-out pairs ``pd``: per-event R² (overall and per centrality class) with
    its noise ceiling, relative errors per class, the calibration of v_2 and v_3, and the cumulants
    v2{2}, v2{4}, v3{2} rebuilt from the emulated V_n against the hydro's, by class."""
    _check_pairs(pd, "evaluation data")
    eta = emu.check_inputs(pd.profiles, _grid_of(pd), pd.conditions["eta_s"], extrapolate=True)
    pred, t = emu.predict(pd.profiles, eta), emulator_targets(pd)
    Vp, Vt, var = pred["V"], t["V"], t["noise_var"]
    cent = np.asarray(pd.conditions["centrality"], float)
    rng = np.random.default_rng(seed)

    def r2_block(sel) -> dict:
        d = {"dNch/deta": _r2(t["dnch"][sel], pred["dnch"][sel]), "<pT>": _r2(t["mean_pt"][sel], pred["mean_pt"][sel])}
        for j, n in enumerate(HARMONICS):
            d[f"V{n}"] = _r2(Vt[sel, j], Vp[sel, j])
            d[f"v{n}"] = _r2(np.abs(Vt[sel, j]), np.abs(Vp[sel, j]))
        return d

    def ceiling(sel) -> dict:
        d = {"dNch/deta": 1 - float(np.mean(t["dnch"][sel]) / np.var(t["dnch"][sel]))}
        for j, n in enumerate(HARMONICS):
            d[f"V{n}"] = 1 - float(np.mean(var[sel, j]) / np.mean(np.abs(Vt[sel, j] - Vt[sel, j].mean()) ** 2))
        return d

    def rel_err(sel) -> dict:
        d = {k: float(np.sqrt(np.mean((pred[k][sel] / t[k][sel] - 1) ** 2))) for k in ("dnch", "mean_pt")}
        for j, n in enumerate(HARMONICS):   # noise-subtracted rms |ΔV| relative to the rms true v_n
            num = np.mean(np.abs(Vp[sel, j] - Vt[sel, j]) ** 2) - np.mean(var[sel, j])
            d[f"V{n}"] = float(np.sqrt(max(num, 0.0) / (np.mean(np.abs(Vt[sel, j]) ** 2) - np.mean(var[sel, j]))))
        return d

    def calibration(j) -> dict:
        """slope b of V_true = b V_pred (complex least squares, unbiased by noise in V_true), bootstrap error;
        binned: mean |V_pred| and the mean projection Re(V_true V_pred*)/|V_pred| in quantile bins of |V_pred|."""
        vp, vt = Vp[:, j], Vt[:, j]

        def slope(s):
            return float(np.real(np.sum(vt[s] * np.conj(vp[s]))) / np.sum(np.abs(vp[s]) ** 2))
        boots = [slope(rng.integers(0, len(vp), len(vp))) for _ in range(n_boot)]
        proj = np.real(vt * np.conj(vp)) / np.maximum(np.abs(vp), 1e-12)
        edges = np.quantile(np.abs(vp), np.linspace(0, 1, calib_bins + 1))
        bins = np.clip(np.searchsorted(edges, np.abs(vp), side="right") - 1, 0, calib_bins - 1)
        binned = [[float(np.abs(vp[bins == b]).mean()), float(proj[bins == b].mean()),
                   float(proj[bins == b].std(ddof=1) / math.sqrt(max((bins == b).sum(), 2) - 1))]
                  for b in range(calib_bins) if (bins == b).sum() >= 2]
        return {"slope": [slope(np.arange(len(vp))), float(np.std(boots))], "binned": binned}

    corr = particle_correlators(pd)
    by_class = {}
    for lo, hi in classes:
        idx = np.flatnonzero((cent >= lo) & (cent < hi))
        if len(idx) < 5:
            continue
        by_class[f"{lo:g}-{hi:g}"] = {"n_events": int(len(idx)), "r2": r2_block(idx), "rel_err": rel_err(idx),
                                      "cumulants": _class_cumulants(corr, Vp, Vt, var, idx, n_boot, rng)}
    every = np.arange(len(pd))
    return {"n_events": len(pd), "r2": r2_block(every), "r2_ceiling": ceiling(every), "rel_err": rel_err(every),
            "calibration": {f"v{n}": calibration(j) for j, n in enumerate(HARMONICS)}, "classes": by_class,
            "train_info": {k: v for k, v in emu.info.items() if k != "val_loss"}}
