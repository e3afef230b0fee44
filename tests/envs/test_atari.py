"""Atari worlds: the Atari 100k protocol against ale-py directly, MinAtar against minatar, HNS aggregates by hand."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from envs.atari.ale import Atari100kEnv, resize_rgb, rom_id
from envs.atari.minatar_env import PALETTE, MinAtarEnv, grid_to_rgb
from envs.atari.scores import REFERENCE_SCORES, aggregate_hns, human_normalized, stratified_bootstrap_ci

ale_py = pytest.importorskip("ale_py")
minatar = pytest.importorskip("minatar")


@pytest.mark.parametrize("env_id, kwargs", [("recast/Atari100k-v0", {"game": "Pong"}),
                                            ("recast/Atari100k-v0", {"game": "Breakout", "mode": "test"}),
                                            ("recast/MinAtar-v0", {"game": "breakout"}),
                                            ("recast/MinAtar-v0", {"game": "space_invaders"})])
def test_registered_envs_pass_check_env(env_id, kwargs) -> None:
    env = gymnasium.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space.shape == (64, 64, 3) and env.observation_space.dtype == np.uint8


def raw_ale(game: str) -> ale_py.ALEInterface:
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(ale_py.roms.get_rom_path(rom_id(game)))
    return ale


def test_no_sticky_actions_and_minimal_action_set() -> None:
    env = Atari100kEnv("Breakout")
    assert env.ale.getFloat("repeat_action_probability") == 0.0
    assert env.actions == list(raw_ale("Breakout").getMinimalActionSet()) and env.action_space.n == 4
    assert env.max_episode_frames == 108_000 and env.noop_max == 30 and Atari100kEnv("Pong", "test").noop_max == 1


def test_frame_skip_max_pools_the_last_two_frames_like_raw_ale() -> None:
    """Without no-ops, each step = 4 raw frames of the action; obs = resize(max(frame 3, frame 4)), reward summed."""
    env, ale = Atari100kEnv("Breakout", noop_max=0), raw_ale("Breakout")
    env.reset(seed=0)
    ale.reset_game()
    rng = np.random.default_rng(0)
    pooled_differs = False
    for _ in range(60):
        a = int(rng.integers(env.action_space.n))
        obs, reward, *_ = env.step(a)
        frames, total = [], 0.0
        for _ in range(4):
            total += ale.act(env.actions[a])
            frames.append(ale.getScreenRGB())
        assert reward == total
        np.testing.assert_array_equal(obs, resize_rgb(np.maximum(frames[2], frames[3]), 64))
        pooled_differs |= not np.array_equal(obs, resize_rgb(frames[3], 64))
    assert pooled_differs  # the max-pool matters on Breakout (moving ball)
    assert env.ale.getEpisodeFrameNumber() == 240


def test_noop_reset_bounds_train_30_test_1() -> None:
    train, test = Atari100kEnv("Pong"), Atari100kEnv("Pong", "test")
    noops = [train.reset(seed=s)[1]["episode_frame_number"] for s in range(60)]
    assert 1 <= min(noops) and max(noops) <= 30 and len(set(noops)) > 10
    assert {test.reset(seed=s)[1]["episode_frame_number"] for s in range(5)} == {1}


def play_until_life_lost(env: Atari100kEnv) -> tuple[bool, dict]:
    env.reset(seed=1)
    env.step(1)  # FIRE launches the ball; the paddle then stays still and misses
    for _ in range(2000):
        _, _, terminated, truncated, info = env.step(0)
        if terminated or info["lives"] < 5:
            return terminated, info
    raise AssertionError("no life lost")


def test_life_loss_ends_the_episode_in_training_only() -> None:
    train = Atari100kEnv("Breakout")
    terminated, info = play_until_life_lost(train)
    assert terminated and info["lives"] == 4 and not info["game_over"]
    frame = info["episode_frame_number"]
    _, info = train.reset()  # continues the same game
    assert info["lives"] == 4 and info["episode_frame_number"] == frame + 4
    test = Atari100kEnv("Breakout", "test")
    terminated, info = play_until_life_lost(test)
    assert not terminated and info["lives"] == 4


def test_episode_truncated_at_the_frame_cap() -> None:
    env = Atari100kEnv("Pong", "test", max_episode_frames=41)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(10)]  # 1 no-op + 4 per step: frame 41 after step 10
    assert flags == [False] * 9 + [True]


def test_unknown_game_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid names: .*pong"):
        Atari100kEnv("Pongg")
    assert rom_id("KungFuMaster") == "kung_fu_master" and rom_id("pong") == "pong"


def test_minatar_wrapper_follows_minatar_under_the_same_seed() -> None:
    env = MinAtarEnv("breakout")
    obs, info = env.reset(seed=5)
    raw = minatar.Environment("breakout", sticky_action_prob=0.0)
    raw.seed(int(np.random.Generator(np.random.PCG64(np.random.SeedSequence(5))).integers(2**31)))
    raw.reset()
    rng = np.random.default_rng(0)
    for _ in range(200):
        np.testing.assert_array_equal(info["state"], raw.state())
        np.testing.assert_array_equal(obs, grid_to_rgb(raw.state(), 64))
        a = int(rng.integers(env.action_space.n))
        obs, reward, terminated, _, info = env.step(a)
        raw_reward, raw_done = raw.act(env.actions[a])
        assert (reward, terminated) == (raw_reward, raw_done)
        if terminated:
            break


def test_grid_to_rgb_by_hand() -> None:
    grid = np.zeros((10, 10, 3), bool)
    grid[0, 0, 0] = True
    grid[0, 0, 2] = True  # the later channel is drawn on top
    grid[9, 9, 1] = True
    img = grid_to_rgb(grid, 64)
    assert img.shape == (64, 64, 3)
    np.testing.assert_array_equal(img[0, 0], PALETTE[2])
    np.testing.assert_array_equal(img[63, 63], PALETTE[1])
    np.testing.assert_array_equal(img[32, 32], [0, 0, 0])
    assert (img[:7, :7] == PALETTE[2]).all() and (img[7, 0] == 0).all()  # cell 0 covers rows 0..6 (64·1/10)


def test_human_normalized_scores_from_the_table() -> None:
    assert human_normalized(14.6, "Pong") == pytest.approx(1.0) and human_normalized(-20.7, "Pong") == 0.0
    assert human_normalized(83.0, "Boxing") == pytest.approx((83.0 - 0.1) / 12.0)  # DART: 6.91
    assert len(REFERENCE_SCORES) == 26


def test_hns_aggregates_by_hand() -> None:
    # 2 runs × 3 games; HNS chosen exactly: Pong (−20.7, 14.6), Boxing (0.1, 12.1), Freeway (0, 29.6)
    hns = np.array([[0.0, 2.0, 0.5], [1.0, 4.0, 0.5]])
    raw = {"Pong": -20.7 + hns[:, 0] * 35.3, "Boxing": 0.1 + hns[:, 1] * 12.0, "Freeway": hns[:, 2] * 29.6}
    out = aggregate_hns(raw, reps=500)
    assert out["mean"] == pytest.approx(8.0 / 6)
    assert out["median"] == pytest.approx(0.5)  # per-game means 0.5, 3.0, 0.5
    assert out["iqm"] == pytest.approx((0.5 + 0.5 + 1.0 + 2.0) / 4)  # sorted 0, .5, .5, 1, 2, 4: drop one per end
    assert out["optimality_gap"] == pytest.approx(1 - (0 + 1 + 0.5 + 1 + 0.5 + 1) / 6)
    assert out["superhuman"] == 1.0  # Boxing only (Pong's mean is 0.5)
    for k in ("mean", "median", "iqm", "optimality_gap"):
        assert out[f"{k}_low"] <= out[k] <= out[f"{k}_high"]


def test_stratified_bootstrap_by_hand() -> None:
    # one game, runs {0, 1}: bootstrap means are 0, 0.5, 1 w.p. 1/4, 1/2, 1/4 → the 95 % interval is [0, 1]
    low, high = stratified_bootstrap_ci(np.array([[0.0], [1.0]]), np.mean, reps=4000)
    assert (low, high) == (0.0, 1.0)
    # no spread within any game: every resample is the data itself
    flat = np.array([[0.2, 3.0], [0.2, 3.0], [0.2, 3.0]])
    assert stratified_bootstrap_ci(flat, np.mean) == pytest.approx((1.6, 1.6))
    assert math.isclose(stratified_bootstrap_ci(np.array([[0.0], [1.0]]), np.mean, confidence=0.4)[0], 0.5)
