"""A point mass reaching a goal in an open square arena (``recast/PointReach-v0``).

Port of multiworld/WGCSL/Merlin's ``Point2DLargeEnv-v1`` (PointReach): ``boundary_dist=5``, ``action_scale=1``,
``target_radius=1``, start and goal uniform on the square, reward −1[‖p − g‖ > 1]. The earlier, harder variant
is ``PointReachEnv(distance_threshold=0.5)``.
"""

from __future__ import annotations

import numpy as np

from envs.goals.core import GoalReachingEnv, GoalVectorEnv


class PointReachEnv(GoalReachingEnv):
    """A point mass moves by its (clipped) action each step; reach the goal disc.

    ## Description
    Position p ∈ [−L, L]², L = ``size``. Dynamics: p ← clip(p + δ·a, −L, L) with δ = ``step_size``.

    ## Action Space
    ``Box(−1, 1, (2,), float32)``: the displacement direction and magnitude (scaled by δ).

    ## Observation Space
    Dict: ``observation`` = p (2,), ``achieved_goal`` = p (2,), ``desired_goal`` = g (2,); all float32 in [−L, L].

    ## Rewards
    Sparse: 0 if ‖p − g‖ ≤ ε (``distance_threshold``) else −1; ``info["is_success"]`` = 1[‖p − g‖ ≤ ε].

    ## Starting State
    p and g independently uniform on the arena.

    ## Episode End
    Never terminates; ``gymnasium.make`` truncates after 50 steps.

    ## Arguments
    ``size`` (L, default 5), ``step_size`` (δ, default 1), ``distance_threshold`` (ε, default 1 as the
    original's ``target_radius``), ``render_mode``.
    """

    obs_dim, goal_dim, act_dim = 2, 2, 2

    def __init__(self, size: float = 5.0, step_size: float = 1.0, distance_threshold: float = 1.0,
                 render_mode: str | None = None):
        if not (np.isfinite([size, step_size, distance_threshold]).all() and min(size, step_size,
                                                                                  distance_threshold) > 0):
            raise ValueError("size, step_size and distance_threshold must be finite and positive")
        self.size, self.step_size, self.distance_threshold = float(size), float(step_size), float(distance_threshold)
        self.obs_bound = self.goal_bound = self.size
        super().__init__(render_mode)

    def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(-self.size, self.size, (n, 2))

    sample_goals = sample_states

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        return np.clip(state + self.step_size * action, -self.size, self.size)

    def observe(self, state: np.ndarray) -> np.ndarray:
        return state

    achieved = observe

    def expert_action(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Straight at the goal, as fast as allowed: a = clip((g − p)/δ, −1, 1)."""
        return np.clip((goal - state) / self.step_size, -1.0, 1.0)


class PointReachVectorEnv(GoalVectorEnv):
    """``num_envs`` lock-stepped :class:`PointReachEnv` episodes (the id's ``vector_entry_point``)."""

    single_env_cls = PointReachEnv
