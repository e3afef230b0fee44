"""Model-free baselines at the same env-step budget: Stable-Baselines3 PPO and DQN on the 64 × 64 RGB frames.

Hyper-parameters for a small budget [design, spec §6: SB3 defaults are not tuned for 100k]: PPO with 4 envs ×
128 steps per rollout, 4 epochs, minibatch 64, lr 2.5e-4, entropy 0.01 (Atari zoo); DQN with the whole budget
as buffer, updates every 4 steps, target update every 500 steps, ε 1 → 0.05 over the first 25 %.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def make_sb3(method: str, env_fns: list[Callable], seed: int, device: str, total_steps: int):
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = DummyVecEnv(env_fns if method == "ppo" else env_fns[:1])
    vec.seed(seed)
    if method == "ppo":
        return PPO("CnnPolicy", vec, n_steps=128, batch_size=64, n_epochs=4, learning_rate=2.5e-4, ent_coef=0.01,
                   clip_range=0.1, seed=seed, device=device, verbose=0)
    return DQN("CnnPolicy", vec, buffer_size=max(total_steps, 1000), learning_starts=min(1000, total_steps // 10),
               train_freq=4, target_update_interval=500, exploration_fraction=0.25, exploration_final_eps=0.05,
               learning_rate=1e-4, batch_size=32, optimize_memory_usage=False, seed=seed, device=device, verbose=0)


def sb3_chooser(model) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The SB3 model as an eval-time policy over a batch of frames (stochastic for PPO, ε = 0.05 for DQN)."""
    def choose(obs: np.ndarray, _new_episode: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=False)[0]
    return choose
