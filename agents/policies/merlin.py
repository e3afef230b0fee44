"""Merlin: goal-conditioned policies as reverse diffusion over offline trajectories (Jain & Ravanbakhsh, ICML 2024).

A trajectory read backwards from the state where it ended walks *away* from that goal: a forward
"diffusion" whose time is the number of steps h still to go. The reverse (denoising) model is the
policy π(a | s, g, h); maximising the likelihood of reaching g reduces to behaviour cloning on
hindsight-relabelled samples (spec §1–2):

    (s_i, a_i, g, h) ~ RelabelSampler(p_her)     (i, j) uniform over triu_indices(T + 1, 1);
                                                 g = ag_j, h = j − i  (or the episode goal, h = T + 1 − i)
    L(θ) = −E[ log N(a_i; μ_θ(s_i, g, h), diag σ_θ²(s_i, g, h)) ]
    Adam (lr 5e-4), gradient-norm clip 1.0, batch 512

At test time a = μ_θ(s, g, h_test) with a *constant* task-tuned h_test (not decremented), one policy call
per environment step, no value function.

Merlin-P (`agents.policies.merlin_p`: learned reverse dynamics + reverse CVAE) and Merlin-NP
(`agents.policies.merlin_np`: latent nearest-neighbour trajectory stitching) add "forward diffusion" data and
train on a 50/50 mix of dataset and synthetic samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.policies.goal_conditioned import GoalConditionedPolicy, adam
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


@dataclass
class Trajectories:
    """Plain fixed-length trajectories in the dataset layout (stitched or model-generated ones)."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray


class MixedMerlin(Merlin):
    """Merlin on a mix of dataset and synthetic ("forward diffusion") samples: a fraction ``diffusion_ratio`` of
    each batch comes from :attr:`synthetic` (Merlin-P, Merlin-NP; the official ``buffer_sample``)."""

    synthetic: Trajectories
    synthetic_sampler: RelabelSampler | None = None
    diffusion_ratio: float = 0.0
    kept_rate: float = float("nan")

    def use_synthetic(self, synthetic: Trajectories, requested: int, ratio: float) -> None:
        """Train on `synthetic` from now on (`requested`: how many trajectories were asked for)."""
        self.synthetic, self.diffusion_ratio = synthetic, float(ratio)
        self.kept_rate = len(synthetic.actions) / max(requested, 1)
        self.synthetic_sampler = (RelabelSampler(synthetic, self.config.p_her, self.rng, self.config.pairs)
                                  if len(synthetic.actions) else None)

    def sample(self) -> dict[str, np.ndarray]:
        n_synthetic = round(self.diffusion_ratio * self.config.batch_size)
        if self.synthetic_sampler is None or n_synthetic == 0:
            return self.sampler.sample(self.config.batch_size)
        return concat_batches(self.sampler.sample(self.config.batch_size - n_synthetic),
                              self.synthetic_sampler.sample(n_synthetic))
