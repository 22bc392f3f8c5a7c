"""Gaussian-process emulator of many correlated outputs: scaler → PCA → one GP per component.

The construction of J. E. Bernhard et al., Nature Phys. 15 (2019) 1113 and J. E. Bernhard,
PhD thesis, Duke University (2018), arXiv:1804.06469, Sec. 5.2:

1. standardise the n × m training outputs, Z = (Y − μ)/σ (per output);
2. PCA, Z = Σ_k w_k √λ_k V_k with whitened scores w_k (unit sample variance), λ_k the
   explained variances; keep the fewest components K whose λ_k add up to ≥ ``variance``
   (default 99 %) of the total;
3. one GP per kept score, w_k(θ) ~ GP(0, c_k exp(−½ Σ_j (u_j − u'_j)²/ℓ_kj²) + s_k² δ), on the
   parameters mapped to the unit cube u; hyperparameters by maximum marginal likelihood
   (scikit-learn's ``GaussianProcessRegressor``);
4. back in output space, with A_k = √λ_k V_k ⊙ σ,

       E[y(θ)]   = μ + Σ_{k≤K} E[w_k(θ)] A_k,
       Cov[y(θ)] = Σ_{k≤K} Var[w_k(θ)] A_k A_kᵀ + Σ_{k>K} A_k A_kᵀ + ε diag(σ²),

   the middle term being the variance of the dropped components (their scores are
   unit-variance and not predicted), ε = 10⁻⁴ a small nugget as in Bernhard's code.

Predictions are NumPy from the fitted hyperparameters (Cholesky factor and weights), so an
MCMC step costs microseconds; the file holds only arrays (``torch.save``, loaded with
``weights_only=True``), never pickled objects.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.linalg import solve_triangular

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.inference.design import ParameterBox, check_enough_points

__all__ = ["GPComponent", "fit_gp", "Emulator", "EmulatorValidation", "cross_validate", "load_emulator",
           "usable_outputs", "KIND", "FORMAT"]

KIND = "qcdgen.inference.emulator"
FORMAT = 1


@dataclass
class GPComponent:
    """A fitted GP with kernel c·exp(−½|(u − u')/ℓ|²) + s²δ on inputs in the unit cube.

    The training targets were standardised, y' = (y − y_mean)/y_scale; ``L`` is the Cholesky
    factor of K(X, X) + s² I (+ jitter) in those units, ``weights`` = (K + s² I)⁻¹ y'.
    """

    X: np.ndarray
    weights: np.ndarray
    L: np.ndarray
    constant: float
    length_scale: np.ndarray
    noise: float
    y_mean: float = 0.0
    y_scale: float = 1.0

    @property
    def noise_variance(self) -> float:
        """The white-noise variance s² in the units of y."""
        return self.noise * self.y_scale ** 2

    def _cross(self, U: np.ndarray) -> np.ndarray:
        d = (U[:, None, :] - self.X[None, :, :]) / self.length_scale
        return self.constant * np.exp(-0.5 * np.sum(d * d, axis=-1))

    def predict(self, U, return_var: bool = True, noise: bool = True):
        """Mean (N,) and predictive variance (N,) at unit-cube inputs ``U`` (N, d): of a new noisy run
        (``noise=True``, the white-noise term included) or of the latent mean (``noise=False``)."""
        U = np.atleast_2d(np.asarray(U, float))
        Ks = self._cross(U)
        mean = self.y_mean + self.y_scale * (Ks @ self.weights)
        if not return_var:
            return mean
        v = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)
        white = self.noise if noise else 0.0
        var = self.constant + white - np.sum(v * v, axis=0)
        return mean, np.maximum(var, 1e-12 * (self.constant + self.noise)) * self.y_scale ** 2

    def to_state(self) -> dict:
        return {"X": self.X, "weights": self.weights, "L": self.L, "constant": float(self.constant),
                "length_scale": self.length_scale, "noise": float(self.noise), "y_mean": float(self.y_mean),
                "y_scale": float(self.y_scale)}


def fit_gp(U, y, seed: int = 0, restarts: int = 2, length_scale_bounds=(0.05, 20.0),
           noise_bounds=(1e-8, 1.0)) -> GPComponent:
    """Fit a GP (anisotropic RBF × constant + white noise) to ``y`` at unit-cube inputs ``U``.

    Hyperparameters maximise the marginal likelihood (L-BFGS-B, ``restarts`` extra random starts).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    U = np.asarray(U, float)
    y = np.asarray(y, float)
    y_mean = float(y.mean())
    y_scale = float(y.std(ddof=1)) if len(y) > 1 else 1.0
    if not (y_scale > 0 and math.isfinite(y_scale)):
        y_scale = 1.0
    d = U.shape[1]
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.3), length_scale_bounds)
              + WhiteKernel(1e-2, noise_bounds))
    gp = GaussianProcessRegressor(kernel, alpha=1e-10, n_restarts_optimizer=int(restarts),
                                  random_state=int(seed), normalize_y=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(U, (y - y_mean) / y_scale)
    k = gp.kernel_
    return GPComponent(X=U.copy(), weights=np.asarray(gp.alpha_, float).reshape(-1), L=np.asarray(gp.L_, float),
                       constant=float(k.k1.k1.constant_value),
                       length_scale=np.atleast_1d(np.asarray(k.k1.k2.length_scale, float)).copy(),
                       noise=float(k.k2.noise_level), y_mean=y_mean, y_scale=y_scale)


def usable_outputs(Y, keys) -> tuple[np.ndarray, dict[tuple[str, str], str]]:
    """Columns of ``Y`` an emulator can use (finite at every point, not constant), and why others are not."""
    Y = np.asarray(Y, float)
    excluded = {}
    keep = []
    for j, key in enumerate(keys):
        col = Y[:, j]
        if not np.all(np.isfinite(col)):
            excluded[tuple(key)] = f"undefined (NaN) at {int((~np.isfinite(col)).sum())} of {len(col)} design points"
        elif np.ptp(col) <= 1e-12 * max(1.0, float(np.abs(col).max())):
            excluded[tuple(key)] = "the same value at every design point"
        else:
            keep.append(j)
    return np.array(keep, dtype=int), excluded


@dataclass
class Emulator:
    """Outputs ``keys`` as functions of the parameters of ``box`` (see the module text)."""

    box: ParameterBox
    keys: list[tuple[str, str]]
    mean: np.ndarray
    scale: np.ndarray
    A: np.ndarray                      # (K, m): kept components, A_k = √λ_k V_k ⊙ σ
    cov_trunc: np.ndarray              # (m, m): dropped components + nugget
    gps: list[GPComponent]
    variance: float
    explained: np.ndarray              # fraction of variance of every component (kept first)
    n_train: int
    excluded: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(cls, X, Y, box: ParameterBox, keys, variance: float = 0.99, seed: int = 0, restarts: int = 2,
            nugget: float = 1e-4) -> "Emulator":
        """Fit to parameters ``X`` (n, d) inside ``box`` and finite outputs ``Y`` (n, m)."""
        X = np.asarray(X, float)
        Y = np.asarray(Y, float)
        keys = [tuple(k) for k in keys]
        if not (isinstance(variance, (int, float)) and 0 < variance <= 1):
            raise InputError(f"--variance must be a fraction in (0, 1], got {variance!r}")
        if X.ndim != 2 or X.shape[1] != box.ndim or Y.ndim != 2 or len(Y) != len(X) or Y.shape[1] != len(keys):
            raise InputError(f"emulator training data: X {X.shape}, Y {Y.shape}, {len(keys)} keys do not match")
        check_enough_points(len(X), box.ndim, "the training set")
        if Y.shape[1] == 0:
            raise InputError("no usable outputs to emulate (every one is undefined or constant at the design points)")
        if not np.all(np.isfinite(Y)):
            raise InputError("emulator outputs must be finite; drop undefined outputs first (usable_outputs)")
        box.check_inside(X, "training point:")
        mu = Y.mean(axis=0)
        sigma = Y.std(axis=0, ddof=1)
        sigma = np.where(sigma > 0, sigma, np.maximum(np.abs(mu), 1.0) * 1e-6)  # constant in a subset (folds)
        Z = (Y - mu) / sigma
        _, s, vt = np.linalg.svd(Z, full_matrices=False)
        lam = s ** 2 / (len(X) - 1)
        keep_nonzero = lam > 1e-12 * lam.sum()
        lam, vt = lam[keep_nonzero], vt[keep_nonzero]
        frac = lam / lam.sum()
        K = int(np.searchsorted(np.cumsum(frac), variance - 1e-12) + 1)
        K = min(K, len(lam))
        A_all = np.sqrt(lam)[:, None] * vt * sigma[None, :]
        W = Z @ vt[:K].T / np.sqrt(lam[:K])          # whitened scores, unit variance
        U = box.to_unit(X)
        gps = [fit_gp(U, W[:, k], seed=seed + k, restarts=restarts) for k in range(K)]
        B = A_all[K:]
        cov_trunc = B.T @ B
        cov_trunc[np.diag_indices_from(cov_trunc)] += nugget * sigma ** 2
        return cls(box=box, keys=keys, mean=mu, scale=sigma, A=A_all[:K], cov_trunc=cov_trunc, gps=gps,
                   variance=float(variance), explained=frac, n_train=len(X),
                   info={"seed": int(seed), "restarts": int(restarts), "nugget": float(nugget)})

    # -- prediction ---------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return len(self.gps)

    def index(self, keys) -> np.ndarray:
        """Column indices of ``keys`` [(observable, class)], refusing one the emulator lacks."""
        where = {k: i for i, k in enumerate(self.keys)}
        out = []
        for key in keys:
            key = tuple(key)
            if key not in where:
                obs, cls = key
                if key in self.excluded:
                    raise InputError(f"observable {obs!r} class {cls!r} is not emulated: {self.excluded[key]} "
                                     "(remove it from the data)")
                have = sorted({k[0] for k in self.keys})
                if obs in have:
                    classes = sorted({k[1] for k in self.keys if k[0] == obs})
                    raise InputError(f"observable {obs!r} has no class {cls!r} in the runs; classes: "
                                     f"{', '.join(classes)}")
                raise InputError(f"observable {obs!r} is not in the runs; they have: {', '.join(have[:30])}"
                                 + (f" (+{len(have) - 30} more)" if len(have) > 30 else ""))
            out.append(where[key])
        return np.array(out, dtype=int)

    def _scores(self, U, noise: bool = True):
        means, variances = [], []
        for gp in self.gps:
            m, v = gp.predict(U, noise=noise)
            means.append(m)
            variances.append(v)
        return np.stack(means, -1), np.stack(variances, -1)       # (N, K)

    def predict(self, theta, idx=None, return_cov: bool = True, check: bool = True, gp_only: bool = False,
                noise: bool = True):
        """Mean (N, m) and covariance (N, m, m) of the outputs at parameters ``theta`` (N, d) or (d,).

        ``idx``: only these output columns. ``check``: refuse θ outside the design's box (the
        emulator does not extrapolate). ``gp_only``: leave out the truncation term (diagnostics).
        ``noise``: include the GPs' white-noise variance, i.e. the Monte Carlo scatter of one more
        simulation run (right for leave-points-out validation against noisy runs); the likelihood of
        data uses ``noise=False``, the uncertainty of the model's mean, because the data's own errors
        already carry the statistical noise of the measurement.
        """
        theta = np.asarray(theta, float)
        single = theta.ndim == 1
        theta = np.atleast_2d(theta)
        if check:
            theta = self.box.check_inside(theta, "parameter")
        A = self.A if idx is None else self.A[:, idx]
        mu = self.mean if idx is None else self.mean[idx]
        w, var = self._scores(self.box.to_unit(theta), noise)
        mean = mu + w @ A
        if not return_cov:
            return mean[0] if single else mean
        cov = np.tensordot(var, A[:, :, None] * A[:, None, :], axes=(1, 0))     # Σ_k Var[w_k] A_k A_kᵀ
        if not gp_only:
            cov = cov + (self.cov_trunc if idx is None else self.cov_trunc[np.ix_(idx, idx)])[None]
        return (mean[0], cov[0]) if single else (mean, cov)

    # -- files --------------------------------------------------------------------------------
    def to_state(self) -> dict:
        import torch

        from qcdgen.io.checkpoint import plain_values

        t = lambda a: torch.as_tensor(np.asarray(a, float), dtype=torch.float64)
        return {
            "kind": KIND, "format": FORMAT, "qcdgen_version": __version__,
            "box": {"names": list(self.box.names), "lo": t(self.box.lo), "hi": t(self.box.hi)},
            "keys": [list(k) for k in self.keys], "mean": t(self.mean), "scale": t(self.scale), "A": t(self.A),
            "cov_trunc": t(self.cov_trunc), "variance": float(self.variance), "explained": t(self.explained),
            "n_train": int(self.n_train),
            "gps": [{k: (t(v) if isinstance(v, np.ndarray) else v) for k, v in gp.to_state().items()}
                    for gp in self.gps],
            "excluded": [[k[0], k[1], why] for k, why in self.excluded.items()],
            "info": plain_values(self.info),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the emulator atomically (``torch.save`` of arrays and plain values only)."""
        from qcdgen.io.checkpoint import save_checkpoint

        save_checkpoint(path, self.to_state())
        return Path(path)


def _unplain(value):
    import torch

    if isinstance(value, dict):
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value


def load_emulator(path: str | os.PathLike) -> Emulator:
    """Read an emulator file; a missing, corrupt or foreign file is one :class:`InputError` line."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"emulator file {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise InputError(f"{str(path)!r} is not a readable qcdgen emulator file ({reason})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise InputError(f"{str(path)!r} is not a qcdgen emulator file (kind {state.get('kind') if isinstance(state, dict) else None!r}, "
                         f"expected {KIND!r}); make one with qcdgen infer emulate")
    if state.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} has emulator format {state.get('format')!r}; this qcdgen reads format {FORMAT}")
    try:
        s = _unplain(state)
        box = ParameterBox(tuple(s["box"]["names"]), s["box"]["lo"], s["box"]["hi"])
        keys = [tuple(k) for k in s["keys"]]
        gps = [GPComponent(X=g["X"], weights=g["weights"], L=g["L"], constant=float(g["constant"]),
                           length_scale=g["length_scale"], noise=float(g["noise"]), y_mean=float(g["y_mean"]),
                           y_scale=float(g["y_scale"])) for g in s["gps"]]
        emu = Emulator(box=box, keys=keys, mean=s["mean"], scale=s["scale"], A=s["A"], cov_trunc=s["cov_trunc"],
                       gps=gps, variance=float(s["variance"]), explained=s["explained"], n_train=int(s["n_train"]),
                       excluded={(a, b): why for a, b, why in s["excluded"]}, info=s["info"])
        m, K, d = len(keys), len(gps), box.ndim
        ok = (emu.mean.shape == (m,) and emu.scale.shape == (m,) and emu.A.shape == (K, m)
              and emu.cov_trunc.shape == (m, m) and K >= 1
              and all(g.X.shape[1] == d and g.L.shape == (len(g.X), len(g.X)) and g.weights.shape == (len(g.X),)
                      and g.length_scale.shape == (d,) for g in gps))
        finite = all(np.all(np.isfinite(a)) for a in (emu.mean, emu.scale, emu.A, emu.cov_trunc))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(f"{str(path)!r} is a corrupt emulator file ({type(exc).__name__}: {exc})") from None
    if not (ok and finite):
        raise InputError(f"{str(path)!r} is a corrupt emulator file (array shapes or values are inconsistent)")
    if "discrepancy" in s:
        return _with_discrepancy(emu, s["discrepancy"], path)
    return emu


def _with_discrepancy(emu: Emulator, d: dict, path: Path):
    """The :class:`~qcdgen.inference.discrepancy.CorrectedEmulator` stored with a multi-fidelity correction."""
    from qcdgen.inference.discrepancy import BASES, CorrectedEmulator

    try:
        basis, beta, cov = d["basis"], np.asarray(d["beta"], float), np.asarray(d["cov"], float)
        p = 1 if basis == "constant" else 1 + emu.box.ndim
        ok = (basis in BASES and beta.shape == (len(emu.keys), p) and cov.shape == (len(emu.keys), p, p)
              and np.all(np.isfinite(beta)) and np.all(np.isfinite(cov)))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{str(path)!r} is a corrupt emulator file (discrepancy: {type(exc).__name__})") from None
    if not ok:
        raise InputError(f"{str(path)!r} is a corrupt emulator file (discrepancy arrays are inconsistent)")
    fields_ = {f: getattr(emu, f) for f in ("box", "keys", "mean", "scale", "A", "cov_trunc", "gps", "variance",
                                           "explained", "n_train", "excluded", "info")}
    return CorrectedEmulator(**fields_, delta_beta=beta, delta_cov=cov, delta_basis=basis)


@dataclass
class EmulatorValidation:
    """Leave-points-out validation: each point predicted by an emulator trained without it.

    z = (predicted − simulated)/σ_emulator per point and output; for a calibrated emulator
    z ~ N(0, 1): RMS(z) ≈ 1, 68 % within |z| < 1, 95 % within |z| < 2.
    """

    keys: list[tuple[str, str]]
    points: np.ndarray          # design-point indices (n,)
    fold: np.ndarray            # fold of each point (n,)
    simulated: np.ndarray       # (n, m)
    predicted: np.ndarray       # (n, m)
    std: np.ndarray             # (n, m)

    @property
    def z(self) -> np.ndarray:
        return (self.predicted - self.simulated) / self.std

    def summary(self) -> dict:
        z = self.z
        rel = np.abs(self.predicted - self.simulated) / np.maximum(np.abs(self.simulated), 1e-300)
        per = np.sqrt(np.mean(z * z, axis=0))
        worst = np.argsort(per)[::-1][:5]
        return {"points": int(len(self.points)), "folds": int(len(np.unique(self.fold))),
                "outputs": len(self.keys), "rms_z": float(np.sqrt(np.mean(z * z))),
                "within_1sigma": float(np.mean(np.abs(z) < 1)), "within_2sigma": float(np.mean(np.abs(z) < 2)),
                "median_relative_error": float(np.median(rel)),
                "worst": [{"observable": self.keys[j][0], "class": self.keys[j][1], "rms_z": float(per[j])}
                          for j in worst]}

    def csv_text(self) -> str:
        lines = ["point,fold,observable,class,simulated,predicted,std,z"]
        z = self.z
        for a, p in enumerate(self.points):
            for j, (obs, cls) in enumerate(self.keys):
                numbers = (self.simulated[a, j], self.predicted[a, j], self.std[a, j], z[a, j])
                lines.append(f"{int(p)},{int(self.fold[a])},\"{obs}\",{cls},"
                             + ",".join(repr(float(v)) for v in numbers))
        return "\n".join(lines) + "\n"


def cross_validate(X, Y, box: ParameterBox, keys, folds: int = 5, points=None, **fit_kwargs) -> EmulatorValidation:
    """Leave-points-out validation in ``folds`` groups (point a → fold a mod folds)."""
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    n = len(X)
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise InputError(f"--folds must be an integer >= 2, got {folds!r}")
    folds = int(min(folds, n))
    if n - math.ceil(n / folds) < box.ndim + 1:
        raise InputError(f"leave-points-out validation with {folds} folds leaves fewer than parameters + 1 = "
                         f"{box.ndim + 1} training points of {n}; use more points or folds")
    fold = np.arange(n) % folds
    pred = np.empty_like(Y)
    std = np.empty_like(Y)
    for f in range(folds):
        test, train = fold == f, fold != f
        emu = Emulator.fit(X[train], Y[train], box, keys, **fit_kwargs)
        m, c = emu.predict(X[test], check=False)
        pred[test] = m
        std[test] = np.sqrt(np.diagonal(c, axis1=1, axis2=2))
    return EmulatorValidation([tuple(k) for k in keys], np.arange(n) if points is None else np.asarray(points),
                              fold, Y, pred, std)


def select_outputs(keys, observables=None, classes=None) -> np.ndarray:
    """Indices of ``keys`` whose observable is in ``observables`` and class in ``classes`` (None: all)."""
    names = {k[0] for k in keys}
    labels = {k[1] for k in keys}
    for what, wanted, have in (("observable", observables, names), ("class", classes, labels)):
        for w in wanted or ():
            if w not in have:
                shown = sorted(have)
                raise InputError(f"{what} {w!r} is not in the runs; they have: {', '.join(shown[:30])}"
                                 + (f" (+{len(shown) - 30} more)" if len(shown) > 30 else ""))
    return np.array([j for j, (o, c) in enumerate(keys)
                     if (not observables or o in observables) and (not classes or c in classes)], dtype=int)


def validation_path(out: str | os.PathLike) -> Path:
    """Where :func:`emulate_runs` writes the leave-points-out table: ``OUT`` with suffix ``.validation.csv``."""
    out = Path(out)
    return out.with_name(out.stem + ".validation.csv")


def emulate_runs(runs: str | os.PathLike, out: str | os.PathLike, *, variance: float = 0.99, folds: int | None = 5,
                 observables=None, classes=None, seed: int = 0, restarts: int = 2,
                 correct_with: str | os.PathLike | None = None, correction: str = "linear"
                 ) -> tuple[Emulator, EmulatorValidation | None]:
    """``qcdgen infer emulate``: fit an emulator to a campaign's finished points and validate it.

    Outputs undefined at some design point or constant over the design are left out (and
    recorded, so a calibration asking for them gets a clear message). With ``folds``, a
    leave-points-out validation is run first and written to :func:`validation_path` ``(out)``;
    then the emulator file ``out`` (both atomically). ``correct_with``: a second campaign of the
    expensive simulator at a few points; the emulator of ``runs`` (the cheap one) is then corrected
    by a ``correction`` discrepancy fitted to it (:mod:`qcdgen.inference.discrepancy`).
    """
    from qcdgen.inference.campaign import load_runs
    from qcdgen.io.atomic import atomic_write_text, check_writable

    out = check_writable(out, "emulator")
    vpath = check_writable(validation_path(out), "validation table") if folds else None
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise InputError(f"--restarts must be an integer >= 0, got {restarts!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    rs = load_runs(runs)
    hi = load_runs(correct_with) if correct_with is not None else None   # refuse a bad directory before fitting
    if hi is not None:
        from qcdgen.inference.discrepancy import check_correction_runs

        if tuple(hi.box.names) != tuple(rs.box.names):
            raise InputError(f"the correction runs vary {', '.join(hi.box.names)}, the emulated runs "
                             f"{', '.join(rs.box.names)}: they must share the parameters")
        check_correction_runs(len(hi.X), rs.box.ndim, correction)
    sel = select_outputs(rs.keys, observables, classes)
    keys = [rs.keys[j] for j in sel]
    keep, excluded = usable_outputs(rs.Y[:, sel], keys)
    if len(keep) == 0:
        raise InputError(f"no usable outputs in {str(runs)!r}: every selected one is undefined at some design point "
                         "or constant over the design")
    keys = [keys[j] for j in keep]
    Y = rs.Y[:, sel[keep]]
    fit_kwargs = {"variance": variance, "seed": seed, "restarts": restarts}
    validation = cross_validate(rs.X, Y, rs.box, keys, folds, points=rs.indices, **fit_kwargs) if folds else None
    emu = Emulator.fit(rs.X, Y, rs.box, keys, **fit_kwargs)
    emu.excluded = excluded
    emu.info.update({"runs": str(runs), "points": len(rs.X), "design_points": rs.n_design})
    if hi is not None:
        from qcdgen.inference.discrepancy import correct_emulator

        emu = correct_emulator(emu, hi.X, hi.Y, hi.Yerr, hi.keys, basis=correction)
        emu.info["correction"]["runs_dir"] = str(correct_with)
    if validation is not None:
        emu.info["validation"] = validation.summary()
        atomic_write_text(vpath, validation.csv_text())
    emu.save(out)
    return emu, validation
