"""HMC ground truth against exact results: the free field and the one-site integral.

Runs the full pipeline (thermalise, pilot τ_int, production, HDF5, Γ-method analysis).
Fixed seeds make each run deterministic; 3σ is the acceptance criterion.
"""

import numpy as np
import pytest

from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.exact import free_chi2, free_propagator, free_xi2, one_site_moment
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.observables import cumulants_from_moments


def run(tmp_path, **kw):
    settings = HMCSettings(**{"configs": 2000, "chains": 8, "thermalize": 200, **kw})
    result = generate_hmc_ensemble(tmp_path / "ens.h5", settings, progress=False)
    return result, observe_file(tmp_path / "ens.h5")


def pull(est, exact):
    return (est.value - exact) / est.error


@pytest.mark.parametrize("dim,size,kappa,seed", [(1, 32, 0.45, 11), (2, 8, 0.22, 12), (3, 4, 0.15, 13)])
def test_free_field_phi2_and_propagator(tmp_path, dim, size, kappa, seed):
    """λ = 0: G(r) = (1/V) Σ_p e^{ipr} / (2 − 4κ Σ_μ cos p_μ), ⟨φ²⟩ = G(0), χ₂ = 1/A(0)."""
    result, obs = run(tmp_path, size=size, kappa=kappa, lam=0.0, dim=dim, seed=seed)
    exact_g = free_propagator(size, kappa, dim)
    assert abs(pull(obs["phi2"], exact_g[0])) < 3
    for r, g in enumerate(exact_g):
        assert abs(pull(obs[f"G_r{r}"], g)) < 3, (r, obs[f"G_r{r}"], g)
    assert abs(pull(obs["chi2"], free_chi2(size, kappa, dim))) < 3
    assert abs(pull(obs["xi2"], free_xi2(size, kappa, dim))) < 3
    # Gaussian field: all higher connected cumulants vanish
    for n in (3, 4):
        assert abs(obs[f"site_kappa{n}"].value) < 3 * obs[f"site_kappa{n}"].error
    # the test has power: errors are small compared with the values tested
    assert obs["phi2"].error < 0.01 * exact_g[0]
    # HMC bookkeeping: exact algorithm, ⟨e^{−ΔH}⟩ = 1
    assert abs(result.exp_minus_dh.value - 1) < 3 * result.exp_minus_dh.error


@pytest.mark.parametrize("lam", [0.022, 0.5, 2.0])
def test_one_site_limit_matches_quadrature(tmp_path, lam):
    """κ = 0: sites decouple into e^{−(1−2λ)φ² − λφ⁴}; ⟨φ²⟩, ⟨φ⁴⟩ and cumulants by quadrature."""
    _, obs = run(tmp_path, size=4, kappa=0.0, lam=lam, dim=2, seed=21, configs=1500)
    phi2 = one_site_moment(lam, 2)
    phi4 = one_site_moment(lam, 4)
    assert abs(pull(obs["phi2"], phi2)) < 3
    exact_k = cumulants_from_moments([one_site_moment(lam, k) for k in range(1, 9)])
    assert abs(pull(obs["site_kappa2"], exact_k[1])) < 3
    assert abs(pull(obs["site_kappa4"], exact_k[3])) < 3
    # ⟨φ⁴⟩ from κ₄ + 3κ₂² (the odd cumulants vanish by symmetry)
    assert exact_k[3] + 3 * exact_k[1] ** 2 == pytest.approx(phi4, rel=1e-9)
    # and the interaction is visible: κ₄ differs from the Gaussian value 0 at large λ
    if lam >= 0.5:
        assert abs(obs["site_kappa4"].value) > 5 * obs["site_kappa4"].error


def test_one_site_quadrature_reproduces_gaussian_moments():
    """λ → 0: the weight is e^{−φ²}, ⟨φ²⟩ = 1/2, ⟨φ⁴⟩ = 3/4."""
    assert one_site_moment(0.0, 2) == pytest.approx(0.5, rel=1e-10)
    assert one_site_moment(0.0, 4) == pytest.approx(0.75, rel=1e-10)
    assert one_site_moment(0.0, 3) == pytest.approx(0.0, abs=1e-12)


def test_free_propagator_sums_to_susceptibility():
    """Σ_x G(x) = 1/A(0) = χ₂ (checks the exact propagator against the closed form)."""
    size, kappa, dim = 8, 0.2, 2
    from qcdgen.lattice.exact import _free_kernel
    import torch

    g_x = torch.fft.ifftn(1.0 / _free_kernel(size, kappa, dim)).real
    assert g_x.sum().item() == pytest.approx(free_chi2(size, kappa, dim), rel=1e-12)
    assert np.all(np.diff(free_propagator(size, kappa, dim)) < 0)


def test_interacting_two_site_lattice_matches_quadrature(tmp_path):
    """κ > 0 and λ > 0 together: d = 1, L = 2 is a 2D integral; ⟨φ²⟩, χ₂ and U_L exactly."""
    from qcdgen.lattice.exact import two_site_expectation

    # Over seeds 0-5 and all three HMC variants the pulls of ⟨φ²⟩ and χ₂ scattered like N(0, 1)
    # (|pull| <= 2); one fixed seed keeps the test deterministic.
    kappa, lam = 0.3, 0.6
    _, obs = run(tmp_path, size=2, kappa=kappa, lam=lam, dim=1, seed=0, configs=3000)
    phi2 = two_site_expectation(kappa, lam, lambda a, b: (a * a + b * b) / 2)
    m2 = two_site_expectation(kappa, lam, lambda a, b: ((a + b) / 2) ** 2)
    m4 = two_site_expectation(kappa, lam, lambda a, b: ((a + b) / 2) ** 4)
    assert abs(pull(obs["phi2"], phi2)) < 3
    assert abs(pull(obs["chi2"], 2 * m2)) < 3  # ⟨M⟩ = 0 by symmetry, V = 2
    assert abs(pull(obs["binder"], 1 - m4 / (3 * m2**2))) < 3
    # the coupling matters: the κ = 0 answer is excluded
    assert abs(pull(obs["phi2"], one_site_moment(lam, 2))) > 5
