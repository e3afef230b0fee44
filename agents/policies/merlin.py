"""Merlin: goal-conditioned policies as reverse diffusion over offline trajectories (Jain & Ravanbakhsh, ICML 2024).

A trajectory read backwards from the state where it ended walks *away* from that goal: a forward
"diffusion" whose time is the number of steps h still to go. The reverse (denoising) model is the
policy π(a | s, g, h); maximising the likelihood of reaching g reduces to behaviour cloning on
hindsight-relabelled samples (spec §1–2):

    (s_i, a_i, g, h) ~ RelabelSampler(p_her)        g = ag_j, h = j − i  (or the episode goal, h = T − i)
    L(θ) = −E[ log N(a_i; μ_θ(s_i, g, h), diag σ_θ²(s_i, g, h)) ]
    Adam (lr 5e-4), gradient-norm clip 1.0, batch 512

At test time a = μ_θ(s, g, h_test) with a *constant* task-tuned h_test (not decremented), one policy call
per environment step, no value function.

Merlin-NP (spec §3) adds "forward diffusion" data by latent nearest-neighbour trajectory stitching
(:class:`LatentStitcher`) and trains on a 50/50 mix of dataset and stitched samples. Merlin-P (learned
reverse dynamics + reverse CVAE) is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.policies.goal_conditioned import GoalConditionedPolicy, RunningNormaliser, adam, mlp
from agents.policies.relabel import PAIR_MODES, RelabelSampler, TrajectoryData, concat_batches, to_torch

ACTOR_LOSSES = ("gaussian", "mse")


@dataclass
class LearnerConfig:
    """Hyper-parameters shared by Merlin and the baselines (defaults: spec §2)."""

    hidden: list[int] = field(default_factory=lambda: [256, 256, 256])
    horizon_dim: int = 32  # size of the sinusoidal horizon embedding (Merlin only; baselines use 0)
    max_period: float = 50.0
    lr: float = 5e-4
    grad_clip: float = 1.0
    batch_size: int = 512
    p_her: float = 1.0  # Merlin's task-tuned relabelling probability (GCSL/WGCSL: 1, GCBC: 0)
    test_horizon: int = 1  # the constant h fed to Merlin at test time
    pairs: str = "triu"  # (i, j) law: "triu" (Merlin's code) or "uniform_t" (AWGCSL's GCSL/WGCSL/GCBC)
    actor_loss: str = "gaussian"  # "gaussian" NLL (Merlin) or "mse" on μ (AWGCSL's deterministic actor)

    def validate(self) -> None:
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"hidden must be a non-empty list of positive widths, got {self.hidden}")
        if self.batch_size < 2 or self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError("batch_size must be ≥ 2, lr and grad_clip positive")
        if not 0.0 <= self.p_her <= 1.0:
            raise ValueError(f"p_her must be in [0, 1], got {self.p_her}")
        if self.test_horizon < 1 or self.horizon_dim < 0 or self.horizon_dim % 2:
            raise ValueError("test_horizon must be ≥ 1 and horizon_dim an even number ≥ 0")
        if self.pairs not in PAIR_MODES:
            raise ValueError(f"pairs must be one of {PAIR_MODES}, got {self.pairs!r}")
        if self.actor_loss not in ACTOR_LOSSES:
            raise ValueError(f"actor_loss must be one of {ACTOR_LOSSES}, got {self.actor_loss!r}")


class Merlin:
    """Merlin (spec §2): behaviour cloning of π(a | s, g, h) on relabelled samples; acts with a fixed h.

    The same class, with the horizon input removed and p_her fixed, is GCSL and GCBC
    (`agents.policies.baselines`); subclasses add sample weights (:meth:`weights`) or extra data
    (:meth:`sample`).

    Args:
        data: the offline trajectories (dataset layout of `agents.policies.relabel`).
        config: :class:`LearnerConfig`.
        seed: seeds network initialisation (torch) and the sampler (numpy).
        device: torch device for the networks and batches.
    """

    name = "merlin"
    batch_keys: tuple[str, ...] = ("obs", "goal", "horizon", "action")  # what update() moves to the device

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        self.config = replace(config) if config is not None else LearnerConfig()  # a private copy
        self.config.validate()
        self.device = torch.device(device)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        obs_dim, goal_dim, act_dim = data.observations.shape[-1], data.achieved_goals.shape[-1], data.actions.shape[-1]
        self.policy = GoalConditionedPolicy(obs_dim, goal_dim, act_dim, self.config.hidden, self.config.horizon_dim,
                                            self.config.max_period).to(self.device)
        goals = np.concatenate([data.achieved_goals.reshape(-1, goal_dim), data.desired_goals[:, 0]])
        self.policy.fit_normalisers(data.observations.reshape(-1, obs_dim), goals)
        self.sampler = RelabelSampler(data, self.config.p_her, self.rng, self.config.pairs)
        self.optimizer = adam(self.policy.parameters(), self.config.lr)
        self.updates = 0

    def sample(self) -> dict[str, np.ndarray]:
        return self.sampler.sample(self.config.batch_size)

    def weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Per-sample loss weights (None: plain behaviour cloning)."""
        return None

    def sample_losses(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-sample actor loss: −log π(a | s, g, h) ("gaussian") or mean_d (a − μ)² ("mse", AWGCSL's actor)."""
        horizon = batch["horizon"] if self.policy.uses_horizon else None
        if self.config.actor_loss == "mse":
            return ((batch["action"] - self.policy(batch["obs"], batch["goal"], horizon)[0]) ** 2).mean(-1)
        return -self.policy.log_prob(batch["obs"], batch["goal"], horizon, batch["action"])

    def update(self) -> dict[str, float]:
        """One gradient step on L(θ) = E[w · ℓ(θ)] with ℓ the actor loss (w = 1 unless :meth:`weights` says otherwise)."""
        batch = to_torch(self.sample(), self.device, self.batch_keys)
        weights = self.weights(batch)
        losses = self.sample_losses(batch)
        loss = (losses if weights is None else weights * losses).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.grad_clip, foreach=True)
        self.optimizer.step()
        self.updates += 1
        return {"policy_loss": float(loss.detach())}

    def act(self, obs: np.ndarray, goal: np.ndarray, horizon: int | None = None) -> np.ndarray:
        """a = μ(s, g, h), deterministic, h = `horizon` or the config's constant ``test_horizon``; numpy in and out."""
        if not self.policy.uses_horizon:
            return self.policy.act(obs, goal)
        return self.policy.act(obs, goal, self.config.test_horizon if horizon is None else horizon)

    def state_dict(self) -> dict[str, Any]:
        """What evaluation needs to restore a checkpoint (the policy)."""
        return {key: value.detach().clone() for key, value in self.policy.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state)


# ----------------------------------------------------------------------------------------------------------
# Merlin-NP: latent nearest-neighbour trajectory stitching (spec §3)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class StitchConfig:
    """Merlin-NP's stitching (spec §3; defaults are the paper's, ``encoder_steps`` is ours)."""

    diffusion_ratio: float = 0.5  # fraction of each batch drawn from the stitched trajectories
    encoder_hidden: int = 512
    latent_dim: int = 16
    temperature: float = 0.5  # InfoNCE temperature
    encoder_steps: int = 2000
    encoder_batch: int = 256
    encoder_lr: float = 1e-3
    stitching_radius: float = 0.9999  # cosine similarity needed to jump to another trajectory
    candidates: int = 1  # neighbours besides the state itself searched for a state of *another* trajectory
    synthetic_fraction: float = 1.0  # stitched trajectories / dataset trajectories

    def validate(self) -> None:
        if not 0.0 <= self.diffusion_ratio < 1.0:
            raise ValueError(f"diffusion_ratio must be in [0, 1), got {self.diffusion_ratio}")
        if not -1.0 <= self.stitching_radius <= 1.0:
            raise ValueError(f"stitching_radius is a cosine similarity in [-1, 1], got {self.stitching_radius}")
        if min(self.encoder_hidden, self.latent_dim, self.encoder_batch, self.candidates) < 1 or self.encoder_steps < 0:
            raise ValueError("encoder sizes, batch and candidates must be positive, encoder_steps ≥ 0")
        if self.temperature <= 0 or self.synthetic_fraction <= 0:
            raise ValueError("temperature and synthetic_fraction must be positive")


@dataclass
class Trajectories:
    """Plain fixed-length trajectories in the dataset layout (here: stitched ones)."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray


class LatentStitcher:
    """Contrastive state encoder + nearest-neighbour backward walks that splice trajectories together.

    Encoder f: MLP → unit vector in R^d, trained by InfoNCE on consecutive states (s_t, s_{t+1}):
    L = CE(softmax(f(s) · f(s')ᵀ / τ), identity). For every dataset state we find its nearest state
    (cosine similarity = 1 − ‖z − z'‖²/2 on the unit sphere) in *another* trajectory among its
    ``candidates`` nearest states (spec: 2 neighbours, the state itself and one more: ``candidates = 1``).
    Exact k-NN by sklearn's KDTree (the code uses a BallTree; same neighbours, faster here).

    A stitched trajectory starts at a random dataset final state s_{k,T} and walks T steps backwards:
    at (k, t), if the neighbour (k', t') has similarity ≥ ``stitching_radius`` and t' ≥ the number of
    steps still to take, jump to (k', t'); then record the predecessor transition (s_{k,t−1}, a_{k,t−1})
    and move to (k, t − 1). Its goal is the final achieved goal. Reconstruction: the spec says "query 2
    neighbours, jump if the 2nd is close enough and not a trajectory start"; we jump only to a *different*
    trajectory and require enough history left there so every walk has exactly T steps.
    """

    def __init__(self, obs_dim: int, config: StitchConfig, obs_norm: RunningNormaliser, device: torch.device):
        self.config, self.obs_norm, self.device = config, obs_norm, device
        self.encoder = mlp([obs_dim, config.encoder_hidden, config.encoder_hidden, config.latent_dim]).to(device)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.encoder(self.obs_norm(obs)), dim=-1)

    def fit(self, data: TrajectoryData, rng: np.random.Generator) -> list[float]:
        """Train the encoder by InfoNCE on (s_t, s_{t+1}) pairs; returns the loss curve."""
        cfg, obs = self.config, torch.as_tensor(np.asarray(data.observations, np.float32), device=self.device)
        n, horizon = data.actions.shape[:2]
        optimizer = adam(self.encoder.parameters(), cfg.encoder_lr)
        targets = torch.arange(cfg.encoder_batch, device=self.device)
        losses = []
        for _ in range(cfg.encoder_steps):
            k = torch.as_tensor(rng.integers(n, size=cfg.encoder_batch), device=self.device)
            t = torch.as_tensor(rng.integers(horizon, size=cfg.encoder_batch), device=self.device)
            logits = self.encode(obs[k, t]) @ self.encode(obs[k, t + 1]).T / cfg.temperature
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        return losses

    @torch.no_grad()
    def embed(self, observations: np.ndarray, chunk: int = 65536) -> np.ndarray:
        flat = torch.as_tensor(np.asarray(observations, np.float32).reshape(-1, observations.shape[-1]))
        parts = [self.encode(flat[i:i + chunk].to(self.device)).cpu() for i in range(0, len(flat), chunk)]
        return torch.cat(parts).numpy().astype(np.float64)

    def neighbours(self, data: TrajectoryData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every state (k, t): trajectory and index of its nearest state in another trajectory, and
        their cosine similarity (−∞ if none among the candidates); each array (N, T + 1)."""
        from sklearn.neighbors import KDTree

        n, steps = data.observations.shape[:2]
        z = self.embed(data.observations)
        k_nn = min(self.config.candidates + 1, len(z))
        dist, idx = KDTree(z).query(z, k=k_nn)
        own = np.repeat(np.arange(n), steps)
        other = (idx // steps) != own[:, None]
        first = np.argmax(other, axis=1)
        found = other[np.arange(len(z)), first]
        pick = idx[np.arange(len(z)), first]
        similarity = np.where(found, 1.0 - dist[np.arange(len(z)), first] ** 2 / 2.0, -np.inf)
        return (pick // steps).reshape(n, steps), (pick % steps).reshape(n, steps), similarity.reshape(n, steps)

    def stitch(self, data: TrajectoryData, n_trajectories: int,
               rng: np.random.Generator) -> tuple[Trajectories, float]:
        """Backward-walk `n_trajectories` stitched trajectories; returns them and the fraction of steps that jumped."""
        nn_traj, nn_t, sim = self.neighbours(data)
        obs, ag, act = data.observations, data.achieved_goals, data.actions
        horizon = act.shape[1]
        k = rng.integers(act.shape[0], size=n_trajectories)
        t = np.full(n_trajectories, horizon)
        out_obs, out_ag, out_act = [obs[k, t]], [ag[k, t]], []
        jumps = 0
        for remaining in range(horizon, 0, -1):
            jump = (sim[k, t] >= self.config.stitching_radius) & (nn_t[k, t] >= remaining)
            k, t = np.where(jump, nn_traj[k, t], k), np.where(jump, nn_t[k, t], t)
            jumps += int(jump.sum())
            t = t - 1
            out_obs.append(obs[k, t])
            out_ag.append(ag[k, t])
            out_act.append(act[k, t])
        final_goal = out_ag[0]
        stitched = Trajectories(
            observations=np.stack(out_obs[::-1], 1), achieved_goals=np.stack(out_ag[::-1], 1),
            desired_goals=np.repeat(final_goal[:, None], horizon, axis=1), actions=np.stack(out_act[::-1], 1),
        )
        return stitched, jumps / (n_trajectories * horizon)


class MerlinNP(Merlin):
    """Merlin-NP: Merlin trained on a ``diffusion_ratio`` mix of dataset and stitched samples (spec §3)."""

    name = "merlin_np"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, stitch: StitchConfig | None = None,
                 *, seed: int = 0, device: str = "cpu"):
        super().__init__(data, config, seed=seed, device=device)
        self.stitch_config = stitch or StitchConfig()
        self.stitch_config.validate()
        self.stitcher = LatentStitcher(data.observations.shape[-1], self.stitch_config, self.policy.obs_norm,
                                       self.device)
        self.encoder_losses = self.stitcher.fit(data, self.rng)
        n_synthetic = max(1, round(self.stitch_config.synthetic_fraction * data.actions.shape[0]))
        self.synthetic, self.jump_rate = self.stitcher.stitch(data, n_synthetic, self.rng)
        self.synthetic_sampler = RelabelSampler(self.synthetic, self.config.p_her, self.rng, self.config.pairs)

    def sample(self) -> dict[str, np.ndarray]:
        n_synthetic = round(self.stitch_config.diffusion_ratio * self.config.batch_size)
        return concat_batches(self.sampler.sample(self.config.batch_size - n_synthetic),
                              self.synthetic_sampler.sample(n_synthetic))
