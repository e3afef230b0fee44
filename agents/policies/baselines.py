"""Offline goal-conditioned baselines on the shared policy network and relabelling sampler (spec §6).

All three are :class:`agents.policies.merlin.Merlin` with the horizon input removed (π(a | s, g)):

* **GCBC** — behaviour cloning on the dataset's own goals (p_her = 0);
* **GCSL** (Ghosh et al., 2021) — behaviour cloning on hindsight goals (p_her = 1); offline it is GCBC
  with future-goal relabelling;
* **WGCSL** (Yang et al., 2022) — GCSL with per-sample weights
  w = γ^{j−i} · min(exp(β·A(s, a, g)), w_max) · (1 if A ≥ A_q else ε_baw),
  where A(s, a, g) = Q(s, a, g) − Q(s, μ(s, g), g) comes from a goal-conditioned critic trained by TD on
  the relabelled samples, y = clip(r(ag_{i+1}, g) + γ Q̄(s_{i+1}, μ(s_{i+1}, g), g), −1/(1 − γ), 0),
  and A_q the q-th percentile of recent advantages, q rising linearly to ``baw_max`` over ``baw_updates``.
  Differences from the original (unverified details): the actor is our shared Gaussian policy trained by
  weighted log-likelihood (WGCSL's actor is deterministic with a weighted MSE); the advantage uses the
  critic before its update in the same step; the percentile is over a ring buffer of the last
  ``adv_buffer`` advantages.

GoFAR is not implemented.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F

from agents.policies.goal_conditioned import adam, mlp
from agents.policies.merlin import LearnerConfig, Merlin
from agents.policies.relabel import TrajectoryData

RewardFn = Callable[[np.ndarray, np.ndarray, object], np.ndarray]


class GCBC(Merlin):
    """Goal-conditioned behaviour cloning on the episodes' own goals: π(a | s, g), p_her = 0."""

    name = "gcbc"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        super().__init__(data, replace(config or LearnerConfig(), horizon_dim=0, p_her=0.0), seed=seed, device=device)


class GCSL(Merlin):
    """Goal-conditioned supervised learning: behaviour cloning on hindsight goals, π(a | s, g), p_her = 1."""

    name = "gcsl"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        super().__init__(data, replace(config or LearnerConfig(), horizon_dim=0, p_her=1.0), seed=seed, device=device)


@dataclass
class WGCSLConfig:
    """WGCSL's critic and weights (defaults: our reading of YangRui2015/AWGCSL; unverified)."""

    gamma: float = 0.98
    critic_lr: float = 5e-4
    polyak: float = 0.95  # target ← polyak · target + (1 − polyak) · online
    beta: float = 1.0  # advantage temperature in exp(β·A)
    max_weight: float = 10.0  # clip of exp(β·A)
    baw_max: float = 80.0  # final percentile of the best-advantage filter
    baw_updates: int = 10000  # updates over which the percentile rises from 0 to baw_max
    baw_floor: float = 0.05  # weight of samples below the percentile
    adv_buffer: int = 50000

    def validate(self) -> None:
        if not 0.0 < self.gamma < 1.0 or not 0.0 <= self.polyak < 1.0:
            raise ValueError("gamma must be in (0, 1) and polyak in [0, 1)")
        if not 0.0 <= self.baw_max <= 100.0 or self.baw_updates < 1 or self.adv_buffer < 1:
            raise ValueError("baw_max must be a percentile in [0, 100]; baw_updates and adv_buffer positive")
        if self.critic_lr <= 0 or self.max_weight <= 0 or not 0.0 <= self.baw_floor <= 1.0:
            raise ValueError("critic_lr and max_weight must be positive and baw_floor in [0, 1]")


class WGCSL(Merlin):
    """Weighted GCSL (module docstring): GCSL + discounted-relabelling, advantage and best-advantage weights.

    Args:
        reward_fn: the env's vectorised ``compute_reward(achieved_goal, desired_goal, info)`` (−1/0).
    """

    name = "wgcsl"
    batch_keys = ("obs", "goal", "horizon", "action", "next_obs", "reward", "offset")

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, wgcsl: WGCSLConfig | None = None,
                 *, reward_fn: RewardFn, seed: int = 0, device: str = "cpu"):
        super().__init__(data, replace(config or LearnerConfig(), horizon_dim=0, p_her=1.0), seed=seed, device=device)
        self.wgcsl = wgcsl or WGCSLConfig()
        self.wgcsl.validate()
        self.reward_fn = reward_fn
        obs_dim, goal_dim, act_dim = data.observations.shape[-1], data.achieved_goals.shape[-1], data.actions.shape[-1]
        self.critic = mlp([obs_dim + goal_dim + act_dim, *self.config.hidden, 1]).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.critic_optimizer = adam(self.critic.parameters(), self.wgcsl.critic_lr)
        self._advantages = np.zeros(self.wgcsl.adv_buffer)
        self._n_advantages = 0
        self.last_critic_loss = float("nan")

    def sample(self) -> dict[str, np.ndarray]:
        batch = super().sample()
        batch["reward"] = np.asarray(self.reward_fn(batch["next_achieved"], batch["goal"], None), np.float32)
        return batch

    def q(self, net: torch.nn.Module, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.policy.obs_norm(obs), self.policy.goal_norm(goal), action], dim=-1)
        return net(x).squeeze(-1)

    def weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One critic TD step, then w = γ^{j−i} · min(exp(βA), w_max) · best-advantage filter (no gradient)."""
        cfg = self.wgcsl
        obs, goal, action = batch["obs"], batch["goal"], batch["action"]
        with torch.no_grad():  # μ(s', g) and μ(s, g) in one call
            next_action, policy_action = self.policy(torch.cat([batch["next_obs"], obs]), goal.repeat(2, 1))[0].chunk(2)
            target = batch["reward"] + cfg.gamma * self.q(self.critic_target, batch["next_obs"], goal, next_action)
            target = target.clamp(-1.0 / (1.0 - cfg.gamma), 0.0)
        # Q(s, a, g) for the TD loss and Q(s, μ(s, g), g) for the advantage, in one forward pass
        q_data, q_policy = self.q(self.critic, obs.repeat(2, 1), goal.repeat(2, 1),
                                  torch.cat([action, policy_action])).chunk(2)
        critic_loss = F.mse_loss(q_data, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        with torch.no_grad():
            targets, online = list(self.critic_target.parameters()), list(self.critic.parameters())
            torch._foreach_lerp_(targets, online, 1.0 - cfg.polyak)
        advantage = (q_data - q_policy).detach()  # the critic before this step's update
        self.last_critic_loss = float(critic_loss.detach())
        threshold = self._advantage_threshold(advantage.cpu().numpy())
        discount = cfg.gamma ** batch["offset"].to(advantage.dtype)
        exp_adv = torch.exp(cfg.beta * advantage).clamp(max=cfg.max_weight)
        best = torch.where(advantage >= threshold, 1.0, cfg.baw_floor)
        return discount * exp_adv * best

    def _advantage_threshold(self, advantage: np.ndarray) -> float:
        """Push the batch's advantages into the ring buffer; return the current percentile A_q."""
        size = len(self._advantages)
        idx = (self._n_advantages + np.arange(len(advantage))) % size
        self._advantages[idx] = advantage
        self._n_advantages += len(advantage)
        q = self.wgcsl.baw_max * min(1.0, self.updates / self.wgcsl.baw_updates)
        return float(np.percentile(self._advantages[: min(self._n_advantages, size)], q))

    def update(self) -> dict[str, float]:
        stats = super().update()
        stats["critic_loss"] = self.last_critic_loss
        return stats
