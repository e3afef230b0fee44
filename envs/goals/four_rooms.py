"""A point mass in a four-rooms layout with walls and doorways (``recast/PointRooms-v0``).

Our reconstruction of WGCSL/Merlin's ``Point2D-FourRoom-v1``: the square [−L, L]² is split into four
rooms by two zero-thickness walls on x = 0 and y = 0; each wall has two doorways of width 2w centred
at ±c. The exact geometry of the original is not reproduced (unverified).
"""

from __future__ import annotations

import numpy as np

from envs.goals.core import GoalReachingEnv, GoalVectorEnv, _disc

WALL_MARGIN = 1e-3  # a blocked move stops this far short of the wall, on its own side


class PointRoomsEnv(GoalReachingEnv):
    """Point mass in four rooms; walls block motion except through the doorways.

    ## Description
    Position p ∈ [−L, L]². A move p → p' = clip(p + δ·a, −L, L) that crosses the wall x = 0 (resp. y = 0)
    at a point outside the doorways |y| ∈ [c − w, c + w] (resp. |x| ∈ [c − w, c + w]) is stopped at the
    wall (the crossing coordinate is set to ±1e-3 on the mover's side; the other coordinate moves freely).
    The vertical wall is resolved first, then the horizontal wall on the corrected move.

    ## Action Space
    ``Box(−1, 1, (2,), float32)``, scaled by δ = ``step_size``.

    ## Observation Space
    Dict: ``observation`` = ``achieved_goal`` = p (2,), ``desired_goal`` = g (2,); float32 in [−L, L].

    ## Rewards
    Sparse: 0 if ‖p − g‖ ≤ ε else −1; ``info["is_success"]`` = 1[‖p − g‖ ≤ ε].

    ## Starting State
    p and g independently uniform on the square (so usually in different rooms).

    ## Episode End
    Never terminates; ``gymnasium.make`` truncates after 50 steps.

    ## Arguments
    ``size`` (L = 5), ``step_size`` (δ = 1), ``door_center`` (c = 2.5), ``door_half_width`` (w = 0.75),
    ``distance_threshold`` (ε = 0.5), ``render_mode``.
    """

    obs_dim, goal_dim, act_dim = 2, 2, 2

    def __init__(self, size: float = 5.0, step_size: float = 1.0, door_center: float = 2.5,
                 door_half_width: float = 0.75, distance_threshold: float = 0.5, render_mode: str | None = None):
        if not 0 < door_half_width < door_center < size - door_half_width:
            raise ValueError("need 0 < door_half_width < door_center < size - door_half_width")
        if step_size <= 0 or distance_threshold <= 0:
            raise ValueError("step_size and distance_threshold must be positive")
        self.size, self.step_size = float(size), float(step_size)
        self.door_center, self.door_half_width = float(door_center), float(door_half_width)
        self.distance_threshold = float(distance_threshold)
        self.obs_bound = self.goal_bound = self.size
        super().__init__(render_mode)

    def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(-self.size, self.size, (n, 2))

    sample_goals = sample_states

    def in_door(self, coord: np.ndarray) -> np.ndarray:
        """Whether a crossing at this coordinate along a wall passes through a doorway."""
        return np.abs(np.abs(coord) - self.door_center) <= self.door_half_width

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        new = np.clip(state + self.step_size * action, -self.size, self.size)
        for axis in (0, 1):  # axis 0: the wall x = 0 (crossing coordinate y); axis 1: the wall y = 0
            other = 1 - axis
            side = state[:, axis] >= 0
            cross = side != (new[:, axis] >= 0)
            delta = np.where(cross, new[:, axis] - state[:, axis], 1.0)
            t = np.where(cross, -state[:, axis] / delta, 0.0)
            at_wall = state[:, other] + t * (new[:, other] - state[:, other])
            blocked = cross & ~self.in_door(at_wall)
            new[:, axis] = np.where(blocked, np.where(side, WALL_MARGIN, -WALL_MARGIN), new[:, axis])
        return new

    def observe(self, state: np.ndarray) -> np.ndarray:
        return state

    achieved = observe

    def expert_action(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Waypoint controller: straight to the goal in its room, else through the best doorway.

        For diagonal rooms the route (vertical wall first or horizontal wall first) with the shorter
        waypoint path is taken. Within 0.5 of a doorway the waypoint moves 0.75 past it into the next room.
        """
        c = self.door_center
        here, there = state >= 0, goal >= 0
        sx, sy = np.where(here[:, 0], 1.0, -1.0), np.where(here[:, 1], 1.0, -1.0)
        zero = np.zeros_like(sx)
        door_v, dir_v = np.stack([zero, sy * c], 1), np.stack([-sx, zero], 1)  # cross x = 0
        door_h, dir_h = np.stack([sx * c, zero], 1), np.stack([zero, -sy], 1)  # cross y = 0
        cross_x, cross_y = here[:, 0] != there[:, 0], here[:, 1] != there[:, 1]
        d = np.linalg.norm
        cost_v = d(state - door_v, axis=1) + d(np.stack([-sx * c, zero], 1) - goal, axis=1)
        cost_h = d(state - door_h, axis=1) + d(np.stack([zero, -sy * c], 1) - goal, axis=1)
        use_v = cross_x & (~cross_y | (cost_v <= cost_h))
        door = np.where(use_v[:, None], door_v, door_h)
        through = door + 0.75 * np.where(use_v[:, None], dir_v, dir_h)
        near = d(state - door, axis=1) < 0.5
        target = np.where(near[:, None], through, door)
        target = np.where((~cross_x & ~cross_y)[:, None], goal, target)
        return np.clip((target - state) / self.step_size, -1.0, 1.0)

    def wall_segments(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """The walls as ((x0, y0), (x1, y1)) segments, doorways left out (for plots)."""
        L, c, w = self.size, self.door_center, self.door_half_width
        cuts = [(-L, -c - w), (-c + w, c - w), (c + w, L)]
        return [((0.0, a), (0.0, b)) for a, b in cuts] + [((a, 0.0), (b, 0.0)) for a, b in cuts]

    def draw(self, img: np.ndarray, state: np.ndarray, goal: np.ndarray) -> None:
        for (x0, y0), (x1, y1) in self.wall_segments():
            ts = np.linspace(0.0, 1.0, 64)[:, None]
            _disc(img, self._pixel(np.array([x0, y0]) + ts * np.array([x1 - x0, y1 - y0])), 1, (90, 90, 90))
        super().draw(img, state, goal)


class PointRoomsVectorEnv(GoalVectorEnv):
    """``num_envs`` lock-stepped :class:`PointRoomsEnv` episodes (the id's ``vector_entry_point``)."""

    single_env_cls = PointRoomsEnv
