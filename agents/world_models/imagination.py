"""Learning in imagination: roll a policy out in the world model and train it with λ-returns (IRIS §2.3).

    Λ_t = r_t + γ (1 − d_t) [(1 − λ) V_{t+1} + λ Λ_{t+1}],   Λ_H = V_H
    L_actor  = −E[ log π(a_t | s_t) · sg(Λ_t − V_t) ] − η H[π(· | s_t)]      (REINFORCE with a baseline)
    L_critic = E[ (V_t − sg(Λ_t))² ]

Steps after an imagined termination are masked out of both losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Categorical

from agents.world_models.world_model import GPTWorldModel


def lambda_returns(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, gamma: float,
                   lam: float) -> torch.Tensor:
    """rewards, dones (B, H); values (B, H + 1) (the last is the bootstrap V_H) → Λ (B, H)."""
    horizon = rewards.shape[1]
    out = torch.empty_like(rewards)
    next_return = values[:, -1]
    for t in reversed(range(horizon)):
        next_return = rewards[:, t] + gamma * (1 - dones[:, t]) * ((1 - lam) * values[:, t + 1] + lam * next_return)
        out[:, t] = next_return
    return out


def map_state(fn, *states):
    """Apply `fn` leaf-wise to a policy state (a tensor or a tuple of tensors, e.g. LSTM (h, c))."""
    if isinstance(states[0], tuple):
        return tuple(fn(*leaves) for leaves in zip(*states))
    return fn(*states)


def reset_state(state, initial, reset: torch.Tensor):
    """Rows where `reset` (B,) is True get the initial state."""
    return map_state(lambda s, s0: torch.where(reset[:, None], s0, s), state, initial)


@torch.no_grad()
def burn_in(policy: torch.nn.Module, tokens: torch.Tensor, starts: torch.Tensor):
    """Run the policy over real frames' tokens (B, T, K) to build its recurrent state (no gradient).

    `starts` (B, T) marks steps that begin an episode (or padding before one): the state resets there.
    """
    state = initial = policy.initial_state(len(tokens))
    for t in range(tokens.shape[1]):
        state = reset_state(state, initial, starts[:, t])
        state = policy(tokens[:, t], state)[2]
    return state


@dataclass
class Trajectory:
    tokens: torch.Tensor  # (B, H + 1, K) imagined observation tokens (the first is real)
    actions: torch.Tensor  # (B, H)
    log_probs: torch.Tensor  # (B, H)
    entropies: torch.Tensor  # (B, H)
    values: torch.Tensor  # (B, H + 1)
    rewards: torch.Tensor  # (B, H) imagined reward signs
    dones: torch.Tensor  # (B, H)


def imagine(world_model: GPTWorldModel, policy: torch.nn.Module, start_tokens: torch.Tensor, state,
            horizon: int, generator: torch.Generator | None = None) -> Trajectory:
    """Roll `policy` out for `horizon` steps in the world model from real tokens (B, K) (policy gradients kept).

    The world model is a frozen simulator here: its outputs are sampled tokens, rewards and dones, through which no
    gradient flows, so its steps run without autograd (no graph is recorded for them).
    """
    caches, pending = world_model.new_caches(), start_tokens
    tokens, actions, log_probs, entropies, values, rewards, dones = [start_tokens], [], [], [], [], [], []
    z = start_tokens
    for _ in range(horizon):
        logits, value, state = policy(z, state)
        dist = Categorical(logits=logits)
        action = dist.sample()
        with torch.no_grad():
            z, reward, done, pending = world_model.imagine_step(pending, action, caches, generator)
        for store, item in ((tokens, z), (actions, action), (log_probs, dist.log_prob(action)),
                            (entropies, dist.entropy()), (values, value), (rewards, reward), (dones, done)):
            store.append(item)
    values.append(policy(z, state)[1])
    stack = lambda xs: torch.stack(xs, dim=1)
    return Trajectory(stack(tokens), stack(actions), stack(log_probs), stack(entropies), stack(values),
                      stack(rewards), stack(dones))


def actor_critic_loss(traj: Trajectory, gamma: float, lam: float, entropy_weight: float
                      ) -> tuple[torch.Tensor, dict[str, float]]:
    """The REINFORCE-with-baseline actor loss plus the critic's squared error (module docstring)."""
    returns = lambda_returns(traj.rewards, traj.values.detach(), traj.dones, gamma, lam)
    alive = torch.cumprod(torch.cat([torch.ones_like(traj.dones[:, :1]), 1 - traj.dones[:, :-1]], 1), 1)
    n = alive.sum().clamp(min=1)
    advantage = (returns - traj.values[:, :-1]).detach()
    actor = -(traj.log_probs * advantage * alive).sum() / n
    entropy = (traj.entropies * alive).sum() / n
    critic = ((traj.values[:, :-1] - returns).pow(2) * alive).sum() / n
    loss = actor - entropy_weight * entropy + critic
    return loss, {"actor": actor.item(), "critic": critic.item(), "entropy": entropy.item(),
                  "imagined_return": float((traj.rewards * alive).sum(1).mean())}
