"""FetchReach / FetchPush from gymnasium-robotics, wrapped like the numpy goal envs (optional extra).

Needs ``pip install -e ".[robotics]"`` (gymnasium-robotics 1.4.2 with ``mujoco<3.12``: with mujoco ≥ 3.12
every Fetch ``reset`` fails inside ``set_joint_qpos``, spec §7). ``envs/__init__.py`` registers
``recast/FetchReach-v0`` and ``recast/FetchPush-v0`` only when gymnasium-robotics is importable.

Not exercised here: gymnasium-robotics is not installed in our environment, so this module is
untested (its test is skipped).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

TASKS = {"FetchReach": "FetchReach-v4", "FetchPush": "FetchPush-v4"}
AVAILABLE = importlib.util.find_spec("gymnasium_robotics") is not None


class FetchGoalEnv(gymnasium.Env[dict[str, np.ndarray], np.ndarray]):
    """A gymnasium-robotics Fetch task behind the Recast goal-env interface (float32 dict observations).

    ## Description
    Composition over the raw (un-time-limited) gymnasium-robotics env ``task``; observations are cast to
    float32; reward −1/0, ``info["is_success"]`` and the vectorised ``compute_reward`` are passed through.

    ## Arguments
    ``task``: a gymnasium-robotics id (``FetchReach-v4`` or ``FetchPush-v4``); ``render_mode``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, task: str = "FetchReach-v4", render_mode: str | None = None):
        if not AVAILABLE:
            raise ImportError("FetchGoalEnv needs gymnasium-robotics: pip install -e '.[robotics]' (mujoco<3.12)")
        import gymnasium_robotics

        gymnasium.register_envs(gymnasium_robotics)
        self.task, self.render_mode = task, render_mode
        self.inner = gymnasium.make(task, render_mode=render_mode).unwrapped
        self.distance_threshold = float(getattr(self.inner, "distance_threshold", 0.05))
        self.observation_space = spaces.Dict({
            key: spaces.Box(-np.inf, np.inf, box.shape, np.float32) for key, box in self.inner.observation_space.items()
        })
        self.action_space = spaces.Box(-1.0, 1.0, self.inner.action_space.shape, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=seed, options=options)
        return self._cast(obs), dict(info)

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = self.inner.step(np.asarray(action, dtype=np.float64))
        return self._cast(obs), float(reward), bool(terminated), bool(truncated), dict(info)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None):
        """−1[‖ag − g‖ > ε], vectorised (gymnasium-robotics' own implementation)."""
        return self.inner.compute_reward(np.asarray(achieved_goal, float), np.asarray(desired_goal, float), info)

    def expert_action_from_obs(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Scripted expert (FetchReach only): move the gripper straight at the goal, a = clip(10·(g − x), −1, 1)."""
        if not self.task.startswith("FetchReach"):
            raise NotImplementedError(f"no scripted expert for {self.task}; build a 'random' dataset instead")
        action = np.zeros(self.action_space.shape, np.float64)
        action[:3] = np.clip(10.0 * (obs["desired_goal"] - obs["observation"][:3]), -1.0, 1.0)
        return action

    def render(self):
        return self.inner.render()

    def close(self) -> None:
        self.inner.close()

    @staticmethod
    def _cast(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {key: np.asarray(value, dtype=np.float32) for key, value in obs.items()}
