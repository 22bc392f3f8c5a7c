"""Exponential moving average of network weights, θ_EMA ← d·θ_EMA + (1 − d)·θ.

Sampling with the averaged weights is standard for score models (Song & Ermon, NeurIPS
2020, sec. 4.2). The warm-up d_k = min(d, (1 + k)/(10 + k)) keeps early averages from
being dominated by the random initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.errors import InputError


class EMA:
    """Shadow copy of a module's floating-point parameters and buffers."""

    def __init__(self, module: nn.Module, decay: float = 0.999):
        if not (0.0 <= decay < 1.0):
            raise InputError(f"EMA decay must be in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in module.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, module: nn.Module) -> None:
        module.load_state_dict(self.shadow)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
