"""Classification task streams (digits, synthetic CIFAR shape) and ``recast/DigitsClassify-v0``."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.tasks import make_tasks
from envs.tasks.synthetic import synthetic_cifar

ENV_ID = "recast/DigitsClassify-v0"


@pytest.mark.parametrize("kwargs", [{}, {"stream": "split", "task": 2},
                                    {"stream": "permuted", "task": 3, "split": "val", "label_noise": 0.2}])
def test_check_env(kwargs) -> None:
    env = gymnasium.make(ENV_ID, **kwargs)
    check_env(env.unwrapped)
    env.close()


def test_episode_reward_is_accuracy_and_seeded_order() -> None:
    env = gymnasium.make(ENV_ID, split="test")
    y = env.unwrapped.y
    obs, info = env.reset(seed=3)
    assert obs.shape == (1, 8, 8) and obs.dtype == np.float32 and list(info["classes"]) == list(range(10))
    rewards, labels, done = [], [], False
    while not done:  # a constant policy: its accuracy is the frequency of class 7
        obs, reward, done, truncated, info = env.step(7)
        rewards.append(reward)
        labels.append(info["label"])
        assert info["correct"] == (info["label"] == 7) and not truncated
    assert len(rewards) == len(y) and np.mean(rewards) == pytest.approx(np.mean(y == 7))
    assert sorted(labels) == sorted(y.tolist())  # one pass over the split
    first = env.reset(seed=3)[0]
    assert np.array_equal(first, env.reset(seed=3)[0]) and not np.array_equal(first, env.reset(seed=4)[0])


def test_render_rgb_array() -> None:
    env = gymnasium.make(ENV_ID, render_mode="rgb_array", episode_length=5)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8


def test_digits_splits_are_disjoint_stratified_and_fixed_by_seed() -> None:
    (task,) = make_tasks("digits", seed=0)
    n = len(task.x_train) + len(task.x_val) + len(task.x_test)
    assert n == 1797 and task.image_shape == (1, 8, 8) and task.classes == tuple(range(10))
    assert len(task.x_test) == pytest.approx(0.25 * 1797, abs=2)
    assert len(task.x_val) == pytest.approx(0.15 * 1797, abs=2)
    flat = lambda x: {r.tobytes() for r in x}  # noqa: E731
    assert not flat(task.x_train) & flat(task.x_test)  # (digits has a few duplicate images; none straddle here)
    assert np.bincount(task.y_test).min() >= 40  # stratified: every class present in proportion
    assert np.array_equal(make_tasks("digits", seed=0)[0].y_test, task.y_test)
    assert not np.array_equal(make_tasks("digits", seed=1)[0].y_test, task.y_test)


def test_label_noise_only_on_training_labels() -> None:
    (clean,) = make_tasks("digits", seed=0)
    (noisy,) = make_tasks("digits", seed=0, label_noise=0.4)
    flipped = noisy.y_train != noisy.y_train_clean
    assert flipped.mean() == pytest.approx(0.4, abs=0.05)
    assert np.array_equal(noisy.y_train_clean, clean.y_train) and np.array_equal(noisy.y_test, clean.y_test)
    assert set(np.unique(noisy.y_train)) <= set(range(10))


def test_split_stream_partitions_the_classes() -> None:
    tasks = make_tasks("digits", stream="split", n_tasks=5, seed=0, label_noise=0.3)
    assert [t.classes for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for t in tasks:
        for split in ("train", "val", "test"):
            assert set(np.unique(t.split(split)[1])) <= set(t.classes)  # noise stays inside the task
    (full,) = make_tasks("digits", seed=0)
    assert sum(len(t.x_test) for t in tasks) == len(full.x_test)


def test_permuted_stream_permutes_pixels_consistently() -> None:
    tasks = make_tasks("digits", stream="permuted", n_tasks=3, seed=0)
    base = tasks[0]
    for t in tasks[1:]:
        assert np.array_equal(t.y_test, base.y_test) and not np.array_equal(t.x_test, base.x_test)
        assert np.array_equal(np.sort(t.x_test.reshape(len(t.x_test), -1), 1),
                              np.sort(base.x_test.reshape(len(base.x_test), -1), 1))


def test_synthetic_cifar_shape_balance_and_determinism() -> None:
    x, y = synthetic_cifar(200, seed=0)
    assert x.shape == (200, 3, 32, 32) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert np.bincount(y).tolist() == [20] * 10
    x2, y2 = synthetic_cifar(200, seed=0)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    means = np.stack([x[y == c].mean(0) for c in range(10)])  # class templates differ
    assert np.abs(means[0] - means[1]).mean() > 0.02
