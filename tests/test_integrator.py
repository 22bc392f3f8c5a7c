"""The shared ODE/SDE integrator against exact solutions (no physics domain).

For the linear ODE dx/dt = a x one step of size h multiplies x by the solver's amplification factor,
R(z) = 1 + z (Euler), 1 + z + z²/2 (Heun), Σ_{k≤4} z^k/k! (RK4), z = ah; n steps give R(z)^n, which
converges to e^{a(t1 - t0)} at the solver's order.
"""

import itertools
import math
import warnings

import pytest
import torch

from qcdgen.diffusion.integrator import (DENSITY_SOLVERS, SOLVERS, Step, euler_maruyama_step, grid_steps, ode_step,
                                         ode_step_with_divergence, ode_step_with_jacobian, odeint, uniform_steps)
from qcdgen.errors import InputError

AMPLIFICATION = {
    "euler": lambda z: 1 + z,
    "heun": lambda z: 1 + z + z ** 2 / 2,
    "rk4": lambda z: 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24,
}
ORDER = {"euler": 1, "heun": 2, "rk4": 4}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("a,h", [(-1.3, 0.1), (0.7, 0.25), (-4.0, -0.05)])
def test_one_step_of_a_linear_ode_is_the_amplification_factor(solver, a, h):
    x = torch.tensor([1.0, -2.5, 3e-3], dtype=torch.float64)
    step = Step(torch.tensor(0.4, dtype=torch.float64), torch.tensor(0.4 + h, dtype=torch.float64), h)
    out = ode_step(lambda y, t: a * y, x, step, solver)
    assert torch.allclose(out, AMPLIFICATION[solver](a * h) * x, rtol=1e-14, atol=0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_n_steps_are_the_power_of_the_factor_and_converge_at_the_solver_order(solver):
    a, x0 = -1.7, torch.tensor([2.0], dtype=torch.float64)
    errors = []
    for n in (10, 20, 40):
        x = odeint(lambda y, t: a * y, x0, uniform_steps(n, 0.0, 1.0), solver)
        assert math.isclose(float(x), 2.0 * AMPLIFICATION[solver](a / n) ** n, rel_tol=1e-12)
        errors.append(abs(float(x) - 2.0 * math.exp(a)))
    for coarse, fine in itertools.pairwise(errors):
        assert math.isclose(math.log2(coarse / fine), ORDER[solver], abs_tol=0.15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_dependent_field_and_list_states(solver):
    """dx/dt = cos t, dy/dt = −y (a list state): x = sin t, y = e^{−t}; RK4 integrates cos exactly to O(h⁴)."""
    steps = uniform_steps(64, 0.0, 2.0)
    x, y = odeint(lambda s, t: [math.cos(t) + 0 * s[0], -s[1]],
                  [torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)], steps, solver)
    tol = {"euler": 3e-2, "heun": 3e-4, "rk4": 1e-7}[solver]
    assert abs(float(x) - math.sin(2.0)) < tol and abs(float(y) - math.exp(-2.0)) < tol


def test_steps_grids_and_time_dtypes():
    steps = uniform_steps(4, 0.0, 1.0, dtype=torch.float32)
    assert [float(s.t) for s in steps] == [0.0, 0.25, 0.5, 0.75] and steps[-1].h == 0.25
    assert steps[0].t.dtype == torch.float32 and steps[0].t.dim() == 0 and float(steps[-1].t_next) == 1.0
    grid = torch.tensor([1.0, 0.6, 0.1], dtype=torch.float64)
    g = grid_steps(grid, batch=3, dtype=torch.float32)
    assert len(g) == 2 and g[1].t.shape == (3,) and g[1].t.dtype == torch.float32
    assert g[0].h == float(grid[1] - grid[0]) < 0
    with pytest.raises(InputError, match="steps must be an integer"):
        uniform_steps(0)
    with pytest.raises(InputError, match="1-D grid"):
        grid_steps(torch.tensor([1.0]))
    with pytest.raises(InputError, match="solver must be one of"):
        odeint(lambda y, t: y, torch.zeros(1), uniform_steps(1), "midpoint")
    with pytest.raises(InputError, match="solver must be one of"):
        ode_step_with_jacobian(lambda y, t: (y, None), torch.zeros(1, 1), uniform_steps(1)[0], "rk4")


def test_constrain_keeps_every_state_in_the_box():
    seen = []

    def field(y, t):
        seen.append(y.clone())
        return torch.full_like(y, 50.0)

    out = odeint(field, torch.zeros(4), uniform_steps(3), "heun", constrain=lambda y: y.clamp(-1, 1))
    assert torch.equal(out, torch.ones(4)) and all(bool((s.abs() <= 1).all()) for s in seen)


@pytest.mark.parametrize("solver", DENSITY_SOLVERS)
def test_step_jacobian_is_the_jacobian_of_the_discrete_map(solver):
    """For a nonlinear field the returned matrix equals autograd's Jacobian of the whole step."""
    torch.manual_seed(0)
    w = torch.randn(3, 3, dtype=torch.float64)

    def v(x, t):
        return torch.tanh(x @ w.T) * (1 + t[:, None])

    def field(x, t):
        jac = torch.func.vmap(torch.func.jacrev(lambda xi, ti: v(xi[None], ti[None])[0]))(x, t)
        return v(x, t), jac

    x = torch.randn(5, 3, dtype=torch.float64)
    step = Step(torch.full((5,), 0.3, dtype=torch.float64), torch.full((5,), 0.1, dtype=torch.float64), -0.2)
    out, jac = ode_step_with_jacobian(field, x, step, solver)
    assert torch.allclose(out, ode_step(lambda y, t: v(y, t), x, step, solver), rtol=0, atol=1e-15)
    ref = torch.stack([torch.autograd.functional.jacobian(
        lambda xi: ode_step(lambda y, t: v(y, t[:1]), xi[None], Step(step.t[:1], step.t_next[:1], step.h), solver)[0],
        xi) for xi in x])
    assert torch.allclose(jac, ref, atol=1e-13)


@pytest.mark.parametrize("solver", DENSITY_SOLVERS)
def test_divergence_quadrature_of_a_linear_flow(solver):
    """dx/dt = a x in D dims: tr ∂v/∂x = aD, so n steps integrate it to a D (t1 − t0) exactly."""
    a, dim = -0.8, 3
    x = torch.ones(2, dim, dtype=torch.float64)
    total = torch.zeros(2, dtype=torch.float64)
    for step in uniform_steps(5, 0.0, 1.5):
        x, inc = ode_step_with_divergence(lambda y, t: (a * y, torch.full((2,), a * dim, dtype=y.dtype)), x, step,
                                          solver)
        total = total + inc
    assert torch.allclose(total, torch.full((2,), a * dim * 1.5, dtype=torch.float64), rtol=1e-14)
    assert torch.allclose(x, torch.full_like(x, AMPLIFICATION[solver](a * 0.3) ** 5), rtol=1e-14)


def test_euler_maruyama_step_is_seeded_and_its_moments_are_exact():
    x = torch.zeros(200_000, dtype=torch.float64)
    a = euler_maruyama_step(x + 1.0, torch.full_like(x, 2.0), 0.25, 0.5, torch.Generator().manual_seed(3))
    b = euler_maruyama_step(x + 1.0, torch.full_like(x, 2.0), 0.25, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert abs(float(a.mean()) - 1.5) < 5 * 0.5 / math.sqrt(len(x)) and abs(float(a.std()) - 0.5) < 0.005
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    assert torch.equal(euler_maruyama_step(x, x + 1, -0.5, None, g), x - 0.5)
    assert torch.equal(g.get_state(), state)  # no noise, no draw
    assert euler_maruyama_step(x.float(), x.float(), 0.1, 1.0, g, noise_dtype=torch.float64).dtype == torch.float64


def test_old_path_sampler_module_is_a_deprecated_alias():
    import importlib
    import sys

    import qcdgen.diffusion.trajectory_balance as tb

    sys.modules.pop("qcdgen.diffusion.path_sampler", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("qcdgen.diffusion.path_sampler")
    assert any(issubclass(w.category, DeprecationWarning) and "trajectory_balance" in str(w.message) for w in caught)
    for name in tb.__all__:
        assert getattr(old, name) is getattr(tb, name)
