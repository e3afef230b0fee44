"""Offline goal-reaching datasets: builders ("expert", "random"), ``.npz`` storage and a validating loader.

A dataset holds N trajectories of fixed length T (Merlin: T = 50) in four arrays, the ``.npz`` keys:

| key | shape | meaning |
|---|---|---|
| ``observations`` | (N, T + 1, obs_dim) | o_0 … o_T (``observation`` part of the dict obs) |
| ``achieved_goals`` | (N, T + 1, goal_dim) | ag_0 … ag_T |
| ``desired_goals`` | (N, T, goal_dim) | the episode's goal g at steps 0 … T − 1 |
| ``actions`` | (N, T, act_dim) | a_0 … a_{T−1}, in [−1, 1] |

all float32, plus string metadata ``env_id`` and ``kind``. This is the layout of the WGCSL/AWGCSL
offline buffers (keys ``o``, ``ag``, ``g``, ``u``; see :func:`from_awgcsl`) under descriptive names.

Builders: ``expert`` = the env's scripted controller with HER-style exploration noise — Gaussian noise
(σ = ``noise``) and, with probability ``random_eps``, a uniform random action instead (the original data came
from a trained policy + noise; ours is a stand-in, its noise levels our choice); ``random`` = actions
uniform on [−1, 1]. Worlds with
batched numpy dynamics (`envs.goals.core.GoalReachingEnv`) build all trajectories at once; other goal
envs (Fetch) are stepped one episode at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.goals.core import GoalReachingEnv

ARRAY_KEYS = ("observations", "achieved_goals", "desired_goals", "actions")
KINDS = ("expert", "random")


@dataclass
class GoalDataset:
    """N fixed-length goal-reaching trajectories (see the module docstring for shapes)."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def n_trajectories(self) -> int:
        return int(self.actions.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[1])

    @property
    def dims(self) -> tuple[int, int, int]:
        """(obs_dim, goal_dim, act_dim)."""
        return self.observations.shape[-1], self.achieved_goals.shape[-1], self.actions.shape[-1]

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in ARRAY_KEYS}

    def validate(self, source: str = "dataset", env: Any = None) -> GoalDataset:
        """Raise ValueError naming `source` and the offending key unless shapes, dtypes and values are sane.

        Checks: every array floating point, 3-D, with consistent N, T (+1 for observations/achieved goals);
        N ≥ 1, T ≥ 2; all values finite; actions in [−1, 1]; and, given `env`, dims matching its spaces.
        """
        arrays = self.arrays()
        for key, value in arrays.items():
            if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
                dtype = getattr(value, "dtype", type(value).__name__)
                raise ValueError(f"{source}: key '{key}' has dtype {dtype}, expected floating point")
            if value.ndim != 3:
                raise ValueError(f"{source}: key '{key}' has shape {value.shape}, expected 3 dimensions "
                                 f"(trajectories, steps, features)")
        n, t = self.actions.shape[:2]
        if n < 1 or t < 2:
            raise ValueError(f"{source}: key 'actions' has shape {self.actions.shape}; "
                             f"need ≥ 1 trajectory of ≥ 2 steps")
        expected_steps = {"observations": t + 1, "achieved_goals": t + 1, "desired_goals": t, "actions": t}
        for key, steps in expected_steps.items():
            if arrays[key].shape[:2] != (n, steps):
                raise ValueError(f"{source}: key '{key}' has shape {arrays[key].shape}, expected ({n}, {steps}, ·) "
                                 f"for N={n} trajectories of T={t} steps")
        if self.desired_goals.shape[2] != self.achieved_goals.shape[2]:
            raise ValueError(f"{source}: key 'desired_goals' has goal size {self.desired_goals.shape[2]} but "
                             f"'achieved_goals' has {self.achieved_goals.shape[2]}")
        for key, value in arrays.items():
            bad = ~np.isfinite(value)
            if bad.any():
                raise ValueError(f"{source}: key '{key}' has a non-finite value at index "
                                 f"{tuple(int(i) for i in np.argwhere(bad)[0])}")
        if np.abs(self.actions).max() > 1.0 + 1e-6:
            where = tuple(int(i) for i in np.argwhere(np.abs(self.actions) > 1.0 + 1e-6)[0])
            raise ValueError(f"{source}: key 'actions' has a value outside [-1, 1] at index {where}")
        if env is not None:
            space = env.observation_space
            wanted = {"observations": space["observation"].shape[0], "achieved_goals": space["achieved_goal"].shape[0],
                      "actions": env.action_space.shape[0]}
            for key, dim in wanted.items():
                if arrays[key].shape[2] != dim:
                    raise ValueError(f"{source}: key '{key}' has feature size {arrays[key].shape[2]}, "
                                     f"but the env expects {dim}")
        return self

    def save(self, path: str | Path) -> Path:
        """Write the validated dataset to ``path`` (.npz, float32 arrays, string metadata)."""
        self.validate(str(path))
        path = Path(path)
        with path.open("wb") as f:  # a file object keeps numpy from appending a second ".npz"
            np.savez(f, **{k: v.astype(np.float32) for k, v in self.arrays().items()},
                     **{k: np.array(str(v)) for k, v in self.meta.items()})
        return path

    def final_success(self, distance_threshold: float) -> np.ndarray:
        """Per trajectory: 1 if the last achieved goal is within the threshold of the episode's goal."""
        d = np.linalg.norm(self.achieved_goals[:, -1] - self.desired_goals[:, -1], axis=-1)
        return (d <= distance_threshold).astype(np.float64)


