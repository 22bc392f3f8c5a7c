"""Final-state classifiers: the EoS (or any condition that tells two datasets apart) from samples of
k events, and the impact parameter by regression (Pang et al., Nat. Commun. 9 (2018) 210;
Omana Kuttan et al., PLB 811 (2020) 135872).

Two representations of an event, both taken from its *own* particles (|η| < 0.8, so the finite-
multiplicity and event-to-event fluctuations are in the data, never averaged away):

- ``pointnet``: the charged-particle cloud, per particle (p_T, η, charge, cos nφ, sin nφ; n = 1..3),
  subsampled to ``max_particles``, plus the event's log multiplicity (lost by subsampling) as a global
  feature; a hierarchical Deep Sets network (``qcdgen.nn.pointnet``) reads a sample of k events;
- ``cnn``: ρ(p_T, φ), the event's charged counts on the pairs' (p_T, φ) grid (p_T < 2 GeV), log(1 + ρ)
  into the convolutional part of a DenseNet (periodic in φ), whose pooled features are averaged over
  the k events of a sample before the head. (Averaging the k images instead, in the lab frame,
  would wash out every event's flow pattern, whose reaction plane is random.)

A sample pools k events of one class. Training draws k at random from ``train_k`` per batch (the
networks take any k) and rotates every event by a random azimuth (the reaction plane is random, so
this is an exact symmetry). Accuracy vs k is measured on held-out events only, grouped into disjoint
k-event samples (averaged over several random groupings); its error is the Wilson 68 % score
interval for the number of independent samples. Regression of b uses k = 1; the resolution is the
rms of b_pred − b_true (bootstrap error), by centrality class.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.hic.conditional.emulator import CLASSES, load_model_file
from qcdgen.io.checkpoint import plain_values, save_checkpoint

__all__ = ["KINDS", "train_classifier", "evaluate_classifier", "load_classifier", "distinguishing_condition",
           "Classifier", "wilson_error"]

KINDS = {"eos": "eos-classifier", "b": "b-regressor"}
LABEL_KEYS = ("eos", "eta_s", "beta2", "sqrts")
N_FEAT = 9


def wilson_error(p: float, n: int) -> float:
    """Half-width of the 68 % Wilson score interval of a proportion p from n independent trials."""
    if n <= 0:
        return float("nan")
    return float(math.sqrt(p * (1 - p) / n + 1 / (4 * n * n)) / (1 + 1 / n))


def distinguishing_condition(pd_a, pd_b) -> tuple[str, float, float]:
    """(key, value_A, value_B): the first of eos, η/s, β₂, √s that is constant within each dataset and differs."""
    for key in LABEL_KEYS:
        a, b = np.asarray(pd_a.conditions[key], float), np.asarray(pd_b.conditions[key], float)
        if np.all(a == a[0]) and np.all(b == b[0]) and np.isfinite([a[0], b[0]]).all() and a[0] != b[0]:
            return key, float(a[0]), float(b[0])
    raise InputError("the two pair files do not differ in a single condition (eos, eta_s, beta2, sqrts) that is "
                     "constant within each: nothing to classify")


def _event_clouds(pd, max_particles: int, seed: int):
    x, mask = pd.clouds(max_particles, rng=np.random.default_rng(seed))
    return np.asarray(x, np.float32), np.asarray(mask, bool)


def _features(x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """[..., M, 4] (pT, φ, η, q) → [..., M, 9] with every event's φ rotated by ``rot`` [...]."""
    phi = x[..., 1] + rot.unsqueeze(-1)
    harm = [f(n * phi) for n in (1, 2, 3) for f in (torch.cos, torch.sin)]
    return torch.stack([x[..., 0] - 0.6, x[..., 2], x[..., 3]] + harm, dim=-1)


