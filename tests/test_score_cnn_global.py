"""The score CNN's global (lattice-mean) pathway: still odd and translation-equivariant, no longer local."""

from __future__ import annotations

import torch

from qcdgen.nn.periodic_cnn import PeriodicScoreCNN


def perturbed(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net


def test_global_pool_keeps_oddness_and_translation_equivariance():
    net = perturbed(PeriodicScoreCNN(dim=2, channels=6, blocks=2, embed_dim=8, odd=True, global_pool=True).double())
    x = torch.randn(3, 12, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    c = torch.full((3,), 0.4, dtype=torch.float64)
    assert torch.allclose(net(-x, c), -net(x, c), atol=1e-12)
    shifted = torch.roll(x, (3, -5), (1, 2))
    assert torch.allclose(net(shifted, c), torch.roll(net(x, c), (3, -5), (1, 2)), atol=1e-12)
    assert net.receptive_radius is None


def test_global_pool_starts_as_the_local_net_and_then_sees_distant_sites():
    torch.manual_seed(2)
    local = PeriodicScoreCNN(dim=2, channels=6, blocks=1, embed_dim=8, odd=True).double()
    torch.manual_seed(2)
    pooled = PeriodicScoreCNN(dim=2, channels=6, blocks=1, embed_dim=8, odd=True, global_pool=True).double()
    x = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    c = torch.zeros(1, dtype=torch.float64)
    assert torch.allclose(local(x, c), pooled(x, c))  # the pooling maps start at zero
    perturbed(pooled, seed=4)
    far = x.clone()
    far[0, 8, 8] += 1.0  # Chebyshev distance 8 from site (0, 0), beyond the local radius 4
    assert local.receptive_radius == 4
    assert local(far, c)[0, 0, 0] == local(x, c)[0, 0, 0]
    assert abs(float(pooled(far, c)[0, 0, 0] - pooled(x, c)[0, 0, 0])) > 1e-6
