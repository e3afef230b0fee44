"""Gymnasium's MuJoCo ``Reacher-v5`` as a sparse goal-reaching env (``recast/MujocoReacherGoal-v0``).

Merlin's Reacher is ``Reacher-v2`` (mujoco-py) behind a goal wrapper with success threshold 0.05 (spec §4,
§7); mujoco-py needs MuJoCo 2.1 binaries, so this wraps the maintained ``Reacher-v5`` (same XML and physics
on the ``mujoco`` bindings). Needs the ``robotics`` extra (``mujoco<3.12``). The numpy stand-in
``recast/ReacherGoal-v0`` (:mod:`envs.goals.reacher`) stays for machines without MuJoCo.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.goals.reacher import wrap_angle

AVAILABLE = importlib.util.find_spec("mujoco") is not None
LINK_LENGTHS = (0.1, 0.11)  # reacher.xml: link0 0.1; link1 0.1 + the fingertip body at 0.11


def reacher_ik(goal: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Joint angles putting the fingertip at ``goal`` (x, y): the two-link inverse kinematics

    cos θ₂ = (x² + y² − l₁² − l₂²) / (2 l₁ l₂),  θ₁ = atan2(y, x) − atan2(l₂ sin θ₂, l₁ + l₂ cos θ₂),

    taking the elbow branch (±θ₂) nearer to the current angles ``q``; unreachable goals are clipped."""
    l1, l2 = LINK_LENGTHS
    x, y = float(goal[0]), float(goal[1])
    cos2 = np.clip((x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2), -1.0, 1.0)
    branches = []
    for elbow in (1.0, -1.0):
        t2 = elbow * np.arccos(cos2)
        t1 = np.arctan2(y, x) - np.arctan2(l2 * np.sin(t2), l1 + l2 * np.cos(t2))
        branches.append(np.array([t1, t2]))
    return min(branches, key=lambda angles: float(np.abs(wrap_angle(angles - q)).sum()))


class MujocoReacherGoalEnv(gymnasium.Env[dict[str, np.ndarray], np.ndarray]):
    """MuJoCo reacher: bring the fingertip within 0.05 of the target.

    ## Observation Space
    ``Dict``: ``observation`` = (cos θ₁, cos θ₂, sin θ₁, sin θ₂, θ̇₁, θ̇₂) (Reacher-v5's arm state without
    the target), ``achieved_goal`` = fingertip (x, y), ``desired_goal`` = target (x, y) (uniform in the
    0.2-radius disc, Reacher-v5's own reset).

    ## Action Space
    ``Box(−1, 1, (2,), float32)``: joint torques (Reacher-v5's control range).

    ## Rewards
    Sparse, −1[‖ag − g‖ > 0.05]; ``info["is_success"]`` = 1 − that. Episodes never terminate; the
    registration truncates them at 50 steps (Reacher-v5's own limit).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    distance_threshold = 0.05

    def __init__(self, render_mode: str | None = None):
        if not AVAILABLE:
            raise ImportError("MujocoReacherGoalEnv needs MuJoCo: pip install -e '.[robotics]' (mujoco<3.12)")
        self.render_mode = render_mode
        self.inner = gymnasium.make("Reacher-v5", render_mode=render_mode).unwrapped
        box = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.observation_space = spaces.Dict({"observation": spaces.Box(-np.inf, np.inf, (6,), np.float32),
                                              "achieved_goal": box, "desired_goal": box})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.inner.reset(seed=int(self.np_random.integers(2**31 - 1)))
        obs = self._obs()
        return obs, self._info(obs)

    def step(self, action: np.ndarray):
        self.inner.step(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))
        return obs, reward, False, False, self._info(obs)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None):
        """−1[‖ag − g‖ > ε], vectorised over leading axes."""
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(distance > self.distance_threshold).astype(np.float64)

    def expert_action_from_obs(self, obs: dict[str, np.ndarray], kp: float = 3.0, kd: float = 0.2) -> np.ndarray:
        """Scripted expert: PD control toward the inverse-kinematics angles of the goal,
        a = clip(k_p·wrap(θ* − θ) − k_d·θ̇, −1, 1) (gains tuned on 20 resets: 100 % success without noise)."""
        o = obs["observation"]
        q, qd = np.arctan2(o[2:4], o[0:2]), o[4:6]
        target = reacher_ik(obs["desired_goal"], q)
        return np.clip(kp * wrap_angle(target - q) - kd * qd, -1.0, 1.0)

    def render(self):
        return self.inner.render()

    def close(self) -> None:
        self.inner.close()

    def _obs(self) -> dict[str, np.ndarray]:
        qpos, qvel = self.inner.data.qpos[:2], self.inner.data.qvel[:2]
        arm = np.concatenate([np.cos(qpos), np.sin(qpos), qvel])
        return {"observation": arm.astype(np.float32),
                "achieved_goal": self.inner.get_body_com("fingertip")[:2].astype(np.float32),
                "desired_goal": self.inner.get_body_com("target")[:2].astype(np.float32)}

    def _info(self, obs: dict[str, np.ndarray]) -> dict[str, Any]:
        return {"is_success": float(1.0 + self.compute_reward(obs["achieved_goal"], obs["desired_goal"]))}