def _histograms(pd) -> np.ndarray:
    """Per-event charged counts on the pairs' (p_T, φ) grid from the event's own cloud: [N, n_pt, n_phi]."""
    pt_e, phi_e = np.asarray(pd.pt_edges, float), np.asarray(pd.phi_edges, float)
    out = np.zeros((len(pd), len(pt_e) - 1, len(phi_e) - 1), np.float32)
    for i in range(len(pd)):
        c = np.asarray(pd.cloud(i))
        out[i] = np.histogram2d(c[:, 0], c[:, 1], bins=(pt_e, phi_e))[0]
    return out


class Classifier:
    """A trained classifier (``target`` "eos") or b regressor (``target`` "b") on ``rep`` clouds or images."""

    def __init__(self, net, target: str, rep: str, meta: dict):
        self.net, self.target, self.rep, self.meta = net.eval(), target, rep, meta

    @property
    def kind(self) -> str:
        return KINDS[self.target]

    def data(self, pd, seed: int = 0) -> dict:
        """The per-event tensors this model reads."""
        if pd is None or len(pd) == 0:
            raise InputError("the pairs hold no events")
        glob = np.log(np.maximum(np.asarray(pd.n_charged, float), 1.0))[:, None]
        d = {"glob": torch.as_tensor(((glob - self.meta["glob_mean"]) / self.meta["glob_std"]).astype(np.float32))}
        if self.rep == "pointnet":
            x, m = _event_clouds(pd, int(self.meta["max_particles"]), seed)
            d |= {"x": torch.as_tensor(x), "mask": torch.as_tensor(m)}
        else:
            h = _histograms(pd)
            if h.shape[1:] != tuple(self.meta["hist_shape"]):
                raise InputError(f"the pairs' spectrum grid {h.shape[1:]} differs from the model's "
                                 f"{tuple(self.meta['hist_shape'])}")
            d["hist"] = torch.as_tensor(h)
        return d

    def forward(self, d: dict, groups: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Outputs [B, out] for samples ``groups`` [B, k] of event indices (random φ rotations if ``gen``)."""
        B, k = groups.shape
        if self.rep == "pointnet":
            rot = (torch.rand(B, k, generator=gen) * 2 * math.pi) if gen is not None else torch.zeros(B, k)
            return self.net(_features(d["x"][groups], rot), d["mask"][groups], d["glob"][groups])
        h = d["hist"][groups]                                        # [B, k, n_pt, n_phi]
        if gen is not None:
            shifts = torch.randint(h.shape[-1], (B, k), generator=gen)
            idx = (torch.arange(h.shape[-1])[None, None, :] - shifts[..., None]) % h.shape[-1]
            h = torch.gather(h, 3, idx[:, :, None, :].expand_as(h))
        feat = self.net.features(torch.log1p(h.reshape(B * k, 1, *h.shape[2:]))).reshape(B, k, -1)
        return self.net.head(torch.cat([feat.mean(dim=1), d["glob"][groups].mean(dim=1)], dim=1))

    def save(self, path) -> None:
        save_checkpoint(path, {"kind": self.kind, "target": self.target, "rep": self.rep, "config": self.net.config,
                               "state": self.net.state_dict(), "meta": plain_values(self.meta, False)})


def _make_net(rep: str, out_dim: int, width: int = 64):
    from qcdgen.nn.densenet import DenseNet2d
    from qcdgen.nn.pointnet import PointNet
    if rep == "pointnet":
        return PointNet(N_FEAT, out_dim, global_features=1, width=width, embed=width, hidden=width)
    if rep == "cnn":
        return DenseNet2d(1, out_dim, cond_dim=1, growth=max(width // 8, 2), blocks=2, layers_per_block=3,
                          stem=max(width // 4, 4), hidden=width, periodic_w=True)
    raise InputError(f"classifier representation must be pointnet or cnn, got {rep!r}")


def load_classifier(path, target: str | None = None) -> Classifier:
    """A classifier file; ``target`` None accepts either kind."""
    kinds = [KINDS[target]] if target else list(KINDS.values())
    p = None
    for i, k in enumerate(kinds):
        try:
            p = load_model_file(path, k)
            break
        except InputError as exc:
            if i == len(kinds) - 1:
                if len(kinds) > 1:
                    raise InputError(str(exc).replace(f"not a {k} model", "not a classifier model")) from None
                raise
    net = _make_net(p["rep"], p["config"]["out_dim"], int(p["meta"].get("width", 64)))
    net.load_state_dict(p["state"])
    return Classifier(net, p["target"], p["rep"], p["meta"])


def train_classifier(pd_a, pd_b=None, *, target: str = "eos", rep: str = "pointnet", train_k=(1, 2, 4, 8, 16),
                     steps: int = 400, batch: int = 16, lr: float = 2e-3, max_particles: int = 256,
                     test_fraction: float = 0.3, shuffle_labels: bool = False, width: int = 64, seed: int = 0,
                     progress=None):
    """Train on the events of ``pd_a`` (class 0) and ``pd_b`` (class 1) (``target`` "eos"), or on all events
    for b (``target`` "b", k = 1). A ``test_fraction`` of each class is held out; returns (model, held-out
    pairs, held-out labels or b). ``shuffle_labels`` permutes the labels over the training events (control)."""
    from qcdgen.hic.conditional.pairs import concat_pairs
    if target not in KINDS:
        raise InputError(f"--target must be eos or b, got {target!r}")
    parts = [pd_a] + ([pd_b] if pd_b is not None else [])
    for p in parts:
        if p is None or len(p) == 0:
            raise InputError("a pairs file holds no events")
    rng = np.random.default_rng(seed)
    meta = {"max_particles": int(max_particles), "train_k": [int(k) for k in train_k], "width": int(width)}
    if target == "eos":
        if pd_b is None:
            raise InputError("--target eos needs two pair files (class A, class B)")
        key, va, vb = distinguishing_condition(pd_a, pd_b)
        meta |= {"label_key": key, "label_values": [va, vb]}
    pd = concat_pairs(parts) if len(parts) > 1 else parts[0]
    y = np.repeat(np.arange(len(parts)), [len(p) for p in parts]) if target == "eos" else \
        np.asarray(pd.conditions["b"], float)
    is_test = np.zeros(len(pd), bool)
    for c in (range(len(parts)) if target == "eos" else [None]):
        idx = np.flatnonzero(y == c) if c is not None else np.arange(len(pd))
        is_test[rng.permutation(idx)[:int(round(test_fraction * len(idx)))]] = True
    tr = np.flatnonzero(~is_test)
    if target == "eos" and min(np.sum(y[tr] == 0), np.sum(y[tr] == 1)) < max(train_k):
        raise InputError(f"each class needs at least {max(train_k)} training events (largest k)")
    glob = np.log(np.maximum(np.asarray(pd.n_charged, float)[tr], 1.0))
    meta |= {"glob_mean": float(glob.mean()), "glob_std": float(max(glob.std(), 1e-3)),
             "hist_shape": [len(pd.pt_edges) - 1, len(pd.phi_edges) - 1]}
    if target == "b":
        meta |= {"b_mean": float(y[tr].mean()), "b_std": float(y[tr].std() + 1e-6)}
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Classifier(_make_net(rep, 2 if target == "eos" else 1, int(width)), target, rep, meta)
    d = model.data(pd, seed)
    y_tr = y[tr].copy()
    if shuffle_labels:
        y_tr = rng.permutation(y_tr)
    opt = torch.optim.Adam(model.net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    pools = [torch.as_tensor(tr[y_tr == c]) for c in (0, 1)] if target == "eos" else None
    model.net.train()
    for step in range(steps):
        if target == "eos":
            k = int(train_k[int(torch.randint(len(train_k), (1,), generator=gen))])
            lab = torch.arange(batch) % 2
            groups = torch.stack([pools[int(c)][torch.randperm(len(pools[int(c)]), generator=gen)[:k]] for c in lab])
            loss = torch.nn.functional.cross_entropy(model.forward(d, groups, gen), lab)
        else:
            groups = torch.as_tensor(tr)[torch.randint(len(tr), (batch, 1), generator=gen)]
            bt = torch.as_tensor(((y[groups[:, 0].numpy()] - meta["b_mean"]) / meta["b_std"]).astype(np.float32))
            loss = torch.mean((model.forward(d, groups, gen)[:, 0] - bt) ** 2)
        if not torch.isfinite(loss):
            raise InputError(f"classifier training diverged (loss {loss.item()}) at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if progress and step % 50 == 0:
            progress(step, float(loss.detach()))
    model.net.eval()
    model.meta["n_train"] = int(len(tr))
    test = np.flatnonzero(is_test)
    return model, pd.subset(test), y[test]


def labels_for(model: Classifier, pd) -> np.ndarray:
    """Class labels (0/1) of ``pd``'s events from the condition the classifier was trained to tell apart."""
    key, values = model.meta["label_key"], model.meta["label_values"]
    v = np.asarray(pd.conditions[key], float)
    lab = np.full(len(v), -1)
    for c, val in enumerate(values):
        lab[np.isclose(v, val)] = c
    if (lab < 0).any():
        raise InputError(f"{int((lab < 0).sum())} events have {key} = {v[lab < 0][0]:g}, neither of the classifier's "
                         f"classes {values}")
    return lab


@torch.no_grad()
def evaluate_classifier(model: Classifier, pd, labels=None, events_per_sample=(1, 4, 16), repeats: int = 5,
                        classes=CLASSES, n_boot: int = 200, seed: int = 0) -> dict:
    """Held-out accuracy vs k (disjoint k-event samples; Wilson errors), or the b resolution by class."""
    if pd is None or len(pd) == 0:
        raise InputError("the evaluation pairs hold no events")
    d = model.data(pd, seed + 1)
    rng = np.random.default_rng(seed)
    if model.target == "b":
        b = np.asarray(pd.conditions["b"], float)
        pred = np.concatenate([model.forward(d, torch.arange(s, min(s + 512, len(pd)))[:, None])[:, 0].numpy()
                               for s in range(0, len(pd), 512)]) * model.meta["b_std"] + model.meta["b_mean"]
        cent = np.asarray(pd.conditions["centrality"], float)

        def res(idx):
            r = pred[idx] - b[idx]
            boots = [np.sqrt(np.mean(r[rng.integers(0, len(r), len(r))] ** 2)) for _ in range(n_boot)]
            return {"n_events": int(len(idx)), "rms": [float(np.sqrt(np.mean(r ** 2))), float(np.std(boots))],
                    "bias": float(r.mean()), "b_spread": float(b[idx].std())}
        out = {"target": "b", "all": res(np.arange(len(pd))), "classes": {}}
        for lo, hi in classes:
            idx = np.flatnonzero((cent >= lo) & (cent < hi))
            if len(idx) >= 5:
                out["classes"][f"{lo:g}-{hi:g}"] = res(idx)
        return out
    lab = labels_for(model, pd) if labels is None else np.asarray(labels)
    rows = []
    for k in events_per_sample:
        k = int(k)
        if k < 1:
            raise InputError(f"--events-per-sample must be integers >= 1, got {k}")
        correct, n = 0, 0
        n_indep = 0
        for _ in range(repeats):
            groups, labs = [], []
            for c in np.unique(lab):
                idx = rng.permutation(np.flatnonzero(lab == c))
                g = idx[:len(idx) // k * k].reshape(-1, k)
                groups.append(g)
                labs.append(np.full(len(g), c))
            g, lb = np.concatenate(groups), np.concatenate(labs)
            if len(g) == 0:
                break
            pred = model.forward(d, torch.as_tensor(g)).argmax(1).numpy()
            correct, n, n_indep = correct + int((pred == lb).sum()), n + len(lb), len(lb)
        if n_indep == 0:
            rows.append({"k": k, "accuracy": None, "error": None, "n_samples": 0})
            continue
        p = correct / n
        rows.append({"k": k, "accuracy": p, "error": wilson_error(p, n_indep), "n_samples": n_indep})
    return {"target": "eos", "label_key": model.meta["label_key"], "label_values": model.meta["label_values"],
            "n_events": int(len(lab)), "rep": model.rep, "rows": rows}
