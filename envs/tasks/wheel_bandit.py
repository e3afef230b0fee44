"""The wheel contextual bandit (Riquelme, Tucker & Snoek, ICLR 2018, §"Wheel bandit"; LBANP's benchmark).

Contexts x are uniform in the unit disk; there are 5 arms. Every arm pays Gaussian noise around a mean:

    r_0 ~ N(1.2, 0.05²),   r_a ~ N(1.0, 0.05²)  for a = 1..4
    if ‖x‖ ≥ δ: the arm of x's quadrant pays N(50, 0.01²) instead
      (1: x₁>0, x₂>0;  2: x₁<0, x₂>0;  3: x₁<0, x₂<0;  4: x₁>0, x₂<0)

so inside the radius-δ disk arm 0 is optimal (by 0.2) and outside it the quadrant arm is (by ~49). Large δ
makes the informative region rare: exploration is hard. Arm numbering follows the LBANP code
(``contextual_bandits/data/wheel.py``); Riquelme et al.'s code puts the 1.2 arm last — a relabelling.

The env: observation = the current context (2,), action = arm, reward = that arm's draw; ``info`` carries
the expected rewards of all arms, so the regret E[r*|x] − E[r_a|x] is exact. Episodes are truncated after
``horizon`` steps.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

N_ARMS = 5
BASE_MEANS = np.array([1.2, 1.0, 1.0, 1.0, 1.0])
BASE_STD = 0.05
LARGE_MEAN, LARGE_STD = 50.0, 0.01


def sample_contexts(rng: np.random.Generator, n: int) -> np.ndarray:
    """n contexts uniform in the unit disk, (n, 2) float64 (radius √U keeps the density uniform)."""
    radius, angle = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)


def quadrant_arm(x: np.ndarray) -> np.ndarray:
    """The arm 1..4 of each context's quadrant: 1 (+,+), 2 (−,+), 3 (−,−), 4 (+,−)."""
    right, up = x[..., 0] > 0, x[..., 1] > 0
    return np.where(up, np.where(right, 1, 2), np.where(right, 4, 3))


def expected_rewards(x: np.ndarray, delta: float) -> np.ndarray:
    """E[r_a | x] for every arm, (n, 5)."""
    means = np.broadcast_to(BASE_MEANS, (*x.shape[:-1], N_ARMS)).copy()
    outside = np.linalg.norm(x, axis=-1) >= delta
    np.put_along_axis(means, quadrant_arm(x)[..., None], np.where(outside, LARGE_MEAN, 1.0)[..., None], axis=-1)
    return means


def sample_rewards(rng: np.random.Generator, x: np.ndarray, delta: float) -> np.ndarray:
    """One reward draw for every arm at every context, (n, 5): the definition above."""
    means = expected_rewards(x, delta)
    std = np.where(means == LARGE_MEAN, LARGE_STD, BASE_STD)
    return means + std * rng.standard_normal(means.shape)


def sample_wheel_tasks(rng: np.random.Generator, batch_size: int, n_points: int,
                       delta_range: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Meta-training data for bandit models (LBANP protocol): per task δ ~ U(delta_range), then n contexts,
    uniformly random arms and their rewards. Returns x (B, n, 2), arm (B, n) int, reward (B, n) float64."""
    deltas = rng.uniform(*delta_range, size=batch_size)
    x = sample_contexts(rng, batch_size * n_points).reshape(batch_size, n_points, 2)
    arms = rng.integers(0, N_ARMS, size=(batch_size, n_points))
    rewards = np.stack([sample_rewards(rng, xi, d) for xi, d in zip(x, deltas)])
    return x, arms, np.take_along_axis(rewards, arms[..., None], axis=-1)[..., 0]


class WheelBanditEnv(gymnasium.Env):
    """Gymnasium wheel bandit: a fresh context each step, reward of the pulled arm, exact regret in ``info``."""

    metadata = {"render_modes": []}

    def __init__(self, delta: float = 0.95, horizon: int = 2000, render_mode: str | None = None):
        if not 0.0 <= delta <= 1.0:
            raise ValueError(f"delta must be in [0, 1], got {delta}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.delta, self.horizon, self.render_mode = float(delta), int(horizon), render_mode
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(N_ARMS)
        self._x = np.zeros(2)
        self._t = 0

    def _observe(self) -> tuple[np.ndarray, dict]:
        means = expected_rewards(self._x[None], self.delta)[0]
        return self._x.astype(np.float32), {"expected_rewards": means, "optimal_arm": int(means.argmax())}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._x = sample_contexts(self.np_random, 1)[0]
        return self._observe()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an arm in 0..{N_ARMS - 1}, got {action!r}")
        x, arm = self._x, int(action)
        means = expected_rewards(x[None], self.delta)[0]
        reward = float(sample_rewards(self.np_random, x[None], self.delta)[0, arm])
        info = {"regret": float(means.max() - means[arm]), "expected_reward": float(means[arm])}
        self._t += 1
        self._x = sample_contexts(self.np_random, 1)[0]
        obs, next_info = self._observe()
        return obs, reward, False, self._t >= self.horizon, {**info, **next_info}
