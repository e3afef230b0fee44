"""Tests of the platform's Gymnasium env (`recast/PersuasionPlatform-v0`), exact and simulate modes."""

from __future__ import annotations

import importlib.util

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.social.game import SocialGame, performative_update
from envs.social.platform_env import PersuasionPlatformEnv

ENV_ID = "recast/PersuasionPlatform-v0"
BASE = np.array([0.3, 0.4, 0.1, 0.2])  # default μ_base, order TU, TP, MU, MP
ALL_SHARE = np.ones(4, dtype=np.float32)
HAS_MODEL = importlib.util.find_spec("envs.social.model") is not None
SIM = {"mode": "simulate", "n_users": 200, "posts_per_round": 100, "n_rounds": 5}


def test_check_env_exact() -> None:
    env = gymnasium.make(ENV_ID)
    check_env(env.unwrapped)
    env.close()


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_check_env_simulate() -> None:
    env = gymnasium.make(ENV_ID, **SIM)
    check_env(env.unwrapped)
    env.close()


def test_spaces_and_observation_layout() -> None:
    env = PersuasionPlatformEnv(engagement_weight=0.25)
    obs, info = env.reset(seed=0)
    assert env.action_space.shape == (4,) and env.observation_space.shape == (4 + 16 + 4,)
    np.testing.assert_allclose(obs[:4], BASE, atol=1e-7)
    np.testing.assert_allclose(obs[4:20], env.game.confusion.ravel(), atol=1e-7)
    np.testing.assert_array_equal(obs[20:], 0.0)
    assert env.observation_space.low[22] == -1.0 and env.observation_space.high[22] == np.float32(0.25)
    np.testing.assert_array_equal(info["prior"], BASE)


def test_reward_is_exact_platform_utility() -> None:
    kwargs = {"misinformation_accuracy": 0.7, "popularity_accuracy": 0.9, "engagement_weight": 0.3, "eta": 0.6}
    env = gymnasium.make(ENV_ID, n_rounds=6, **kwargs)
    game = SocialGame.default(misinformation_accuracy=0.7, popularity_accuracy=0.9, engagement_weight=0.3)
    env.reset(seed=1)
    env.action_space.seed(1)
    prior = BASE
    for t in range(6):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        expected = game.with_prior(prior).outcomes(action)
        next_prior, _ = performative_update(prior, BASE, expected.share_given_state, 0.6)
        assert reward == pytest.approx(expected.platform_utility, abs=1e-12)
        np.testing.assert_allclose(info["prior"], prior, atol=1e-12)
        np.testing.assert_allclose(info["next_prior"], next_prior, atol=1e-12)
        assert info["misinformation_share_rate"] == pytest.approx(expected.p_share_and_misinformation)
        assert info["prior_change"] == pytest.approx(np.max(np.abs(next_prior - prior)))
        np.testing.assert_allclose(obs[:4], next_prior, atol=1e-6)
        rates = [expected.p_share, expected.p_share_and_misinformation, reward]
        np.testing.assert_allclose(obs[20:23], rates, atol=1e-6)
        assert obs[23] == pytest.approx((t + 1) / 6)
        assert not terminated and truncated == (t == 5)
        prior = next_prior


def test_eta_zero_is_a_static_world() -> None:
    env = PersuasionPlatformEnv(eta=0.0, n_rounds=8)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(8):
        _, _, _, _, info = env.step(env.action_space.sample())
        np.testing.assert_array_equal(info["next_prior"], BASE)
        assert info["prior_change"] == 0.0


@pytest.mark.parametrize("prior", [BASE, np.array([0.5, 0.1, 0.3, 0.1])])
def test_eta_one_all_share_keeps_the_prior(prior: np.ndarray) -> None:
    """φ ≡ 1: everything is shared (or, if users never share, nothing is) ⇒ post_t = μ_t ⇒ μ_{t+1} = μ_t."""
    env = PersuasionPlatformEnv(prior=prior, eta=1.0)
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, _, info = env.step(ALL_SHARE)
        np.testing.assert_allclose(info["next_prior"], prior, atol=1e-12)
    # the second prior is unpopular-heavy: users ignore a recommendation that carries no information
    assert info["nothing_shared"] == (prior[1] + prior[3] < prior[0] + prior[2])


@pytest.mark.parametrize("eta", [0.25, 0.5, 0.9])
def test_all_share_relaxes_geometrically_to_the_base_prior(eta: float) -> None:
    """φ ≡ 1 shares everything: μ_{t+1} = (1 − η) μ_base + η μ_t, so μ_t − μ_base = η^t (μ_0 − μ_base)."""
    start = np.array([0.1, 0.6, 0.05, 0.25])  # popular-heavy: users share everything
    env = PersuasionPlatformEnv(eta=eta, n_rounds=10)
    env.reset(seed=0, options={"prior": start})
    for t in range(1, 11):
        obs, _, _, _, info = env.step(ALL_SHARE)
        np.testing.assert_allclose(info["next_prior"] - BASE, eta**t * (start - BASE), atol=1e-12)
        assert info["share_rate"] == pytest.approx(1.0)


