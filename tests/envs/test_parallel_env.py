"""Tests of the platform + users PettingZoo env (`envs.social.parallel_env`)."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from envs.social.game import SHARE, as_scheme, best_response
from envs.social.parallel_env import PLATFORM, PersuasionParallelEnv, parallel_env

BASE = np.array([0.3, 0.4, 0.1, 0.2])  # TU, TP, MU, MP
S, S_HAT = 4, 4


def test_parallel_api() -> None:
    parallel_api_test(parallel_env(), num_cycles=50)


def test_parallel_seed() -> None:
    parallel_seed_test(lambda: parallel_env(n_users=5, max_cycles=10))


def test_agents_spaces_and_truncation() -> None:
    env = parallel_env(n_users=3, max_cycles=4, render_mode="ansi")
    assert env.possible_agents == ["platform", "user_0", "user_1", "user_2"]
    assert env.observation_space("user_0").shape == (2 + S_HAT + S,)
    assert env.observation_space("platform").shape == (S + S * S_HAT + 2,)
    assert env.action_space("user_1").n == 2 and env.action_space("platform").shape == (S_HAT,)
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(env.possible_agents)
    for t in range(4):
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        assert not any(terms.values()) and all(v == (t == 3) for v in truncs.values())
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    assert env.agents == [] and "step 4/4" in env.render()
    with pytest.raises(RuntimeError):
        env.step({})


def test_commitment_scheme_applies_from_the_next_step() -> None:
    """Signals at step t come from the scheme committed at t − 1 (initially all-share)."""
    env = parallel_env(n_users=20, eta=0.0)
    obs, infos = env.reset(seed=3)
    assert all(infos[u]["signal"] == 1 for u in env.users)  # φ_0 ≡ 1
    np.testing.assert_array_equal(obs["user_0"][2:2 + S_HAT], 1.0)
    actions = {u: 0 for u in env.users} | {PLATFORM: np.zeros(S_HAT, dtype=np.float32)}
    obs, *_ , infos = env.step(actions)
    assert all(infos[u]["signal"] == 0 for u in env.users)  # now φ_1 ≡ 0
    np.testing.assert_array_equal(obs["user_0"][:2], [1.0, 0.0])
    np.testing.assert_array_equal(obs["user_0"][2:2 + S_HAT], 0.0)
    np.testing.assert_allclose(obs["user_0"][2 + S_HAT:], BASE, atol=1e-7)


def test_rewards_are_utilities_of_the_acted_posts() -> None:
    """Platform reward = (1/K) Σ_i v(θ_i, a_i); user reward = u(θ_i, a_i); θ_i from the previous infos."""
    env = parallel_env(n_users=8, engagement_weight=0.3, eta=0.5)
    u, v = env.game.user_utility, env.game.platform_utility
    _, infos = env.reset(seed=11)
    for agent in env.possible_agents:
        env.action_space(agent).seed(11)
    for _ in range(25):
        states = np.array([infos[user]["state"] for user in env.users])
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        shares = np.array([actions[user] for user in env.users])
        _, rewards, _, _, infos = env.step(actions)
        assert rewards[PLATFORM] == pytest.approx(v[states, shares].mean())
        for user, s, a in zip(env.users, states, shares):
            assert rewards[user] == pytest.approx(u[s, a])
        mis = env.game.misinformation[states]
        assert infos[PLATFORM]["share_rate"] == pytest.approx(shares.mean())
        assert infos[PLATFORM]["misinformation_share_rate"] == pytest.approx((shares * mis).mean())
        if shares.any():
            empirical = np.bincount(states[shares == 1], minlength=S) / shares.sum()
        else:
            empirical = infos[PLATFORM]["prior"]
        np.testing.assert_allclose(infos[PLATFORM]["next_prior"], 0.5 * BASE + 0.5 * empirical, atol=1e-12)


def test_obedient_users_never_share_misinformation() -> None:
    """Q = I and φ = 1[θ̂ = TP] (no misinformation recommended): Bayesian users obey and share only TP."""
    env = parallel_env(n_users=16, misinformation_accuracy=1.0, popularity_accuracy=1.0, eta=0.7, max_cycles=30)
    scheme = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)
    obs, infos = env.reset(seed=5, options={"scheme": scheme})
    u, q = env.game.user_utility, env.game.confusion
    total_shares = 0
    while env.agents:
        states = np.array([infos[user]["state"] for user in env.users])
        actions = {PLATFORM: scheme}
        for user in env.users:
            o = obs[user]
            signal, committed, prior = int(o[1] > 0.5), o[2:2 + S_HAT], o[2 + S_HAT:].astype(float)
            response = best_response(prior / prior.sum(), q, as_scheme(committed, S_HAT), u)
            actions[user] = int(response[signal])
            assert actions[user] == signal  # obedience
        obs, rewards, _, _, infos = env.step(actions)
        shares = np.array([actions[user] for user in env.users])
        assert not np.any(env.game.misinformation[states[shares == SHARE]] > 0)
        assert infos[PLATFORM]["misinformation_share_rate"] == 0.0
        assert rewards[PLATFORM] >= 0.0
        total_shares += shares.sum()
    assert total_shares > 0


def test_eta_zero_keeps_the_prior_and_reset_options() -> None:
    start = np.array([0.25, 0.25, 0.25, 0.25])
    env = parallel_env(eta=0.0)
    obs, infos = env.reset(seed=0, options={"prior": start})
    np.testing.assert_allclose(obs[PLATFORM][:S], start, atol=1e-7)
    for _ in range(3):
        *_, infos = env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        np.testing.assert_array_equal(infos[PLATFORM]["next_prior"], BASE)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"eta": 2.0}, "eta"), ({"n_users": 0}, "n_users"), ({"prior": (1.0, 1.0, 0.0, 0.0)}, "prior"),
     ({"max_cycles": 0}, "max_cycles"), ({"popularity_accuracy": -0.5}, "popularity_accuracy")],
)
def test_invalid_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PersuasionParallelEnv(**kwargs)


def test_missing_or_invalid_user_actions() -> None:
    env = parallel_env(n_users=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="user_1"):
        env.step({PLATFORM: np.ones(S_HAT), "user_0": 1})
    with pytest.raises(ValueError, match="0 or 1"):
        env.step({"user_0": 1, "user_1": 2})
