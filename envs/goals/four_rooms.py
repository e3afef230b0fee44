"""A point mass in four rooms (``recast/PointRooms-v0``).

Two layouts:

* ``"official"`` (default) — multiworld/WGCSL/Merlin ``Point2D-FourRoom-v1`` (``wall_shape="four-room-v1"``,
  ``wall_thickness=0.3``, ``ball_radius=0.5``, ``boundary_dist=5``, ``target_radius=1``): on the lines y = 0 and
  x = 0 a central wall segment |·| ≤ 0.17·L and two stubs 1.05·L ≤ |·| ≤ 1.2·L, each thickened by the wall
  thickness and, as a configuration-space obstacle for the ball's centre, by the ball radius. The centre
  thus meets axis-aligned boxes: a cross |x| ≤ 1.65, |y| ≤ 0.8 (and transposed) plus stubs 4.45 ≤ |x| (|y| ≤ 0.8,
  and transposed), leaving four 2.8-wide openings centred at ±3.05 on each axis. Collisions follow
  ``walls.py``: a move whose bounding box meets a box side it approaches is stopped 0.01 outside that side;
  if that changes both coordinates, the walls are replayed in reverse order (the original's "hack").
* ``"thin"`` — our earlier, harder reconstruction: zero-thickness walls on x = 0 and y = 0 with two doorways of
  width 2w centred at ±c each (c = 2.5, w = 0.75); a crossing outside a doorway is stopped 1e-3 short.
"""

from __future__ import annotations

import numpy as np

from envs.goals.core import GoalReachingEnv, GoalVectorEnv, _disc

WALL_MARGIN = 1e-3  # thin layout: a blocked move stops this far short of the wall, on its own side
EPSILON_FROM_WALL = 0.01  # official layout: a blocked move stops this far outside the box side
LAYOUTS = ("official", "thin")


def official_walls(size: float = 5.0, ball_radius: float = 0.5, thickness: float = 0.3) -> list[tuple[str, float,
                                                                                                       float, float]]:
    """four-room-v1's walls as (orientation, position, start, end) centre lines, in the original's order."""
    spans = [(-1.2 * size, -1.05 * size), (-0.17 * size, 0.17 * size), (1.05 * size, 1.2 * size)]
    return [("h", 0.0, a, b) for a, b in spans] + [("v", 0.0, a, b) for a, b in spans[::-1]]


def wall_boxes(walls: list[tuple[str, float, float, float]], ball_radius: float,
               thickness: float) -> np.ndarray:
    """Configuration-space boxes (min_x, max_x, min_y, max_y) of the ball centre, one row per wall."""
    pad = ball_radius + thickness
    boxes = []
    for kind, pos, a, b in walls:
        along, across = (a - pad, b + pad), (pos - pad, pos + pad)
        boxes.append((*along, *across) if kind == "h" else (*across, *along))
    return np.array(boxes, float)


def collide(start: np.ndarray, end: np.ndarray, boxes: np.ndarray, eps: float = EPSILON_FROM_WALL) -> np.ndarray:
    """Apply each box's collision rule in turn to a batch of moves start → end (both (n, 2)); returns new ends.

    Per box with sides x = min_x, max_x and y = min_y, max_y: a side "meets" the move when the side segment
    and the move's bounding box overlap (as in the original ``Segment.intersects_with``; the move's box is
    taken before this wall's corrections). Approaching the top (end_y ≤ start_y ≥ max_y) sets end_y =
    max_y + eps; bottom, right and left likewise, checked in the order top, bottom, right, left.
    """
    end = end.copy()
    for min_x, max_x, min_y, max_y in boxes:
        lo, hi = np.minimum(start, end), np.maximum(start, end)  # the move's bounding box, fixed per wall
        x_overlap = (lo[:, 0] <= max_x) & (hi[:, 0] >= min_x)
        y_overlap = (lo[:, 1] <= max_y) & (hi[:, 1] >= min_y)
        sx, sy = start[:, 0], start[:, 1]
        top = x_overlap & (lo[:, 1] <= max_y) & (hi[:, 1] >= max_y) & (end[:, 1] <= sy) & (sy >= max_y)
        end[:, 1] = np.where(top, max_y + eps, end[:, 1])
        bottom = x_overlap & (lo[:, 1] <= min_y) & (hi[:, 1] >= min_y) & (end[:, 1] >= sy) & (sy <= min_y)
        end[:, 1] = np.where(bottom, min_y - eps, end[:, 1])
        right = y_overlap & (lo[:, 0] <= max_x) & (hi[:, 0] >= max_x) & (end[:, 0] <= sx) & (sx >= max_x)
        end[:, 0] = np.where(right, max_x + eps, end[:, 0])
        left = y_overlap & (lo[:, 0] <= min_x) & (hi[:, 0] >= min_x) & (end[:, 0] >= sx) & (sx <= min_x)
        end[:, 0] = np.where(left, min_x - eps, end[:, 0])
    return end


