"""PointNet / Deep Sets networks for (sets of) point clouds.

Deep Sets (Zaheer et al., NeurIPS 2017): a permutation-invariant function of a set {x_i} is
ρ(pool_i φ(x_i)). PointNet (Qi et al., CVPR 2017) uses a shared per-point MLP φ and max
pooling; here the pool is the concatenation of the masked mean and the masked max, so the
network sees both bulk (spectra, flow) and extreme features of a padded cloud.

For a *sample* of k point clouds (k events of the same class) the same construction is applied
once more: each cloud gives an embedding e_j = pool_i φ(x_ij) ⊕ g_j (g_j: optional per-cloud
global features, e.g. the log multiplicity lost by subsampling), and the sample's output is
ρ(mean_j ψ(e_j)), invariant under permuting particles within a cloud and clouds within a
sample (hierarchical Deep Sets), and defined for any k.
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.errors import InputError

__all__ = ["PointNet", "masked_pool"]


def _mlp(sizes, final_act: bool) -> nn.Sequential:
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if final_act or i < len(sizes) - 2:
            mods.append(nn.SiLU())
    return nn.Sequential(*mods)


def masked_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[..., M, F] features, [..., M] bool mask → [..., 2F]: masked mean ⊕ masked max (0 for empty sets)."""
    m = mask.unsqueeze(-1).to(h.dtype)
    n = m.sum(dim=-2).clamp_min(1.0)
    mean = (h * m).sum(dim=-2) / n
    mx = torch.where(mask.unsqueeze(-1), h, torch.full_like(h, -1e30)).amax(dim=-2)
    mx = torch.where(mask.any(dim=-1, keepdim=True), mx, torch.zeros_like(mx))
    return torch.cat([mean, mx], dim=-1)


class PointNet(nn.Module):
    """out = net(x [B, K, M, F], mask [B, K, M], glob [B, K, G] or None) → [B, out_dim]

    B samples of K clouds of at most M points with F features each (pass K = 1 for single clouds).
    """

    def __init__(self, in_features: int, out_dim: int, global_features: int = 0, width: int = 64,
                 embed: int = 64, hidden: int = 64):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_dim", out_dim), ("width", width), ("embed", embed),
                        ("hidden", hidden)):
            if not (isinstance(v, int) and v >= 1):
                raise InputError(f"PointNet: {name} must be an integer >= 1, got {v!r}")
        if not (isinstance(global_features, int) and global_features >= 0):
            raise InputError(f"PointNet: global_features must be an integer >= 0, got {global_features!r}")
        self.config = dict(in_features=in_features, out_dim=out_dim, global_features=global_features, width=width,
                           embed=embed, hidden=hidden)
        self.global_features = global_features
        self.phi = _mlp([in_features, width, width, width], final_act=True)
        self.psi = _mlp([2 * width + global_features, embed, embed], final_act=True)
        self.rho = _mlp([embed, hidden, out_dim], final_act=False)

    def embed(self, x: torch.Tensor, mask: torch.Tensor, glob: torch.Tensor | None = None) -> torch.Tensor:
        """Per-cloud embeddings ψ(e_j): [B, K, embed]."""
        if x.dim() != 4 or mask.shape != x.shape[:3]:
            raise InputError(f"PointNet expects x [B, K, M, F] and mask [B, K, M], got {tuple(x.shape)}, "
                             f"{tuple(mask.shape)}")
        e = masked_pool(self.phi(x), mask)
        if self.global_features:
            if glob is None or glob.shape != (*x.shape[:2], self.global_features):
                raise InputError(f"PointNet expects global features [B, K, {self.global_features}]")
            e = torch.cat([e, glob.to(e.dtype)], dim=-1)
        return self.psi(e)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, glob: torch.Tensor | None = None) -> torch.Tensor:
        return self.rho(self.embed(x, mask, glob).mean(dim=1))
