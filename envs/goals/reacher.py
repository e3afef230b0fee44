"""A two-link planar reacher with a goal for its fingertip (``recast/ReacherGoal-v0``).

Stands in for Merlin's ``Reacher-v2`` + goal wrapper (threshold 0.05): link lengths 0.1 and 0.11 and
the 0.2-radius target disc follow MuJoCo's reacher, but the dynamics are our own damped
double-integrator in joint space (numpy, no MuJoCo), so numbers are not comparable to the paper's.
"""

from __future__ import annotations

import numpy as np

from envs.goals.core import GoalReachingEnv, GoalVectorEnv, _disc


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Angles to [−π, π)."""
    return (x + np.pi) % (2 * np.pi) - np.pi


class ReacherGoalEnv(GoalReachingEnv):
    """Two-link arm in the plane; bring the fingertip within ε of the goal.

    ## Description
    Internal state (θ₁, θ₂, ω₁, ω₂). Each step (semi-implicit Euler, unit time step):
    ω ← clip((1 − c)·ω + k·a, −ω_max, ω_max), θ ← wrap(θ + ω). Fingertip
    x = l₁(cos θ₁, sin θ₁) + l₂(cos(θ₁ + θ₂), sin(θ₁ + θ₂)).

    ## Action Space
    ``Box(−1, 1, (2,), float32)``: joint torques, scaled by k = ``torque_gain``.

    ## Observation Space
    Dict: ``observation`` = (cos θ₁, sin θ₁, cos θ₂, sin θ₂, ω₁, ω₂) (6,); ``achieved_goal`` = fingertip (2,);
    ``desired_goal`` = g (2,).

    ## Rewards
    Sparse: 0 if ‖x − g‖ ≤ ε (0.05) else −1; ``info["is_success"]`` = 1[‖x − g‖ ≤ ε].

    ## Starting State
    θ uniform on [−π, π)², ω = 0; g uniform on the disc of radius 0.2 (always reachable: l₂ − l₁ < ‖g‖ allowed
    down to 0.01).

    ## Episode End
    Never terminates; ``gymnasium.make`` truncates after 50 steps.

    ## Arguments
    ``link_lengths`` ((0.1, 0.11)), ``torque_gain`` (k = 0.1), ``damping`` (c = 0.2), ``max_velocity``
    (ω_max = 0.5 rad/step), ``goal_radius`` (0.2), ``distance_threshold`` (ε = 0.05), ``render_mode``.
    """

    obs_dim, goal_dim, act_dim = 6, 2, 2

    def __init__(self, link_lengths: tuple[float, float] = (0.1, 0.11), torque_gain: float = 0.1,
                 damping: float = 0.2, max_velocity: float = 0.5, goal_radius: float = 0.2,
                 distance_threshold: float = 0.05, render_mode: str | None = None):
        self.l1, self.l2 = map(float, link_lengths)
        if min(self.l1, self.l2, torque_gain, max_velocity, distance_threshold) <= 0 or not 0 <= damping < 1:
            raise ValueError("lengths, gain, max_velocity, threshold must be positive and damping in [0, 1)")
        if goal_radius > self.l1 + self.l2:
            raise ValueError(f"goal_radius {goal_radius} exceeds the arm's reach {self.l1 + self.l2}")
        self.torque_gain, self.damping, self.max_velocity = float(torque_gain), float(damping), float(max_velocity)
        self.goal_radius, self.distance_threshold = float(goal_radius), float(distance_threshold)
        self.obs_bound = np.array([1.0, 1.0, 1.0, 1.0, self.max_velocity, self.max_velocity])
        self.goal_bound = self.l1 + self.l2
        super().__init__(render_mode)

    def sample_states(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.concatenate([rng.uniform(-np.pi, np.pi, (n, 2)), np.zeros((n, 2))], axis=1)

    def sample_goals(self, rng: np.random.Generator, n: int) -> np.ndarray:
        r = self.goal_radius * np.sqrt(rng.uniform(0.0, 1.0, n))
        phi = rng.uniform(-np.pi, np.pi, n)
        return np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        omega = np.clip((1.0 - self.damping) * state[:, 2:] + self.torque_gain * action,
                        -self.max_velocity, self.max_velocity)
        return np.concatenate([wrap_angle(state[:, :2] + omega), omega], axis=1)

    def observe(self, state: np.ndarray) -> np.ndarray:
        th = state[:, :2]
        return np.concatenate([np.cos(th[:, :1]), np.sin(th[:, :1]), np.cos(th[:, 1:]), np.sin(th[:, 1:]),
                               state[:, 2:]], axis=1)

    def joints(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elbow and fingertip positions, each (n, 2)."""
        t1, t12 = state[:, 0], state[:, 0] + state[:, 1]
        elbow = self.l1 * np.stack([np.cos(t1), np.sin(t1)], axis=1)
        return elbow, elbow + self.l2 * np.stack([np.cos(t12), np.sin(t12)], axis=1)

    def achieved(self, state: np.ndarray) -> np.ndarray:
        return self.joints(state)[1]

    def inverse_kinematics(self, goal: np.ndarray, elbow_sign: np.ndarray) -> np.ndarray:
        """Joint angles putting the fingertip at `goal` (clipped to the reachable annulus), elbow sign ±1."""
        r2 = np.sum(goal**2, axis=1)
        cos2 = np.clip((r2 - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2), -1.0, 1.0)
        t2 = elbow_sign * np.arccos(cos2)
        t1 = np.arctan2(goal[:, 1], goal[:, 0]) - np.arctan2(self.l2 * np.sin(t2), self.l1 + self.l2 * np.cos(t2))
        return wrap_angle(np.stack([t1, t2], axis=1))

    def expert_action(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """PD control towards the inverse-kinematics solution with the current elbow sign.

        Velocity-space deadbeat rule: aim for ω* = clip(0.5·Δθ, ±ω_max) and apply the torque that gets
        there in one step, a = (ω* − (1 − c)·ω)/k, clipped to [−1, 1].
        """
        sign = np.where(state[:, 1] >= 0, 1.0, -1.0)
        error = wrap_angle(self.inverse_kinematics(goal, sign) - state[:, :2])
        target = np.clip(0.5 * error, -self.max_velocity, self.max_velocity)
        return np.clip((target - (1.0 - self.damping) * state[:, 2:]) / self.torque_gain, -1.0, 1.0)

    def draw(self, img: np.ndarray, state: np.ndarray, goal: np.ndarray) -> None:
        elbow, tip = self.joints(state[None])
        ts = np.linspace(0.0, 1.0, 24)[:, None]
        arm = np.concatenate([ts * elbow, elbow + ts * (tip - elbow)])
        _disc(img, self._pixel(arm), 1.5, (120, 120, 120))
        super().draw(img, state, goal)


class ReacherGoalVectorEnv(GoalVectorEnv):
    """``num_envs`` lock-stepped :class:`ReacherGoalEnv` episodes (the id's ``vector_entry_point``)."""

    single_env_cls = ReacherGoalEnv
