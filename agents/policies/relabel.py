"""The one hindsight-relabelling sampler shared by Merlin, GCSL, WGCSL and GCBC (spec §2).

Per sample, with T the trajectory length and (o, ag, g, a) the arrays of the dataset layout
(``observations`` (N, T+1, ·), ``achieved_goals`` (N, T+1, ·), ``desired_goals`` (N, T, ·), ``actions`` (N, T, ·)):

    trajectory k ~ U{0..N−1};  pair (i, j) ~ U{0 ≤ i < j ≤ T−1}
    with prob p_her:  goal = ag[k, j],   h = j − i        (hindsight relabel)
    otherwise:        goal = g[k, i],    h = T − i        (the episode's own goal)

Drawing the pair as h = j − i with P(h) ∝ T − h (h = 1..T−1), then i ~ U{0..T−1−h}, is exactly uniform over
pairs; it implies the Merlin "noise schedule" P(h) ∝ T − h for relabelled samples and P(i) ∝ T − 1 − i
(so h = T − i ∈ [2, T]) otherwise. Note that j ≤ T − 1: the last state ag[k, T] is never a relabelled
goal, as in the spec's reading of the Merlin code.

Batches also carry (o[k, i+1], ag[k, i+1]) for TD learning (WGCSL) and the relabel offset j − i.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch


class TrajectoryData(Protocol):
    """Anything with the four dataset arrays (e.g. ``envs.goals.datasets.GoalDataset``)."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray


def offset_probabilities(horizon: int) -> np.ndarray:
    """P(j − i = h) for a uniform pair 0 ≤ i < j ≤ T − 1: (T − h) / (T(T − 1)/2), for h = 1 … T − 1."""
    h = np.arange(1, horizon)
    return (horizon - h) / (horizon * (horizon - 1) / 2)


class RelabelSampler:
    """Samples relabelled (s, g, h, a) minibatches from fixed-length trajectories (module docstring).

    Args:
        data: the trajectories (any object with the four arrays).
        p_her: probability of replacing the episode goal by a future achieved goal.
        rng: the numpy generator that drives all draws (reproducible batches).
    """

    def __init__(self, data: TrajectoryData, p_her: float, rng: np.random.Generator):
        if not 0.0 <= p_her <= 1.0:
            raise ValueError(f"p_her must be in [0, 1], got {p_her}")
        obs, ag = np.asarray(data.observations, np.float32), np.asarray(data.achieved_goals, np.float32)
        self.n, self.horizon = data.actions.shape[:2]
        if self.horizon < 2:
            raise ValueError(f"trajectories need at least 2 steps for relabelling, got {self.horizon}")
        # flat (trajectory, step) rows: row k·(T+1) + t of obs/ag, row k·T + t of goals/actions
        self.obs, self.ag = obs.reshape(-1, obs.shape[-1]), ag.reshape(-1, ag.shape[-1])
        self.goals = np.asarray(data.desired_goals, np.float32).reshape(-1, ag.shape[-1])
        self.actions = np.asarray(data.actions, np.float32).reshape(-1, data.actions.shape[-1])
        self.p_her, self.rng = float(p_her), rng
        self._offset_cdf = np.cumsum(offset_probabilities(self.horizon))
        self._offset_cdf[-1] = 1.0

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of numpy arrays: obs, goal, horizon, action, next_obs, next_achieved, and the draws
        (relabelled, offset = j − i, index = i, trajectory = k)."""
        T, rng = self.horizon, self.rng
        k = rng.integers(self.n, size=batch_size)
        offset = 1 + np.searchsorted(self._offset_cdf, rng.random(batch_size), side="right")  # P(h) ∝ T − h
        i = (rng.random(batch_size) * (T - offset)).astype(np.int64)  # uniform on {0, …, T − 1 − h}
        her = rng.random(batch_size) < self.p_her
        row, step_row = k * (T + 1) + i, k * T + i
        goal = np.where(her[:, None], self.ag.take(row + offset, axis=0), self.goals.take(step_row, axis=0))
        return {
            "obs": self.obs.take(row, axis=0),
            "goal": goal,
            "horizon": np.where(her, offset, T - i).astype(np.float32),
            "action": self.actions.take(step_row, axis=0),
            "next_obs": self.obs.take(row + 1, axis=0),
            "next_achieved": self.ag.take(row + 1, axis=0),
            "relabelled": her,
            "offset": offset,
            "index": i,
            "trajectory": k,
        }


def concat_batches(*batches: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Stack batches from several samplers (e.g. dataset + synthetic data) key by key."""
    return {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}


def to_torch(batch: dict[str, Any], device: str | torch.device,
             keys: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """The arrays named by `keys` (default: all) as tensors on `device`, dtypes kept."""
    return {key: torch.as_tensor(batch[key], device=device) for key in (keys or tuple(batch))}