def load_dataset(path: str | Path, env: Any = None) -> GoalDataset:
    """Load and validate a dataset written by :meth:`GoalDataset.save` (ValueError naming the problem)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npz dataset ({err})") from None
    missing = [key for key in ARRAY_KEYS if key not in contents]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}; a dataset has keys {list(ARRAY_KEYS)}")
    meta = {key: str(value) for key, value in contents.items() if key not in ARRAY_KEYS and value.ndim == 0}
    dataset = GoalDataset(**{key: contents[key] for key in ARRAY_KEYS}, meta=meta)
    return dataset.validate(str(path), env)


def from_awgcsl(buffer: dict[str, np.ndarray], env_id: str = "") -> GoalDataset:
    """Convert a WGCSL/AWGCSL offline buffer (keys ``o``, ``ag``, ``g``, ``u``; spec §5) and validate it."""
    missing = [key for key in ("o", "ag", "g", "u") if key not in buffer]
    if missing:
        raise ValueError(f"AWGCSL buffer: missing key(s) {missing}")
    as_float = {key: np.asarray(buffer[key], dtype=np.float32) for key in ("o", "ag", "g", "u")}
    dataset = GoalDataset(as_float["o"], as_float["ag"], as_float["g"], as_float["u"],
                          meta={"env_id": env_id, "kind": "awgcsl"})
    return dataset.validate("AWGCSL buffer")


def build_dataset(env: Any, kind: str, n_trajectories: int, horizon: int = 50, noise: float = 0.2,
                  random_eps: float = 0.3, seed: int = 0, env_id: str = "") -> GoalDataset:
    """Roll out N episodes of `horizon` steps in `env` (an unwrapped goal env) with the `kind` behaviour.

    ``expert``: with probability ``random_eps`` a ~ U[−1, 1]^d, else a = clip(a* + noise·ε, −1, 1),
    ε ~ N(0, I), a* the env's scripted controller (HER's noise_eps / random_eps exploration);
    ``random``: a ~ U[−1, 1]^d. Start states and goals come from the env's reset distribution.
    Deterministic given `seed`.
    """
    if kind not in KINDS:
        raise ValueError(f"dataset kind must be one of {KINDS}, got {kind!r}")
    if n_trajectories < 1 or horizon < 2 or noise < 0 or not 0.0 <= random_eps <= 1.0:
        raise ValueError("need n_trajectories ≥ 1, horizon ≥ 2, noise ≥ 0 and random_eps in [0, 1]")
    rng = np.random.default_rng(seed)
    rollout = _rollout_batched if isinstance(env, GoalReachingEnv) else _rollout_sequential
    obs, ag, goal, actions = rollout(env, kind, n_trajectories, horizon, (noise, random_eps), rng)
    meta = {"env_id": env_id or type(env).__name__, "kind": kind}
    return GoalDataset(obs.astype(np.float32), ag.astype(np.float32),
                       np.repeat(goal[:, None], horizon, axis=1).astype(np.float32), actions.astype(np.float32),
                       meta=meta).validate("built dataset", env)


def _behaviour(kind: str, expert: np.ndarray | None, shape: tuple[int, ...], noise: tuple[float, float],
               rng: np.random.Generator) -> np.ndarray:
    uniform = rng.uniform(-1.0, 1.0, shape)
    if kind == "random":
        return uniform
    sigma, random_eps = noise
    noisy = np.clip(expert + sigma * rng.standard_normal(shape), -1.0, 1.0)
    explore = rng.random(shape[:-1]) < random_eps
    return np.where(explore[..., None], uniform, noisy)


def _rollout_batched(env: GoalReachingEnv, kind: str, n: int, horizon: int, noise: tuple[float, float],
                     rng: np.random.Generator):
    state, goal = env.sample_states(rng, n), env.sample_goals(rng, n)
    obs, ag = [env.observe(state)], [env.achieved(state)]
    actions = []
    for _ in range(horizon):
        expert = env.expert_action(state, goal) if kind == "expert" else None
        action = _behaviour(kind, expert, (n, env.act_dim), noise, rng)
        state = env.dynamics(state, action)
        actions.append(action)
        obs.append(env.observe(state))
        ag.append(env.achieved(state))
    return np.stack(obs, 1), np.stack(ag, 1), goal, np.stack(actions, 1)


def _rollout_sequential(env: Any, kind: str, n: int, horizon: int, noise: tuple[float, float],
                        rng: np.random.Generator):
    act_shape = env.action_space.shape
    obs, ag, goals, actions = [], [], [], []
    for _ in range(n):
        o, _ = env.reset(seed=int(rng.integers(2**31)))
        goals.append(o["desired_goal"])
        traj_o, traj_ag, traj_a = [o["observation"]], [o["achieved_goal"]], []
        for _ in range(horizon):
            expert = env.expert_action_from_obs(o) if kind == "expert" else None
            a = _behaviour(kind, expert, act_shape, noise, rng)
            o, *_ = env.step(a)
            traj_a.append(a)
            traj_o.append(o["observation"])
            traj_ag.append(o["achieved_goal"])
        obs.append(np.stack(traj_o))
        ag.append(np.stack(traj_ag))
        actions.append(np.stack(traj_a))
    return np.stack(obs), np.stack(ag), np.stack(goals), np.stack(actions)
