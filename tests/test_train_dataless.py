"""The dataless training loop: reverse KL to a known Gaussian, NaN restarts, bit-identical resume."""

import math

import pytest
import torch
from torch import nn

from qcdgen.errors import NaNError
from qcdgen.train import DatalessSettings, train_dataless

MU, SIGMA = 2.0, 0.5


class Gaussian(nn.Module):
    """q = N(m, e^{2s}) by reparametrisation."""

    def __init__(self):
        super().__init__()
        self.m = nn.Parameter(torch.zeros(()))
        self.s = nn.Parameter(torch.zeros(()))

    def sample(self, n, generator):
        eps = torch.randn(n, generator=generator)
        x = self.m + self.s.exp() * eps
        log_q = -0.5 * eps ** 2 - self.s - 0.5 * math.log(2 * math.pi)
        return x, log_q


def reverse_kl(model, n, generator):
    x, log_q = model.sample(n, generator)
    log_p = -0.5 * ((x - MU) / SIGMA) ** 2  # unnormalised: log Z = log(sqrt(2 pi) sigma)
    loss = (log_q - log_p).mean()
    log_w = (log_p - log_q).detach()
    log_z = float(torch.logsumexp(log_w, 0) - math.log(n))
    return loss, {"log_z": log_z}


def test_reverse_kl_reaches_the_exact_gaussian_and_log_z():
    model = Gaussian()
    result = train_dataless(model, reverse_kl, DatalessSettings(steps=600, batch_size=256, lr=0.05, warmup=10),
                            progress=False)
    assert float(model.m.detach()) == pytest.approx(MU, abs=0.02)
    assert float(model.s.detach().exp()) == pytest.approx(SIGMA, rel=0.02)
    exact = math.log(math.sqrt(2 * math.pi) * SIGMA)
    # the loss is the variational free energy, >= -log Z, with equality at q = p
    assert result.losses[-1] == pytest.approx(-exact, abs=0.01)
    assert result.metrics["log_z"][-1] == pytest.approx(exact, abs=0.01)
    assert result.restarts == []


def test_a_nan_step_rolls_back_and_halves_the_learning_rate():
    calls = {"n": 0}

    def flaky(model, n, generator):
        calls["n"] += 1
        loss, metrics = reverse_kl(model, n, generator)
        return (loss * math.nan if calls["n"] == 30 else loss), metrics

    model = Gaussian()
    with pytest.warns(RuntimeWarning, match="restarted from the last good state"):
        result = train_dataless(model, flaky, DatalessSettings(steps=200, batch_size=128, lr=0.05, warmup=1,
                                                               snapshot_every=10), progress=False)
    assert [r["step"] for r in result.restarts] == [29]
    assert result.restarts[0]["lr_scale"] == 0.5
    assert float(model.m.detach()) == pytest.approx(MU, abs=0.1)


def test_persistent_nans_raise_a_clear_error():
    def broken(model, n, generator):
        loss, metrics = reverse_kl(model, n, generator)
        return loss * math.nan, metrics

    with pytest.warns(RuntimeWarning), pytest.raises(NaNError, match="lower the learning rate"):
        train_dataless(Gaussian(), broken, DatalessSettings(steps=50, max_restarts=2), progress=False)


def test_resume_is_bit_identical(tmp_path):
    settings = DatalessSettings(steps=80, batch_size=64, lr=0.05, warmup=5, log_every=7, snapshot_every=9)
    ref = Gaussian()
    full = train_dataless(ref, reverse_kl, settings, progress=False)
    model = Gaussian()
    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        train_dataless(model, reverse_kl, settings, checkpoint=ckpt, progress=False, stop_after=33)
    model = Gaussian()
    resumed = train_dataless(model, reverse_kl, settings, checkpoint=ckpt, progress=False)
    assert torch.equal(model.m, ref.m) and torch.equal(model.s, ref.s)
    assert resumed.losses.tolist() == full.losses.tolist()
    assert not ckpt.exists()
