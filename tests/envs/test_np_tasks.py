"""Neural-process worlds: GP sampling statistics against the kernels, digit completion, the streamed-context env
and the wheel bandit against its definition (Riquelme et al. 2018)."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/ ids)
from envs.tasks.gp_tasks import GPSampler, context_blocks, kernel_matrix, sample_functions
from envs.tasks.image_completion import DigitCompletionSampler, pixel_coordinates
from envs.tasks.np_env import NeuralProcessEnv, gaussian_log_likelihood
from envs.tasks.wheel_bandit import WheelBanditEnv, expected_rewards, sample_contexts, sample_rewards


def test_kernel_closed_forms() -> None:
    x = np.array([[[0.0], [0.3]]])
    ell, s = np.array([0.3]), np.array([0.8])
    rbf = kernel_matrix(x, "rbf", ell, s)[0]
    matern = kernel_matrix(x, "matern52", ell, s)[0]
    assert rbf[0, 0] == pytest.approx(0.64 + 0.02**2) and rbf[0, 1] == pytest.approx(0.64 * math.exp(-0.5))
    r5 = math.sqrt(5.0)  # r = 1
    assert matern[0, 1] == pytest.approx(0.64 * (1 + r5 + 5 / 3) * math.exp(-r5))
    per = kernel_matrix(x, "periodic", ell, s, period=np.array([0.6]))[0]
    assert per[0, 1] == pytest.approx(0.64 * math.exp(-2 * (math.sin(math.pi * 0.5) / 0.3) ** 2))


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_gp_samples_have_the_kernel_covariance(kernel) -> None:
    n = 20_000
    rng = np.random.default_rng(0)
    grid = np.linspace(-1, 1, 5)[None, :, None].repeat(n, 0)
    ell, s = np.full(n, 0.4), np.full(n, 0.8)
    y = sample_functions(rng, grid, kernel, ell, s)[..., 0]  # (n, 5)
    emp = y.T @ y / n
    np.testing.assert_allclose(emp, kernel_matrix(grid[:1], kernel, ell[:1], s[:1])[0], atol=0.03)
    assert abs(y.mean()) < 0.02


def test_gp_sampler_protocol_ranges() -> None:
    sampler, rng = GPSampler("rbf"), np.random.default_rng(1)
    sizes = np.array([(b.xc.shape[1], b.xt.shape[1]) for b in (sampler.sample(rng, 1) for _ in range(1500))])
    assert sizes[:, 0].min() == 3 and sizes[:, 0].max() == 46  # N_c ~ U{3, …, 46}
    assert sizes[:, 1].min() == 3 and (sizes.sum(1) <= 49).all()  # N_t ≤ max − N_c − 1
    batch = sampler.sample(rng, 16, num_ctx=10, num_tar=20)
    assert batch.xc.shape == (16, 10, 1) and batch.yt.shape == (16, 20, 1) and batch.xc.dtype == np.float32
    assert (np.abs(batch.x) <= 2).all()
    blocks = list(context_blocks(batch.xc, batch.yc, 4))
    assert [b[0].shape[1] for b in blocks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks], 1), batch.xc)


def test_digit_completion_tasks() -> None:
    coords = pixel_coordinates()
    assert coords.shape == (64, 2) and coords.min() == -1 and coords.max() == 1
    seen = DigitCompletionSampler((0, 1, 2, 3, 4), "train")
    test = DigitCompletionSampler((0, 1, 2, 3, 4), "test")
    assert len(seen) + len(test) == len(DigitCompletionSampler((0, 1, 2, 3, 4), "all"))
    batch = seen.sample(np.random.default_rng(0), 8, num_ctx=20, num_tar=30)
    assert batch.xc.shape == (8, 20, 2) and batch.yt.shape == (8, 30, 1)
    assert batch.y.min() >= -0.5 and batch.y.max() <= 0.5
    for task in range(8):  # context and target pixels are distinct, and y is the pixel at x
        pix = [tuple(p) for p in batch.x[task]]
        assert len(set(pix)) == 50
        index = [int(np.flatnonzero((coords == p).all(1))[0]) for p in batch.x[task]]
        assert any(np.allclose(img[index], batch.y[task, :, 0]) for img in seen.values)


def test_np_env_streams_context_and_rewards_log_likelihood() -> None:
    env = NeuralProcessEnv(task="gp", block_size=4)
    obs, info = env.reset(seed=3)
    n_ctx, n_tar = info["num_context"], info["num_target"]
    task = env.task_batch
    assert obs["context_mask"].sum() == min(4, n_ctx) and obs["target_mask"].sum() == n_tar
    np.testing.assert_array_equal(obs["target_x"][:n_tar], task.xt[0])
    action = np.zeros(env.action_space.shape, np.float32)
    action[:, 1] = math.log(0.5)
    steps, done = 0, False
    while not done:
        obs, reward, done, trunc, _ = env.step(action)
        steps += 1
        expected = gaussian_log_likelihood(task.yt[0, :, 0], 0.0, math.log(0.5)).mean()
        assert reward == pytest.approx(expected, rel=1e-6) and not trunc
    assert steps == math.ceil(n_ctx / 4)
    assert gaussian_log_likelihood(np.array(1.0), 1.0, 0.0) == pytest.approx(-0.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("env_id,kwargs", [("recast/NPRegression-v0", {}),
                                           ("recast/NPRegression-v0", {"task": "digits", "classes": "unseen"}),
                                           ("recast/WheelBandit-v0", {})])
def test_registered_envs_pass_check_env(env_id, kwargs) -> None:
    env = gymnasium.make(env_id, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)


def test_wheel_rewards_follow_the_definition() -> None:
    delta = 0.5
    x = np.array([[0.1, 0.1], [0.6, 0.6], [-0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [0.49, 0.0]])
    means = expected_rewards(x, delta)
    np.testing.assert_array_equal(means[0], [1.2, 1, 1, 1, 1])  # inside: arm 0 optimal
    for row, arm in zip(means[1:5], [1, 2, 3, 4]):  # outside: the quadrant arm pays 50
        assert row[arm] == 50 and row[0] == 1.2 and np.sum(row == 1.0) == 3
    np.testing.assert_array_equal(means[5], [1.2, 1, 1, 1, 1])
    draws = sample_rewards(np.random.default_rng(0), np.repeat(x[1:2], 20_000, 0), delta)
    np.testing.assert_allclose(draws.mean(0), [1.2, 50, 1, 1, 1], atol=2e-3)
    np.testing.assert_allclose(draws.std(0), [0.05, 0.01, 0.05, 0.05, 0.05], rtol=0.03)
    ctx = sample_contexts(np.random.default_rng(1), 50_000)
    r2 = (ctx**2).sum(1)
    assert r2.max() <= 1 and abs(r2.mean() - 0.5) < 0.01  # uniform in the disk: E‖x‖² = 1/2
    assert abs((r2 >= 0.9**2).mean() - (1 - 0.81)) < 0.01


def test_wheel_env_regret_and_horizon() -> None:
    env = WheelBanditEnv(delta=0.3, horizon=5)
    obs, info = env.reset(seed=0)
    total = 0
    for t in range(5):
        means = expected_rewards(obs[None].astype(np.float64), 0.3)[0]
        assert info["optimal_arm"] == means.argmax()
        obs, reward, term, trunc, info2 = env.step(2)
        assert info2["regret"] == pytest.approx(means.max() - means[2], abs=1e-5) and not term
        total += 1
        info = info2
    assert trunc and total == 5