class PointRoomsEnv(GoalReachingEnv):
    """Point mass in four rooms; walls block motion except through the openings (module docstring).

    ## Description
    Position p ∈ [−L, L]². A move p → p + δ·a is corrected by the layout's walls, then clipped to the square.

    ## Action Space
    ``Box(−1, 1, (2,), float32)``, scaled by δ = ``step_size``.

    ## Observation Space
    Dict: ``observation`` = ``achieved_goal`` = p (2,), ``desired_goal`` = g (2,); float32 in [−L, L].

    ## Rewards
    Sparse: 0 if ‖p − g‖ ≤ ε else −1; ``info["is_success"]`` = 1[‖p − g‖ ≤ ε].

    ## Starting State
    p and g independently uniform on the square outside the walls (rejection sampling, as the original).

    ## Episode End
    Never terminates; ``gymnasium.make`` truncates after 50 steps.

    ## Arguments
    ``layout`` (``"official"`` or ``"thin"``), ``size`` (L = 5), ``step_size`` (δ = 1), ``distance_threshold``
    (ε; default 1 official, 0.5 thin), official: ``ball_radius`` (0.5), ``wall_thickness`` (0.3);
    thin: ``door_center`` (c = 2.5), ``door_half_width`` (w = 0.75); ``render_mode``.
    """

    obs_dim, goal_dim, act_dim = 2, 2, 2

    def __init__(self, layout: str = "official", size: float = 5.0, step_size: float = 1.0,
                 distance_threshold: float | None = None, ball_radius: float = 0.5, wall_thickness: float = 0.3,
                 door_center: float = 2.5, door_half_width: float = 0.75, render_mode: str | None = None):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if distance_threshold is None:
            distance_threshold = 1.0 if layout == "official" else 0.5
        if not (np.isfinite([size, step_size, distance_threshold]).all() and size > 0 and step_size > 0
                and distance_threshold > 0):
            raise ValueError("size, step_size and distance_threshold must be finite and positive")
        self.layout, self.size, self.step_size = layout, float(size), float(step_size)
        self.distance_threshold = float(distance_threshold)
        if layout == "official":
            if ball_radius < 0 or wall_thickness < 0:
                raise ValueError("ball_radius and wall_thickness must be ≥ 0")
            self.ball_radius, self.wall_thickness = float(ball_radius), float(wall_thickness)
            self.walls = official_walls(self.size)
            self.boxes = wall_boxes(self.walls, self.ball_radius, self.wall_thickness)
            inner, stub = 0.17 * self.size + ball_radius + wall_thickness, 1.05 * self.size - ball_radius - wall_thickness
            self.door_center, self.door_half_width = (inner + stub) / 2, (stub - inner) / 2
            self.wall_half_width = ball_radius + wall_thickness  # the walls' half-thickness for the centre
        else:
            if not 0 < door_half_width < door_center < size - door_half_width:
                raise ValueError("need 0 < door_half_width < door_center < size - door_half_width")
            self.door_center, self.door_half_width = float(door_center), float(door_half_width)
            self.wall_half_width = 0.0
        self.obs_bound = self.goal_bound = self.size
        super().__init__(render_mode)

    # ----- geometry -----
    def inside_wall(self, points: np.ndarray) -> np.ndarray:
        """Whether each point (n, 2) lies strictly inside a wall box (official; never for thin walls)."""
        points = np.atleast_2d(points)
        if self.layout == "thin":
            return np.zeros(len(points), bool)
        b = self.boxes
        x, y = points[:, :1], points[:, 1:]
        return ((b[:, 0] < x) & (x < b[:, 1]) & (b[:, 2] < y) & (y < b[:, 3])).any(axis=1)

    def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform on the square, rejecting points inside walls."""
        out = rng.uniform(-self.size, self.size, (n, 2))
        bad = self.inside_wall(out)
        while bad.any():
            out[bad] = rng.uniform(-self.size, self.size, (int(bad.sum()), 2))
            bad = self.inside_wall(out)
        return out

    sample_goals = sample_states

    def in_door(self, coord: np.ndarray) -> np.ndarray:
        """Thin layout: whether a crossing at this coordinate along a wall passes through a doorway."""
        return np.abs(np.abs(coord) - self.door_center) <= self.door_half_width

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        new = state + self.step_size * action
        if self.layout == "official":
            moved = collide(state, new, self.boxes)
            twice = (moved != new).sum(axis=1) > 1  # caught on two walls: replay the walls in reverse order
            if twice.any():
                moved[twice] = collide(state[twice], new[twice], self.boxes[::-1])
            return np.clip(moved, -self.size, self.size)
        new = np.clip(new, -self.size, self.size)
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
        """Waypoint controller: straight to the goal in its room, else through the best opening.

        Rooms are the quadrants. For diagonal rooms the route (vertical wall first or horizontal wall first)
        with the shorter waypoint path is taken. Within 0.5 of an opening's centre the waypoint moves past it,
        clear of the wall band (0.75 for thin walls; wall half-thickness + 0.5 for the official layout).
        """
        c, depth = self.door_center, max(0.75, self.wall_half_width + 0.5)
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
        through = door + depth * np.where(use_v[:, None], dir_v, dir_h)
        near = d(state - door, axis=1) < 0.5
        target = np.where(near[:, None], through, door)
        target = np.where((~cross_x & ~cross_y)[:, None], goal, target)
        return np.clip((target - state) / self.step_size, -1.0, 1.0)

    def wall_segments(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """The walls as ((x0, y0), (x1, y1)) segments for plots: thin walls without doorways, or the
        outlines of the official walls' physical rectangles (thickness around the centre line), clipped to
        the square."""
        L = self.size
        if self.layout == "thin":
            c, w = self.door_center, self.door_half_width
            cuts = [(-L, -c - w), (-c + w, c - w), (c + w, L)]
            return [((0.0, a), (0.0, b)) for a, b in cuts] + [((a, 0.0), (b, 0.0)) for a, b in cuts]
        segments, th = [], self.wall_thickness
        for kind, pos, a, b in self.walls:
            lo, hi = max(a - th, -L), min(b + th, L)
            if lo >= hi:
                continue
            x0, x1, y0, y1 = (lo, hi, pos - th, pos + th) if kind == "h" else (pos - th, pos + th, lo, hi)
            segments += [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))]
        return segments

    def draw(self, img: np.ndarray, state: np.ndarray, goal: np.ndarray) -> None:
        for (x0, y0), (x1, y1) in self.wall_segments():
            ts = np.linspace(0.0, 1.0, 64)[:, None]
            _disc(img, self._pixel(np.array([x0, y0]) + ts * np.array([x1 - x0, y1 - y0])), 1, (90, 90, 90))
        super().draw(img, state, goal)


class PointRoomsVectorEnv(GoalVectorEnv):
    """``num_envs`` lock-stepped :class:`PointRoomsEnv` episodes (the id's ``vector_entry_point``)."""

    single_env_cls = PointRoomsEnv
