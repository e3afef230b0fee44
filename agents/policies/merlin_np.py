"""Merlin-NP: Merlin trained on a mix of dataset and *stitched* "forward diffusion" trajectories (spec §3).

Non-parametric forward diffusion, as in the official ``StateTree`` / ``forward_tree_noise``:

* **Encoder** f: MLP (``encoder_layers`` × 512 ReLU) → R^16 on states standardised by the dataset mean/std
  (ε = 1e-6), latents *not* normalised. Trained by the code's InfoNCE on consecutive states (s_t, s_{t+1})
  of a batch, with c_ij = cos(f(s_i), f(s'_j)):

      L = −mean_i log( exp(c_ii/τ) / max(Σ_j exp(c_ij/τ) − e^{1/τ}, 1e-6) ),   τ = 0.5

  (the denominator removes the largest possible positive term, e^{1/τ}, instead of the actual one).
  Adam 3e-4, batches of 256 transitions.
* **Neighbours**: exact 2-nearest neighbours in Euclidean latent distance over all N(T + 1) dataset states
  (sklearn KDTree; the code's BallTree returns the same neighbours). For a state, n₀ is its nearest state
  (itself, or an exact duplicate) and n₁ the next; it moves to n₁ if cos(f(s), f(n₁)) ≥ ``stitching_radius``
  (0.9999) and n₁ is not a trajectory's first state, else to n₀. Jumps may land in the same trajectory.
* **Walks**: from random dataset final states, T times: move to the chosen state (k, t); if t = 0 the walk
  dies (dropped, as the code deletes it); else record the transition (s_{k,t−1}, a_{k,t−1}) and continue from
  s_{k,t−1}. Goal = the walk's final achieved goal. Walks are drawn in rounds until ``synthetic_fraction`` ×
  N trajectories survive (at most ``max_rounds`` rounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from agents.policies.goal_conditioned import minimise, mlp
from agents.policies.merlin import LearnerConfig, MixedMerlin, Trajectories
from agents.policies.merlin_p import STD_EPS
from agents.policies.relabel import TrajectoryData


@dataclass
class StitchConfig:
    """Merlin-NP's stitching (defaults: the official code; ``encoder_steps`` replaces its 100 epochs)."""

    diffusion_ratio: float = 0.5  # fraction of each batch drawn from the stitched trajectories
    encoder_hidden: int = 512
    encoder_layers: int = 3
    latent_dim: int = 16
    temperature: float = 0.5  # InfoNCE temperature
    encoder_steps: int = 40_000  # ≈ 100 epochs of 1e5 transitions in batches of 256
    encoder_batch: int = 256
    encoder_lr: float = 3e-4
    stitching_radius: float = 0.9999  # cosine similarity needed to move to the second neighbour
    synthetic_fraction: float = 1.0  # stitched trajectories / dataset trajectories
    max_rounds: int = 20  # rounds of walks before giving up on filling the synthetic buffer

    def validate(self) -> None:
        if not 0.0 <= self.diffusion_ratio < 1.0:
            raise ValueError(f"diffusion_ratio must be in [0, 1), got {self.diffusion_ratio}")
        if not -1.0 <= self.stitching_radius <= 1.0 + 1e-6:
            raise ValueError(f"stitching_radius is a cosine similarity in [-1, 1], got {self.stitching_radius}")
        if min(self.encoder_hidden, self.encoder_layers, self.latent_dim, self.encoder_batch, self.max_rounds) < 1:
            raise ValueError("encoder sizes, encoder_batch and max_rounds must be ≥ 1")
        if self.encoder_steps < 0:
            raise ValueError(f"encoder_steps must be ≥ 0, got {self.encoder_steps}")
        if not (self.temperature > 0 and self.synthetic_fraction > 0 and self.encoder_lr > 0):
            raise ValueError("temperature, synthetic_fraction and encoder_lr must be positive")


def debiased_info_nce(z: torch.Tensor, z_next: torch.Tensor, temperature: float) -> torch.Tensor:
    """The official InfoNCE (module docstring): −mean log(exp(c_ii/τ) / max(Σ_j exp(c_ij/τ) − e^{1/τ}, 1e-6))."""
    cos = F.normalize(z, dim=-1) @ F.normalize(z_next, dim=-1).T
    sim = torch.exp(cos / temperature)
    negatives = (sim.sum(-1) - math.exp(1.0 / temperature)).clamp_min(1e-6)
    return -torch.log(sim.diagonal() / (negatives + 1e-6)).mean()