@pytest.mark.parametrize("eta", [0.3, 1.0])
def test_perfect_classifier_recommending_only_truthful_popular(eta: float) -> None:
    """Q = I, φ = 1[θ̂ = TP]: users obey and share only TP.

    Hence μ_{t+1} = (1 − η) μ_base + η e_TP and the reward is α μ_t(TP).
    """
    alpha = 0.4
    env = PersuasionPlatformEnv(misinformation_accuracy=1.0, popularity_accuracy=1.0, engagement_weight=alpha, eta=eta)
    env.reset(seed=0)
    e_tp = np.array([0.0, 1.0, 0.0, 0.0])
    prior = BASE
    for _ in range(3):
        _, reward, _, _, info = env.step(np.array([0, 1, 0, 0], dtype=np.float32))
        assert reward == pytest.approx(alpha * prior[1])
        assert info["misinformation_share_rate"] == 0.0
        np.testing.assert_allclose(info["share_given_state"], e_tp)
        np.testing.assert_allclose(info["next_prior"], (1 - eta) * BASE + eta * e_tp, atol=1e-12)
        prior = info["next_prior"]


def test_determinism_under_a_seed() -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = gymnasium.make(ENV_ID, n_rounds=5)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        trace = [obs]
        for _ in range(5):
            obs, reward, *_ = env.step(env.action_space.sample())
            trace += [obs, np.array([reward])]
        return trace

    for a, b in zip(rollout(3), rollout(3)):
        np.testing.assert_array_equal(a, b)


def test_truncation_and_render() -> None:
    env = gymnasium.make(ENV_ID, n_rounds=3, render_mode="ansi")
    env.reset(seed=0)
    flags = [env.step(ALL_SHARE)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    text = env.render()
    assert isinstance(text, str) and "round 3/3" in text and "TP" in text


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mode": "bogus"}, "mode"),
        ({"eta": 1.5}, "eta"),
        ({"eta": -0.1}, "eta"),
        ({"prior": (0.5, 0.5, 0.5, 0.5)}, "prior"),
        ({"prior": (0.5, 0.5)}, "prior"),
        ({"prior": (1.2, -0.2, 0.0, 0.0)}, "prior"),
        ({"n_rounds": 0}, "n_rounds"),
        ({"misinformation_accuracy": 1.2}, "misinformation_accuracy"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_invalid_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PersuasionPlatformEnv(**kwargs)


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"graph": "lattice"}, "graph"), ({"view_probability": 2.0}, "view_probability"),
     ({"posts_per_round": 0}, "posts_per_round"), ({"model_kwargs": {"max_hops": -1}}, "max_hops")],
)
def test_invalid_simulate_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PersuasionPlatformEnv(mode="simulate", **kwargs)


def test_invalid_reset_prior() -> None:
    env = PersuasionPlatformEnv()
    with pytest.raises(ValueError, match="prior"):
        env.reset(options={"prior": [0.9, 0.9, 0.0, 0.0]})


def test_ppo_trains_and_predicts() -> None:
    from stable_baselines3 import PPO

    env = gymnasium.make(ENV_ID)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, seed=0, device="cpu")
    model.learn(256)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        assert np.isfinite(reward) and env.observation_space.contains(obs)


# ---------------------------------------------------------------------- simulate mode
@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_simulate_mode_rounds_and_determinism() -> None:
    def rollout(seed: int) -> list:
        env = gymnasium.make(ENV_ID, **SIM)
        obs, info = env.reset(seed=seed)
        trace = [obs]
        for t in range(5):
            obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0, 0.0, 0.5], dtype=np.float32))
            assert env.observation_space.contains(obs) and np.isfinite(reward)
            assert not terminated and truncated == (t == 4)
            assert reward == pytest.approx(info["platform_utility"])
            np.testing.assert_allclose(obs[:4], env.unwrapped.model.content_prior, atol=1e-6)
            trace += [obs, reward]
        return trace

    first, second = rollout(7), rollout(7)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_simulate_mode_static_world_keeps_the_prior() -> None:
    env = PersuasionPlatformEnv(**{**SIM, "eta": 0.0})
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[:4], BASE, atol=1e-7)
    for _ in range(3):
        _, _, _, _, info = env.step(ALL_SHARE)
        np.testing.assert_allclose(info["next_prior"], BASE, atol=1e-12)


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_simulate_mode_matches_exact_mode_in_expectation() -> None:
    """Seed exposures are the single-round game: simulated rates ≈ exact outcomes (static world, 4 SE)."""
    action = np.array([0.1, 1.0, 0.0, 0.7], dtype=np.float32)
    sim = PersuasionPlatformEnv(mode="simulate", eta=0.0, n_users=100, posts_per_round=2000, n_rounds=4,
                                model_kwargs={"max_hops": 0})
    sim.reset(seed=0)
    rounds = [sim.step(action)[4] for _ in range(4)]
    exact = PersuasionPlatformEnv(eta=0.0)
    exact.reset(seed=0)
    expected = exact.step(action)[4]
    n = 4 * 2000
    for key in ("share_rate", "misinformation_share_rate", "platform_utility"):
        mean = np.mean([r[key] for r in rounds])
        assert abs(mean - expected[key]) < 4 * 0.5 / np.sqrt(n), key
    assert all(r["mean_cascade_size"] <= 1.0 for r in rounds)  # max_hops=0 reached the model


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_simulate_mode_eta_one_all_share_keeps_the_prior() -> None:
    env = PersuasionPlatformEnv(**{**SIM, "eta": 1.0})
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, _, info = env.step(ALL_SHARE)
        assert info["share_rate"] == 1.0
        np.testing.assert_allclose(info["next_prior"], BASE, atol=1e-12)


@pytest.mark.skipif(not HAS_MODEL, reason="envs.social.model not available")
def test_simulate_mode_rejects_a_start_prior() -> None:
    env = PersuasionPlatformEnv(mode="simulate")
    with pytest.raises(ValueError, match="prior"):
        env.reset(options={"prior": BASE})
