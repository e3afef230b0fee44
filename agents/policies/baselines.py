"""Offline goal-conditioned baselines as YangRui2015/AWGCSL implements them (spec §6).

All three are :class:`agents.policies.merlin.Merlin` without the horizon input, with AWGCSL's deterministic
actor μ(s, g) = tanh(·) trained by (weighted) mean squared error, L = E[w · mean_d (a − μ)²], and AWGCSL's
sampler: i ~ U{0..T−1}, j ~ U{i+1..T} (``pairs="uniform_t"``):

* **GCBC** — behaviour cloning on the episodes' own goals (``no_relabel``; p_her = 0);
* **GCSL** (Ghosh et al., 2021) — behaviour cloning on hindsight goals g = ag_j (p_her = 1);
* **WGCSL** (Yang et al., 2022; ``su_method = gamma_exp_adv_clip10_baw``) — GCSL with per-sample weights

      w = γ^{j−i−1} · min(exp(β·A), 10) · (1 if A ≥ A_q else 0.05),
      A(s, a, g) = r(ag_{i+1}, g) + γ V(s_{i+1}, g) − V(s_i, g),   V(s, g) = Q(s, μ(s, g), g),

  rewards shifted to r ∈ {0, 1}; A_q the q-th percentile of the last 50,000 advantages with
  q = min(0.15·n, 80) at the n-th batch (``baw_delta`` per batch, as AWGCSL's global threshold). The critic
  Q(s, a, g) is trained by TD on the same batch with 20 % of the goals put back to the episode's goal:
  y = clip(r + γ Q̄(s', μ̄(s', g), g), −1/(1 − γ), 1/(1 − γ)) with the *target* actor μ̄ and critic Q̄, both
  Polyak-averaged (τ = 0.9: θ̄ ← 0.9 θ̄ + 0.1 θ) every ``target_every`` updates (AWGCSL's n_batches).
  The advantage uses the online networks before this step's updates.

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


def awgcsl_config(config: LearnerConfig | None, p_her: float) -> LearnerConfig:
    """The shared learner settings with AWGCSL's actor: no horizon, MSE loss, uniform-t pairs."""
    return replace(config or LearnerConfig(), horizon_dim=0, p_her=p_her, pairs="uniform_t", actor_loss="mse")


class GCBC(Merlin):
    """Goal-conditioned behaviour cloning on the episodes' own goals: μ(s, g), p_her = 0."""

    name = "gcbc"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        super().__init__(data, awgcsl_config(config, 0.0), seed=seed, device=device)


class GCSL(Merlin):
    """Goal-conditioned supervised learning: behaviour cloning on hindsight goals, μ(s, g), p_her = 1."""

    name = "gcsl"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, *, seed: int = 0,
                 device: str = "cpu"):
        super().__init__(data, awgcsl_config(config, 1.0), seed=seed, device=device)


@dataclass
class WGCSLConfig:
    """WGCSL's critic and weights (defaults: AWGCSL's ``config.py`` for the point and reacher tasks)."""

    gamma: float = 0.98  # 1 − 1/T
    critic_lr: float = 5e-4
    polyak: float = 0.9  # target ← polyak · target + (1 − polyak) · online
    target_every: int = 1  # updates between target updates (AWGCSL n_batches: 1 point tasks, 10 reacher)
    beta: float = 1.0  # advantage temperature in exp(β·A) (AWGCSL: 1)
    max_weight: float = 10.0  # clip of exp(β·A) ("clip10")
    baw_delta: float = 0.15  # percentile added per batch
    baw_max: float = 80.0  # final percentile of the best-advantage filter
    baw_floor: float = 0.05  # weight of samples below the percentile
    adv_buffer: int = 50000
    keep_original: float = 0.2  # fraction of the critic's batch with the episode's own goal

    def validate(self) -> None:
        if not 0.0 < self.gamma < 1.0 or not 0.0 <= self.polyak < 1.0:
            raise ValueError(f"gamma must be in (0, 1) and polyak in [0, 1), got {self.gamma}, {self.polyak}")
        if not 0.0 <= self.baw_max <= 100.0 or self.baw_delta < 0 or self.adv_buffer < 1 or self.target_every < 1:
            raise ValueError("baw_max must be a percentile in [0, 100], baw_delta ≥ 0; adv_buffer and "
                             "target_every positive")
        if self.critic_lr <= 0 or self.max_weight <= 0 or not 0.0 <= self.baw_floor <= 1.0:
            raise ValueError("critic_lr and max_weight must be positive and baw_floor in [0, 1]")
        if not 0.0 <= self.keep_original <= 1.0 or not np.isfinite(self.beta):
            raise ValueError(f"keep_original must be in [0, 1] and beta finite, got {self.keep_original}, {self.beta}")