class LatentStitcher:
    """Contrastive state encoder + 2-nearest-neighbour backward walks (module docstring)."""

    def __init__(self, obs_dim: int, config: StitchConfig, device: torch.device):
        self.config, self.device = config, device
        self.encoder = mlp([obs_dim, *[config.encoder_hidden] * config.encoder_layers, config.latent_dim]).to(device)
        self.mean = self.std = None

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder((obs - self.mean) / self.std)

    def fit(self, data: TrajectoryData, rng: np.random.Generator) -> list[float]:
        """Standardise states, train the encoder by InfoNCE on (s_t, s_{t+1}) pairs; returns the loss curve."""
        cfg, obs = self.config, torch.as_tensor(np.asarray(data.observations, np.float32), device=self.device)
        n, horizon = data.actions.shape[:2]
        flat = obs[:, :-1].reshape(-1, obs.shape[-1])
        self.mean, self.std = flat.mean(0), flat.std(0, unbiased=False) + STD_EPS

        def batch_loss() -> torch.Tensor:
            k = torch.as_tensor(rng.integers(n, size=cfg.encoder_batch), device=self.device)
            t = torch.as_tensor(rng.integers(horizon, size=cfg.encoder_batch), device=self.device)
            return debiased_info_nce(self.encode(obs[k, t]), self.encode(obs[k, t + 1]), cfg.temperature)

        return minimise(self.encoder.parameters(), cfg.encoder_lr, cfg.encoder_steps, batch_loss)

    @torch.no_grad()
    def embed(self, observations: np.ndarray, chunk: int = 65536) -> np.ndarray:
        flat = torch.as_tensor(np.asarray(observations, np.float32).reshape(-1, observations.shape[-1]))
        parts = [self.encode(flat[i:i + chunk].to(self.device)).cpu() for i in range(0, len(flat), chunk)]
        return torch.cat(parts).numpy().astype(np.float64)

    def moves(self, data: TrajectoryData) -> np.ndarray:
        """For every state (flat index k·(T + 1) + t): the flat index the walk moves to (module docstring)."""
        from sklearn.neighbors import KDTree

        steps = data.observations.shape[1]
        z = self.embed(data.observations)
        _, idx = KDTree(z).query(z, k=min(2, len(z)))
        if idx.shape[1] < 2:
            return idx[:, 0]
        second = z[idx[:, 1]]
        cos = (z * second).sum(1) / np.maximum(np.linalg.norm(z, axis=1) * np.linalg.norm(second, axis=1), 1e-12)
        jump = (cos >= self.config.stitching_radius) & (idx[:, 1] % steps != 0)
        return np.where(jump, idx[:, 1], idx[:, 0])

    def stitch(self, data: TrajectoryData, n_trajectories: int,
               rng: np.random.Generator) -> tuple[Trajectories, float]:
        """Up to `n_trajectories` stitched walks; returns them and the fraction of steps that left the current state."""
        move = self.moves(data)
        obs, ag, act = data.observations, data.achieved_goals, data.actions
        n, steps = obs.shape[:2]
        horizon = steps - 1
        out_obs, out_ag, out_act, jumps, total = [], [], [], 0, 0
        for _ in range(self.config.max_rounds):
            need = n_trajectories - sum(len(o) for o in out_obs)
            if need <= 0:
                break
            here = rng.integers(n, size=need) * steps + horizon  # flat index of a final state
            walk_obs, walk_ag, walk_act = [obs.reshape(-1, obs.shape[-1])[here]], [ag.reshape(-1, ag.shape[-1])[here]], []
            alive = np.ones(need, bool)
            for _ in range(horizon):
                to = move[here]
                jumps += int(((to != here) & alive).sum())
                total += int(alive.sum())
                alive &= to % steps != 0
                here = np.where(alive, to - 1, here)  # the predecessor state s_{k, t−1}
                k, t = here // steps, here % steps
                walk_obs.append(obs[k, t])
                walk_ag.append(ag[k, t])
                walk_act.append(act[k, t])
            out_obs.append(np.stack(walk_obs[::-1], 1)[alive])
            out_ag.append(np.stack(walk_ag[::-1], 1)[alive])
            out_act.append(np.stack(walk_act[::-1], 1)[alive])
        observations = np.concatenate(out_obs)[:n_trajectories]
        achieved = np.concatenate(out_ag)[:n_trajectories]
        stitched = Trajectories(observations=observations, achieved_goals=achieved,
                                desired_goals=np.repeat(achieved[:, -1:], horizon, axis=1),
                                actions=np.concatenate(out_act)[:n_trajectories])
        return stitched, jumps / max(total, 1)


class MerlinNP(MixedMerlin):
    """Merlin-NP: Merlin trained on a ``diffusion_ratio`` mix of dataset and stitched samples (module docstring)."""

    name = "merlin_np"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, stitch: StitchConfig | None = None,
                 *, seed: int = 0, device: str = "cpu"):
        super().__init__(data, config, seed=seed, device=device)
        self.stitch_config = stitch or StitchConfig()
        self.stitch_config.validate()
        self.stitcher = LatentStitcher(data.observations.shape[-1], self.stitch_config, self.device)
        self.encoder_losses = self.stitcher.fit(data, self.rng)
        n_synthetic = max(1, round(self.stitch_config.synthetic_fraction * data.actions.shape[0]))
        synthetic, self.jump_rate = self.stitcher.stitch(data, n_synthetic, self.rng)
        self.use_synthetic(synthetic, n_synthetic, self.stitch_config.diffusion_ratio)
