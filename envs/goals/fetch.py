"""FetchReach / FetchPush from gymnasium-robotics, wrapped like the numpy goal envs (optional extra).

Needs ``pip install -e ".[robotics]"`` (gymnasium-robotics 1.4.2 with ``mujoco<3.12``: with mujoco ≥ 3.12
every Fetch ``reset`` fails inside ``set_joint_qpos``, spec §7). ``envs/__init__.py`` registers
``recast/FetchReach-v0`` and ``recast/FetchPush-v0`` only when gymnasium-robotics is importable.

Tested when the extra is installed (the test extra installs it): ``check_env``, rewards, and the scripted
experts' success rates (``tests/envs/test_goals.py``).
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
        """Scripted expert. FetchReach: move the gripper straight at the goal, a = clip(10·(g − x), −1, 1).

        FetchPush (our stand-in for AWGCSL's trained-policy data): with u the unit vector from the object to
        the goal in the table plane, travel above the table to the point 6 cm behind the object along −u,
        descend to the object's height, then push along u (the gripper aims 4 cm past the object's centre);
        hold still once the object is within 2 cm of the goal. Each phase is a P-controller
        a = clip(10·(target − x), −1, 1) on the gripper position (the gripper is blocked in FetchPush).
        """
        o, goal = obs["observation"], obs["desired_goal"]
        grip = o[:3]
        action = np.zeros(self.action_space.shape, np.float64)
        if self.task.startswith("FetchReach"):
            action[:3] = np.clip(10.0 * (goal - grip), -1.0, 1.0)
            return action
        if not self.task.startswith("FetchPush"):
            raise NotImplementedError(f"no scripted expert for {self.task}; build a 'random' dataset instead")
        obj = o[3:6]
        to_goal = goal[:2] - obj[:2]
        distance = float(np.linalg.norm(to_goal))
        if distance < 0.02:
            return action
        u = to_goal / distance
        rel = grip[:2] - obj[:2]
        along, across = float(rel @ u), abs(float(rel[0] * u[1] - rel[1] * u[0]))
        behind = obj[:2] - 0.06 * u
        if along < -0.03 and across < 0.015 and abs(grip[2] - obj[2]) < 0.02:  # lined up behind it: push
            target = np.r_[obj[:2] + 0.04 * u, obj[2]]
        elif np.linalg.norm(grip[:2] - behind) < 0.015:  # above the push point: descend
            target = np.r_[behind, obj[2]]
        elif grip[2] > obj[2] + 0.05 or np.linalg.norm(rel) > 0.1:  # travel above the object
            target = np.r_[behind, obj[2] + 0.08]
        else:  # too close and too low: lift first
            target = np.r_[grip[:2], obj[2] + 0.1]
        action[:3] = np.clip(10.0 * (target - grip), -1.0, 1.0)
        return action

    def render(self):
        return self.inner.render()

    def close(self) -> None:
        self.inner.close()

    @staticmethod
    def _cast(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {key: np.asarray(value, dtype=np.float32) for key, value in obs.items()}