class WGCSL(Merlin):
    """Weighted GCSL (module docstring): GCSL + discounted-relabelling, advantage and best-advantage weights.

    Args:
        reward_fn: the env's vectorised ``compute_reward(achieved_goal, desired_goal, info)`` (−1/0).
    """

    name = "wgcsl"
    batch_keys = ("obs", "goal", "action", "next_obs", "reward", "critic_goal", "critic_reward", "offset")

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None, wgcsl: WGCSLConfig | None = None,
                 *, reward_fn: RewardFn, seed: int = 0, device: str = "cpu"):
        super().__init__(data, awgcsl_config(config, 1.0), seed=seed, device=device)
        self.wgcsl = wgcsl or WGCSLConfig()
        self.wgcsl.validate()
        self.reward_fn = reward_fn
        obs_dim, goal_dim, act_dim = data.observations.shape[-1], data.achieved_goals.shape[-1], data.actions.shape[-1]
        self.critic = mlp([obs_dim + goal_dim + act_dim, *self.config.hidden, 1]).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.policy_target = copy.deepcopy(self.policy).requires_grad_(False)
        self.critic_optimizer = adam(self.critic.parameters(), self.wgcsl.critic_lr)
        self._advantages = np.zeros(self.wgcsl.adv_buffer)
        self._n_advantages = self._n_batches = 0
        self.baw_percentile = 0.0
        self.last_critic_loss = float("nan")

    def shifted_reward(self, achieved: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """r = compute_reward + 1 ∈ {0, 1} (AWGCSL's ``_get_reward``)."""
        return np.asarray(self.reward_fn(achieved, goal, None), np.float32) + 1.0

    def sample(self) -> dict[str, np.ndarray]:
        batch = super().sample()
        batch["reward"] = self.shifted_reward(batch["next_achieved"], batch["goal"])
        original = self.rng.random(len(batch["goal"])) < self.wgcsl.keep_original
        batch["critic_goal"] = np.where(original[:, None], batch["desired"], batch["goal"])
        batch["critic_reward"] = self.shifted_reward(batch["next_achieved"], batch["critic_goal"])
        return batch

    def q(self, net: torch.nn.Module, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q(s, a, g) on normalised s, g and a / a_max."""
        x = torch.cat([self.policy.obs_norm(obs), self.policy.goal_norm(goal), action / self.policy.max_action], dim=-1)
        return net(x).squeeze(-1)

    @torch.no_grad()
    def advantage(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """A = r + γ V(s', g) − V(s, g), V(s, g) = Q(s, μ(s, g), g), online actor and critic."""
        obs, goal = torch.cat([batch["obs"], batch["next_obs"]]), batch["goal"].repeat(2, 1)
        value, next_value = self.q(self.critic, obs, goal, self.policy(obs, goal)[0]).chunk(2)
        return batch["reward"] + self.wgcsl.gamma * next_value - value

    @torch.no_grad()
    def critic_target_value(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """y = clip(r + γ Q̄(s', μ̄(s', g), g), ±1/(1 − γ)) on the critic's goals, target actor and critic."""
        gamma, obs, goal = self.wgcsl.gamma, batch["next_obs"], batch["critic_goal"]
        target = batch["critic_reward"] + gamma * self.q(self.critic_target, obs, goal, self.policy_target(obs, goal)[0])
        return target.clamp(-1.0 / (1.0 - gamma), 1.0 / (1.0 - gamma))

    def weights(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """w = γ^{j−i−1} · min(exp(βA), w_max) · best-advantage filter, then one critic TD step (module docstring)."""
        cfg = self.wgcsl
        advantage = self.advantage(batch)
        threshold = self._advantage_threshold(advantage.cpu().numpy())
        discount = cfg.gamma ** (batch["offset"] - 1).to(advantage.dtype)
        exp_adv = torch.exp(cfg.beta * advantage).clamp(max=cfg.max_weight)
        best = torch.where(advantage >= threshold, 1.0, cfg.baw_floor)
        self.update_critic(batch)
        return discount * exp_adv * best

    def update_critic(self, batch: dict[str, torch.Tensor]) -> None:
        """One TD step on the critic; every ``target_every`` calls, Polyak-average the target actor and critic."""
        target = self.critic_target_value(batch)
        critic_loss = F.mse_loss(self.q(self.critic, batch["obs"], batch["critic_goal"], batch["action"]), target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        self.last_critic_loss = float(critic_loss.detach())
        self._n_batches += 1
        if self._n_batches % self.wgcsl.target_every == 0:
            with torch.no_grad():
                for target_net, online in ((self.critic_target, self.critic), (self.policy_target, self.policy)):
                    torch._foreach_lerp_(list(target_net.parameters()), list(online.parameters()),
                                         1.0 - self.wgcsl.polyak)

    def _advantage_threshold(self, advantage: np.ndarray) -> float:
        """Push the batch's advantages into the ring buffer; raise q by ``baw_delta``; return the percentile A_q."""
        size = len(self._advantages)
        idx = (self._n_advantages + np.arange(len(advantage))) % size
        self._advantages[idx] = advantage
        self._n_advantages += len(advantage)
        self.baw_percentile = min(self.baw_percentile + self.wgcsl.baw_delta, self.wgcsl.baw_max)
        return float(np.percentile(self._advantages[: min(self._n_advantages, size)], self.baw_percentile))

    def update(self) -> dict[str, float]:
        stats = super().update()
        stats["critic_loss"] = self.last_critic_loss
        return stats
