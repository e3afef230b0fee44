"""The goal-env base class shared by the numpy goal-reaching worlds (point arena, four rooms, reacher).

Gymnasium goal-env convention (as in gymnasium-robotics): the observation is a dict with
``observation``, ``achieved_goal`` and ``desired_goal``; the reward is sparse,

    r(ag, g) = −1[‖ag − g‖₂ > ε]   ∈ {−1, 0},

and ``compute_reward(achieved_goal, desired_goal, info)`` evaluates it on batches (any leading shape),
so hindsight relabelling can recompute rewards for substituted goals. ``info["is_success"]`` is
1[‖ag − g‖₂ ≤ ε]. Episodes never terminate; ``gymnasium.make`` adds the 50-step time limit.

Each world also exposes its dynamics as *batched* numpy functions on an internal state array
(``sample_states``, ``sample_goals``, ``dynamics``, ``observe``, ``achieved``, ``expert_action``);
``step`` calls them with a batch of one, the offline dataset builders (`envs.goals.datasets`) call
them on thousands of trajectories at once, and :class:`GoalVectorEnv` — each world's
``vector_entry_point``, so ``gymnasium.make_vec("recast/PointReach-v0", num_envs=100)`` — runs n
episodes in lock-step without a Python loop over sub-environments.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

RENDER_SIZE = 96


class GoalReachingEnv(gymnasium.Env[dict[str, np.ndarray], np.ndarray]):
    """Abstract numpy goal-reaching world; subclasses define the batched dynamics (module docstring).

    Subclasses set ``obs_dim``, ``goal_dim``, ``act_dim``, ``obs_bound``, ``goal_bound`` (Box bounds,
    symmetric) and ``distance_threshold`` before calling ``super().__init__``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    obs_dim: int
    goal_dim: int
    act_dim: int
    obs_bound: float | np.ndarray
    goal_bound: float
    distance_threshold: float

    def __init__(self, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        goal_box = spaces.Box(-self.goal_bound, self.goal_bound, (self.goal_dim,), np.float32)
        obs_high = np.broadcast_to(np.asarray(self.obs_bound, np.float32), (self.obs_dim,)).copy()
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-obs_high, obs_high, dtype=np.float32),
            "achieved_goal": goal_box,
            "desired_goal": goal_box,
        })
        self.action_space = spaces.Box(-1.0, 1.0, (self.act_dim,), np.float32)
        self._state: np.ndarray | None = None
        self._goal: np.ndarray | None = None

    # ----- batched world model (subclasses) -----
    def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n initial internal states, shape (n, state_dim)."""
        raise NotImplementedError

    def sample_goals(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n desired goals, shape (n, goal_dim)."""
        raise NotImplementedError

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Next internal states for a batch; actions are already clipped to [−1, 1]."""
        raise NotImplementedError

    def observe(self, state: np.ndarray) -> np.ndarray:
        """The ``observation`` part of the dict, shape (n, obs_dim)."""
        raise NotImplementedError

    def achieved(self, state: np.ndarray) -> np.ndarray:
        """The ``achieved_goal``, shape (n, goal_dim)."""
        raise NotImplementedError

    def expert_action(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """A scripted near-optimal controller's (noise-free) action in [−1, 1] for a batch."""
        raise NotImplementedError

    def draw(self, img: np.ndarray, state: np.ndarray, goal: np.ndarray) -> None:
        """Draw the world into an RGB canvas (default: achieved and desired goals as discs)."""
        _disc(img, self._pixel(goal), 4, (40, 170, 60))
        _disc(img, self._pixel(self.achieved(state[None])[0]), 4, (30, 80, 220))

    # ----- goal-env API -----
    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray,
                       info: Any = None) -> np.ndarray | float:
        """r = −1[‖ag − g‖₂ > ε], vectorised over any leading batch shape (float for single goals)."""
        reward = -(self.goal_distance(achieved_goal, desired_goal) > self.distance_threshold).astype(np.float64)
        return float(reward) if np.ndim(reward) == 0 else reward

    def compute_terminated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> bool:
        return False

    def compute_truncated(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> bool:
        return False

    @staticmethod
    def goal_distance(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(achieved_goal, float) - np.asarray(desired_goal, float), axis=-1)

    # ----- gymnasium.Env -----
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a start state and a goal; ``options`` may fix ``goal`` (goal_dim,) and/or ``state``."""
        super().reset(seed=seed)
        options = options or {}
        self._state = (np.asarray(options["state"], float).copy() if "state" in options
                       else self.sample_states(self.np_random, 1)[0])
        self._goal = (np.asarray(options["goal"], float).reshape(self.goal_dim).copy() if "goal" in options
                      else self.sample_goals(self.np_random, 1)[0])
        return self._obs(), self._info()

    def step(self, action: np.ndarray):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = np.clip(np.asarray(action, dtype=float).reshape(self.act_dim), -1.0, 1.0)
        self._state = self.dynamics(self._state[None], action[None])[0]
        obs, info = self._obs(), self._info()
        reward = self.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        return obs, reward, False, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        img = np.full((RENDER_SIZE, RENDER_SIZE, 3), 255, np.uint8)
        self.draw(img, self._state, self._goal)
        return img

    @property
    def state(self) -> np.ndarray:
        """The internal state (a copy), e.g. to replay or stitch trajectories."""
        return None if self._state is None else self._state.copy()

    def _obs(self) -> dict[str, np.ndarray]:
        s = self._state[None]
        return {"observation": self.observe(s)[0].astype(np.float32),
                "achieved_goal": self.achieved(s)[0].astype(np.float32),
                "desired_goal": self._goal.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        distance = float(self.goal_distance(self.achieved(self._state[None])[0], self._goal))
        return {"is_success": float(distance <= self.distance_threshold), "distance": distance}

    def _pixel(self, xy: np.ndarray) -> np.ndarray:
        """World (±goal_bound)² → pixel (row, col)."""
        u = (np.asarray(xy, float) / self.goal_bound + 1.0) / 2.0
        return np.array([(1.0 - u[..., 1]) * (RENDER_SIZE - 1), u[..., 0] * (RENDER_SIZE - 1)]).T


class GoalVectorEnv(VectorEnv):
    """n copies of a :class:`GoalReachingEnv` stepped together through its batched dynamics.

    Same observations, rewards and ``info`` keys (``is_success``, ``distance``: arrays of n) as the single
    env; truncation after ``max_episode_steps``; next-step autoreset (the step after an episode ends
    resets that sub-env, ignores its action and returns reward 0). Subclasses set ``single_env_cls``.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    single_env_cls: type[GoalReachingEnv]

    def __init__(self, num_envs: int = 1, max_episode_steps: int = 50, **kwargs: Any):
        if num_envs < 1 or max_episode_steps < 1:
            raise ValueError("num_envs and max_episode_steps must be positive")
        self.env = self.single_env_cls(**kwargs)
        self.num_envs, self.max_episode_steps = int(num_envs), int(max_episode_steps)
        self.single_observation_space, self.single_action_space = self.env.observation_space, self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._state = self._goal = None
        self._steps = np.zeros(self.num_envs, np.int64)
        self._autoreset = np.zeros(self.num_envs, bool)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        self._state = self.env.sample_states(self.np_random, self.num_envs)
        self._goal = self.env.sample_goals(self.np_random, self.num_envs)
        self._steps[:] = 0
        self._autoreset[:] = False
        return self._obs(), self._info()

    def step(self, actions: np.ndarray):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = np.clip(np.asarray(actions, float).reshape(self.num_envs, -1), -1.0, 1.0)
        done = self._autoreset
        self._state = self.env.dynamics(self._state, actions)
        if done.any():  # next-step autoreset of the sub-envs whose episode ended on the previous step
            k = int(done.sum())
            self._state[done] = self.env.sample_states(self.np_random, k)
            self._goal[done] = self.env.sample_goals(self.np_random, k)
        self._steps = np.where(done, 0, self._steps + 1)
        obs, info = self._obs(), self._info()
        reward = np.where(done, 0.0, self.env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info))
        truncated = self._steps >= self.max_episode_steps
        self._autoreset = truncated.copy()
        return obs, reward, np.zeros(self.num_envs, bool), truncated, info

    def _obs(self) -> dict[str, np.ndarray]:
        return {"observation": self.env.observe(self._state).astype(np.float32),
                "achieved_goal": self.env.achieved(self._state).astype(np.float32),
                "desired_goal": self._goal.astype(np.float32)}

    def _info(self) -> dict[str, Any]:
        distance = self.env.goal_distance(self.env.achieved(self._state), self._goal)
        return {"is_success": (distance <= self.env.distance_threshold).astype(np.float64), "distance": distance}


def _disc(img: np.ndarray, rc: np.ndarray, radius: float, color: tuple[int, int, int]) -> None:
    """Paint filled discs of `radius` pixels at pixel centres rc (2,) or (n, 2)."""
    rows, cols = np.mgrid[: img.shape[0], : img.shape[1]]
    for r, c in np.atleast_2d(rc):
        img[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = color
