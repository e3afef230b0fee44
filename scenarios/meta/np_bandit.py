"""The wheel-bandit protocol: meta-train a neural process on wheel tasks, then run Thompson sampling in the env.

Meta-training data (LBANP ``contextual_bandits``, adapted to per-arm inputs [design]): per task δ ~ U(0, 1),
N_c ~ U{10, …, ``max_context``} context and ``num_targets`` target points (x, a, r) with uniformly random arms;
the NP learns p(r / ``reward_scale`` | [x, one-hot(a)], context). Deployment: ``recast/WheelBandit-v0`` with a
fixed δ; each step's (x, a, r) is streamed into the agent. Regret is exact (expected rewards from the env).
"""

from __future__ import annotations

import time

import gymnasium
import numpy as np

from envs.tasks.gp_tasks import NPBatch
from envs.tasks.wheel_bandit import N_ARMS, sample_wheel_tasks


def wheel_np_batch(rng: np.random.Generator, batch_size: int, max_context: int, num_targets: int,
                   reward_scale: float) -> NPBatch:
    num_ctx = int(rng.integers(10, max_context + 1))
    x, arms, rewards = sample_wheel_tasks(rng, batch_size, num_ctx + num_targets)
    inputs = np.concatenate([x, np.eye(N_ARMS)[arms]], axis=-1).astype(np.float32)
    y = (rewards / reward_scale).astype(np.float32)[..., None]
    return NPBatch(inputs[:, :num_ctx], y[:, :num_ctx], inputs[:, num_ctx:], y[:, num_ctx:])


def run_bandit(agent, delta: float, steps: int, seed: int) -> tuple[np.ndarray, float]:
    """Play ``steps`` rounds; returns the per-step regret E[r*|x] − E[r_a|x] and the mean seconds per step
    (act + observe, the agent's cost only)."""
    env = gymnasium.make("recast/WheelBandit-v0", delta=delta, horizon=steps)
    obs, _ = env.reset(seed=seed)
    regret, spent = np.zeros(steps), 0.0
    for t in range(steps):
        start = time.perf_counter()
        arm = agent.act(obs.astype(np.float64))
        spent += time.perf_counter() - start
        next_obs, reward, _, _, info = env.step(arm)
        start = time.perf_counter()
        agent.observe(obs.astype(np.float64), arm, reward)
        spent += time.perf_counter() - start
        regret[t], obs = info["regret"], next_obs
    env.close()
    return regret, spent / steps
