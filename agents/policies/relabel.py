"""The one hindsight-relabelling sampler shared by Merlin, GCSL, WGCSL and GCBC (spec §2).

A trajectory has T actions and T + 1 states; in the dataset layout (``observations`` (N, T+1, ·),
``achieved_goals`` (N, T+1, ·), ``desired_goals`` (N, T, ·), ``actions`` (N, T, ·)). Per sample:

    trajectory k ~ U{0..N−1};  state index i, goal index j with 0 ≤ i < j ≤ T
    with prob p_her:  goal = ag[k, j],   h = j − i          (hindsight relabel)
    otherwise:        goal = g[k, i],    h = T + 1 − i      (the episode's own goal)

Two pair distributions (``pairs``):

* ``"triu"`` (Merlin's code, ``src/components/buffer.py``): (i, j) uniform over ``triu_indices(T + 1, 1)``,
  the T(T + 1)/2 pairs of the T + 1 states; every action a_0 … a_{T−1} is trained and the final state
  ag_T can be a goal. Implied "noise schedule": P(h) ∝ T + 1 − h (h = 1 … T), P(i) ∝ T − i. The
  unrelabelled horizon h = T + 1 − i ∈ [2, T + 1] is the code's ``max_trajectory_length − i`` with
  max_trajectory_length = T + 1 states.
* ``"uniform_t"`` (WGCSL / GCSL code, YangRui2015/AWGCSL ``supervised_sampler.py``): i ~ U{0..T−1}, then
  j ~ U{i+1..T}.

Batches also carry the episode goal (``desired``, for WGCSL's critic), (o[k, i+1], ag[k, i+1]) for TD
learning and the relabel offset j − i.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

PAIR_MODES = ("triu", "uniform_t")


class TrajectoryData(Protocol):
    """Anything with the four dataset arrays (e.g. ``envs.goals.datasets.GoalDataset``)."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray


def offset_probabilities(horizon: int) -> np.ndarray:
    """P(j − i = h) for (i, j) uniform over triu_indices(T + 1, 1): (T + 1 − h) / (T(T + 1)/2), h = 1 … T."""
    h = np.arange(1, horizon + 1)
    return (horizon + 1 - h) / (horizon * (horizon + 1) / 2)


class RelabelSampler:
    """Samples relabelled (s, g, h, a) minibatches from fixed-length trajectories (module docstring).

    Args:
        data: the trajectories (any object with the four arrays).
        p_her: probability of replacing the episode goal by a future achieved goal.
        rng: the numpy generator that drives all draws (reproducible batches).
        pairs: ``"triu"`` (Merlin) or ``"uniform_t"`` (WGCSL/GCSL), the (i, j) distribution.
    """

    def __init__(self, data: TrajectoryData, p_her: float, rng: np.random.Generator, pairs: str = "triu"):
        if not 0.0 <= p_her <= 1.0:
            raise ValueError(f"p_her must be in [0, 1], got {p_her}")
        if pairs not in PAIR_MODES:
            raise ValueError(f"pairs must be one of {PAIR_MODES}, got {pairs!r}")
        obs, ag = np.asarray(data.observations, np.float32), np.asarray(data.achieved_goals, np.float32)
        self.n, self.horizon = data.actions.shape[:2]
        if self.horizon < 1 or self.n < 1:
            raise ValueError(f"need at least one trajectory of at least one step, got actions {data.actions.shape}")
        # flat (trajectory, step) rows: row k·(T+1) + t of obs/ag, row k·T + t of goals/actions
        self.obs, self.ag = obs.reshape(-1, obs.shape[-1]), ag.reshape(-1, ag.shape[-1])
        self.goals = np.asarray(data.desired_goals, np.float32).reshape(-1, ag.shape[-1])
        self.actions = np.asarray(data.actions, np.float32).reshape(-1, data.actions.shape[-1])
        self.p_her, self.rng, self.pairs = float(p_her), rng, pairs
        self._pairs = np.column_stack(np.triu_indices(self.horizon + 1, 1))  # (T(T+1)/2, 2)

    def draw_pairs(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) per sample, 0 ≤ i < j ≤ T, from the sampler's pair distribution."""
        if self.pairs == "triu":
            pick = self._pairs[self.rng.integers(len(self._pairs), size=batch_size)]
            return pick[:, 0], pick[:, 1]
        i = self.rng.integers(self.horizon, size=batch_size)
        j = i + 1 + (self.rng.random(batch_size) * (self.horizon - i)).astype(np.int64)  # U{i+1..T}
        return i, j

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of numpy arrays: obs, goal, desired, horizon, action, next_obs, next_achieved, and the draws
        (relabelled, offset = j − i, index = i, trajectory = k)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        T, rng = self.horizon, self.rng
        k = rng.integers(self.n, size=batch_size)
        i, j = self.draw_pairs(batch_size)
        her = rng.random(batch_size) < self.p_her
        row, step_row = k * (T + 1) + i, k * T + i
        desired = self.goals.take(step_row, axis=0)
        return {
            "obs": self.obs.take(row, axis=0),
            "goal": np.where(her[:, None], self.ag.take(k * (T + 1) + j, axis=0), desired),
            "desired": desired,
            "horizon": np.where(her, j - i, T + 1 - i).astype(np.float32),
            "action": self.actions.take(step_row, axis=0),
            "next_obs": self.obs.take(row + 1, axis=0),
            "next_achieved": self.ag.take(row + 1, axis=0),
            "relabelled": her,
            "offset": j - i,
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
