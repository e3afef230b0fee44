"""Posterior problems (reference ln Z, torch/NumPy agreement) and the metered query env."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from scipy import special

import envs  # noqa: F401  (registers recast/*)
from envs.inference import (
    LOG_L_FLOOR,
    PROBLEMS,
    BudgetExhausted,
    LikelihoodMeter,
    PosteriorQueryEnv,
    make_problem,
)

ENV_ID = "recast/PosteriorQuery-v0"
SMALL = [("gaussian", 2), ("mixture", 2), ("grid", 2), ("shells", 2), ("funnel", 3), ("rosenbrock", 2)]


@pytest.mark.parametrize("name,dim", SMALL)
def test_reference_log_z_matches_monte_carlo(name: str, dim: int) -> None:
    problem = make_problem(name, dim)
    rng = np.random.default_rng(0)
    logl = problem.log_likelihood(problem.prior_transform(rng.random((400_000, dim))))
    log_mean = special.logsumexp(logl) - math.log(len(logl))
    # relative MC error of the mean ≈ sqrt(var/N)/mean; generous 5 %
    assert log_mean == pytest.approx(problem.log_z, abs=0.05)


def test_closed_forms() -> None:
    for d in (1, 4, 32):
        assert make_problem("gaussian", d).log_z == pytest.approx(d * (math.log(math.erf(5 / math.sqrt(2))) - math.log(10)))
    # MultiNest's Gaussian-shell table (Feroz et al. 2009): d = 2, 5, 10, 20, 30
    for d, ref in [(2, -1.75), (5, -5.67), (10, -14.59), (20, -36.09), (30, -60.13)]:
        assert make_problem("shells", d).log_z == pytest.approx(ref, abs=0.01)
    assert make_problem("mixture", 2).log_z == pytest.approx(-2 * math.log(10), abs=0.05)  # modes ≈ inside the box


@pytest.mark.parametrize("name,dim", SMALL + [("shells", 16), ("mixture", 8), ("rotated-1e3", 16), ("rotated", 3)])
def test_torch_and_numpy_agree_and_gradients_are_finite(name: str, dim: int) -> None:
    problem = make_problem(name, dim)
    u = np.random.default_rng(1).random((64, dim))
    x_np = problem.prior_transform(u)
    x_t = torch.as_tensor(x_np).requires_grad_(True)
    logl_t = problem.log_likelihood(x_t)
    np.testing.assert_allclose(logl_t.detach().numpy(), problem.log_likelihood(x_np), rtol=1e-10, atol=1e-8)
    assert logl_t.shape == (64,)
    (grad,) = torch.autograd.grad(logl_t.sum(), x_t)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("cond", [1e2, 1e3, 1e4])
def test_rotated_gaussian_is_the_stated_density(cond: float) -> None:
    """Σ has the stated condition number and is not axis-aligned; ln L is scipy's N(0, Σ) log-density;
    ln Z = ln P(box) − d ln 10 with P(box) checked by sampling N(0, Σ) directly."""
    from scipy import stats

    d = 16
    problem = make_problem(f"rotated-1e{round(math.log10(cond))}", d)
    cov = (problem.rotation * problem.sigmas**2) @ problem.rotation.T
    eig = np.linalg.eigvalsh(cov)
    assert eig.max() / eig.min() == pytest.approx(cond, rel=1e-9)
    off = np.abs(cov - np.diag(np.diag(cov))).max()
    assert off > 0.1 * np.sqrt(eig.max() * eig.min())  # strongly correlated coordinates
    x = np.random.default_rng(2).standard_normal((5, d))
    np.testing.assert_allclose(problem.log_likelihood(x), stats.multivariate_normal(np.zeros(d), cov).logpdf(x),
                               rtol=1e-10)
    draws = np.random.default_rng(3).multivariate_normal(np.zeros(d), cov, size=200_000)
    inside = np.all(np.abs(draws) <= 5, axis=1).mean()
    assert problem.log_z == pytest.approx(math.log(inside) - d * math.log(10), abs=1e-4)
    assert problem.log_z_method == "analytic" and problem.name == f"rotated-1e{round(math.log10(cond))}"


def test_problem_argument_errors() -> None:
    with pytest.raises(ValueError, match="unknown problem"):
        make_problem("eggbox", 2)
    with pytest.raises(ValueError, match="even"):
        make_problem("rosenbrock", 3)
    with pytest.raises(ValueError, match="2-D"):
        make_problem("grid", 3)
    with pytest.raises(ValueError, match="dim"):
        make_problem("gaussian", 0)
    with pytest.raises(ValueError, match="cond"):
        make_problem("rotated", 4, cond=0.5)
    assert set(PROBLEMS) >= {"gaussian", "mixture", "shells", "funnel", "rosenbrock"}


def test_meter_counts_values_and_gradients() -> None:
    meter = LikelihoodMeter(make_problem("gaussian", 3))
    x = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    logl = meter.log_likelihood(x)
    assert (meter.n_likelihood, meter.n_gradient) == (5, 0)
    torch.autograd.grad(logl.sum(), x)
    assert (meter.n_likelihood, meter.n_gradient) == (5, 5)
    assert isinstance(meter.log_likelihood(np.zeros(3)), float)  # dynesty's one-point calls
    meter.log_likelihood(np.zeros((4, 3)))
    assert meter.n_total == 5 + 5 + 1 + 4
    logl, grad = meter.query(np.full((2, 3), 0.5))
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)  # the peak is the box centre
    assert meter.n_total == 15 + 4


def test_meter_budget() -> None:
    meter = LikelihoodMeter(make_problem("gaussian", 2), budget=10)
    meter.log_likelihood(np.zeros((8, 2)))
    with pytest.raises(BudgetExhausted, match="budget of 10"):
        meter.log_likelihood(np.zeros((3, 2)))
    assert meter.n_total == 8


def test_check_env() -> None:
    env = gymnasium.make(ENV_ID, problem="shells", dim=3, batch_size=4, budget=1000)
    check_env(env.unwrapped)
    env.close()


def test_env_steps_meter_and_truncation() -> None:
    env = PosteriorQueryEnv(problem="gaussian", dim=2, batch_size=3, budget=10)
    obs, info = env.reset(seed=0)
    assert obs["log_likelihood"].shape == (3,) and obs["gradient"].shape == (3, 2)
    assert np.all(obs["log_likelihood"] == LOG_L_FLOOR) and info["log_z"] == pytest.approx(env.problem.log_z)
    action = np.array([[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]])
    obs, reward, terminated, truncated, info = env.step(action)
    expected = env.problem.log_likelihood(env.problem.prior_transform(action))
    np.testing.assert_allclose(obs["log_likelihood"], expected)
    assert reward == pytest.approx(-6 / 10) and not terminated and not truncated
    assert (info["n_likelihood_evals"], info["n_gradient_evals"]) == (3, 3)
    obs, reward, terminated, truncated, info = env.step(action)  # only 4 evaluations left: 2 points
    assert truncated and info["n_likelihood_evals"] == 5 and obs["log_likelihood"][2] == LOG_L_FLOOR
    assert obs["budget_left"][0] == 0.0
    env.reset()
    assert env.meter.n_total == 0
