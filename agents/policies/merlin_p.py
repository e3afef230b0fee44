"""Merlin-P: Merlin trained on a mix of dataset and *model-generated* "forward diffusion" data (spec §3).

A learned reverse model walks backwards from the dataset's final states, producing synthetic trajectories that
end at a goal; Merlin then trains on ``diffusion_ratio`` (0.5) synthetic and 1 − ratio dataset samples.

* **Reverse dynamics** (official ``ReverseDynamics``): a 2-layer GRU (256) reads (x_{t+1}, a_t) and predicts
  Δ_t = x_{t+1} − x_t, so x_t = x_{t+1} − Δ̂_t. Inputs and Δ are standardised with statistics per time step t
  (mean and std over trajectories, ε = 1e-6); loss MSE on the standardised Δ; Adam 1e-3, batches of 256
  trajectories. x = (observation, achieved goal): we model both, so no task-specific observation → goal map
  is needed (the official code maps states to goals by hand per task).
* **Reverse behaviour cloning** (official ``ReverseBC``, BCQ-style CVAE): encoder (x_{t+1}, a_t) → N(m, s²)
  over a latent of size 2·|A| (log s clamped to [−4, 15]); decoder (x_{t+1}, z) → a_max·tanh(·); loss
  MSE(â, a) + 0.5·KL(N(m, s²) ‖ N(0, I)) (means over elements); Adam 1e-3, batches of 256 transitions.
  At rollout z ~ N(0, (1e-3)² I). Inputs standardised with the dataset's global mean/std (ours; the code
  feeds raw states).
* **Rollouts**: from N random dataset final states x_T, for t = T − 1 … 0: a_t = decode(x_{t+1}),
  x_t = x_{t+1} − Δ̂_t with the GRU's hidden state carried backwards; desired goal = the final achieved goal;
  rollouts with a non-finite value are dropped. N = ``synthetic_fraction`` × dataset size.

One deliberate difference: the official GRU is trained on sequences in forward time (t = 0 … T − 1) but rolled
out backwards (t = T − 1 … 0), so its hidden state sees the steps in the opposite order from training; we train
on time-reversed sequences so that training and rollout agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.policies.goal_conditioned import minimise, mlp
from agents.policies.merlin import LearnerConfig, MixedMerlin, Trajectories
from agents.policies.relabel import TrajectoryData

STD_EPS = 1e-6  # the official code's ε in (x − mean)/(std + ε)


@dataclass
class ReverseConfig:
    """Merlin-P's reverse model (defaults: the official code; ``*_steps`` replace its 100 epochs)."""

    diffusion_ratio: float = 0.5  # fraction of each batch drawn from the synthetic trajectories
    gru_hidden: int = 256
    gru_layers: int = 2
    dynamics_steps: int = 800  # ≈ 100 epochs of 2,000 trajectories in batches of 256
    dynamics_batch: int = 256  # trajectories per batch
    cvae_hidden: int = 256
    cvae_steps: int = 40_000  # ≈ 100 epochs of 1e5 transitions in batches of 256
    cvae_batch: int = 256
    kl_weight: float = 0.5
    lr: float = 1e-3
    synthetic_fraction: float = 1.0  # synthetic trajectories / dataset trajectories

    def validate(self) -> None:
        if not 0.0 <= self.diffusion_ratio < 1.0:
            raise ValueError(f"diffusion_ratio must be in [0, 1), got {self.diffusion_ratio}")
        if min(self.gru_hidden, self.gru_layers, self.dynamics_batch, self.cvae_hidden, self.cvae_batch) < 1:
            raise ValueError("gru_hidden, gru_layers, dynamics_batch, cvae_hidden and cvae_batch must be ≥ 1")
        if self.dynamics_steps < 0 or self.cvae_steps < 0:
            raise ValueError("dynamics_steps and cvae_steps must be ≥ 0")
        if not (self.lr > 0 and self.kl_weight >= 0 and self.synthetic_fraction > 0
                and np.isfinite([self.lr, self.kl_weight, self.synthetic_fraction]).all()):
            raise ValueError("lr and synthetic_fraction must be positive and kl_weight ≥ 0, all finite")


def standardise(x: np.ndarray, axis: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std + ε) of x over `axis`, kept as broadcastable arrays."""
    return x.mean(axis=axis, keepdims=True), x.std(axis=axis, keepdims=True) + STD_EPS


class ReverseDynamics(nn.Module):
    """GRU reverse model: (x_{t+1}, a_t) ↦ x_t = x_{t+1} − Δ̂_t, statistics per time step (module docstring)."""

    def __init__(self, state_dim: int, act_dim: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        self.gru = nn.GRU(state_dim + act_dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, state_dim)
        self.stats: dict[str, torch.Tensor] = {}

    def fit(self, states: np.ndarray, actions: np.ndarray, steps: int, batch: int, lr: float,
            rng: np.random.Generator) -> list[float]:
        """Train on trajectories `states` (N, T+1, d) and `actions` (N, T, |A|); returns the loss curve."""
        nxt, delta = states[:, 1:], states[:, 1:] - states[:, :-1]
        stats = {"x": standardise(nxt, 0), "a": standardise(actions, 0), "d": standardise(delta, 0)}
        self.stats = {f"{k}_{m}": torch.as_tensor(v[i][0], dtype=torch.float32)
                      for k, v in stats.items() for i, m in enumerate(("mean", "std"))}
        inputs = np.concatenate([(nxt - stats["x"][0]) / stats["x"][1], (actions - stats["a"][0]) / stats["a"][1]], -1)
        targets = (delta - stats["d"][0]) / stats["d"][1]
        # time-reversed sequences: the GRU reads t = T − 1, …, 0, as in the backward rollout
        inputs = torch.as_tensor(inputs[:, ::-1].copy(), dtype=torch.float32)
        targets = torch.as_tensor(targets[:, ::-1].copy(), dtype=torch.float32)

        def batch_loss() -> torch.Tensor:
            idx = torch.as_tensor(rng.integers(len(inputs), size=min(batch, len(inputs))))
            return F.mse_loss(self.head(self.gru(inputs[idx])[0]), targets[idx])

        return minimise(self.parameters(), lr, steps, batch_loss)

    @torch.no_grad()
    def step(self, t: int, next_state: torch.Tensor, action: torch.Tensor,
             hidden: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x_t from x_{t+1} (B, d) and a_t (B, |A|) with time-step-t statistics; returns (x_t, new hidden)."""
        s = self.stats
        x = torch.cat([(next_state - s["x_mean"][t]) / s["x_std"][t], (action - s["a_mean"][t]) / s["a_std"][t]], -1)
        out, hidden = self.gru(x[:, None], hidden)
        delta = self.head(out[:, 0]) * s["d_std"][t] + s["d_mean"][t]
        return next_state - delta, hidden


class ReverseCVAE(nn.Module):
    """BCQ-style conditional VAE of a_t given x_{t+1} (module docstring)."""

    def __init__(self, state_dim: int, act_dim: int, hidden: int = 256, max_action: float = 1.0):
        super().__init__()
        self.latent_dim, self.max_action = 2 * act_dim, float(max_action)
        self.encoder = mlp([state_dim + act_dim, hidden, hidden, 2 * self.latent_dim])
        self.decoder = mlp([state_dim + self.latent_dim, hidden, hidden, act_dim])
        self.register_buffer("mean", torch.zeros(state_dim))
        self.register_buffer("std", torch.ones(state_dim))

    def decode(self, state: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            z = 1e-3 * torch.randn(state.shape[0], self.latent_dim, device=state.device)
        x = torch.cat([(state - self.mean) / self.std, z], -1)
        return self.max_action * torch.tanh(self.decoder(x))

    def loss(self, state: torch.Tensor, action: torch.Tensor, kl_weight: float) -> torch.Tensor:
        """MSE(decode(x, z), a) + kl_weight · KL, z = m + s·ε (reparameterised)."""
        m, log_s = self.encoder(torch.cat([(state - self.mean) / self.std, action], -1)).chunk(2, -1)
        s = log_s.clamp(-4.0, 15.0).exp()
        recon = self.decode(state, m + s * torch.randn_like(s))
        kl = -0.5 * (1 + torch.log(s**2) - m**2 - s**2).mean()
        return F.mse_loss(recon, action) + kl_weight * kl

    def fit(self, next_states: np.ndarray, actions: np.ndarray, steps: int, batch: int, lr: float,
            kl_weight: float, rng: np.random.Generator) -> list[float]:
        """Train on flat transitions (x_{t+1} (M, d), a_t (M, |A|)); returns the loss curve."""
        mean, std = standardise(next_states, 0)
        self.mean.copy_(torch.as_tensor(mean[0], dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std[0], dtype=torch.float32))
        x, a = torch.as_tensor(next_states, dtype=torch.float32), torch.as_tensor(actions, dtype=torch.float32)

        def batch_loss() -> torch.Tensor:
            idx = torch.as_tensor(rng.integers(len(x), size=min(batch, len(x))))
            return self.loss(x[idx], a[idx], kl_weight)

        return minimise(self.parameters(), lr, steps, batch_loss)


def reverse_rollouts(dynamics: ReverseDynamics, cvae: ReverseCVAE, final_states: np.ndarray, horizon: int,
                     obs_dim: int) -> Trajectories:
    """Walk `horizon` steps backwards from each final x_T = (o_T, ag_T); drop non-finite rollouts."""
    x = torch.as_tensor(final_states, dtype=torch.float32)
    states, actions, hidden = [x], [], None
    for t in range(horizon - 1, -1, -1):
        with torch.no_grad():
            a = cvae.decode(x)
        x, hidden = dynamics.step(t, x, a, hidden)
        states.append(x)
        actions.append(a)
    xs = torch.stack(states[::-1], 1).numpy()
    acts = torch.stack(actions[::-1], 1).numpy()
    keep = np.isfinite(xs).all(axis=(1, 2)) & np.isfinite(acts).all(axis=(1, 2))
    xs, acts = xs[keep], acts[keep]
    ag = xs[..., obs_dim:]
    return Trajectories(observations=xs[..., :obs_dim], achieved_goals=ag,
                        desired_goals=np.repeat(ag[:, -1:], horizon, axis=1), actions=acts)


class MerlinP(MixedMerlin):
    """Merlin-P: Merlin on a ``diffusion_ratio`` mix of dataset and reverse-model rollouts (module docstring)."""

    name = "merlin_p"

    def __init__(self, data: TrajectoryData, config: LearnerConfig | None = None,
                 reverse: ReverseConfig | None = None, *, seed: int = 0, device: str = "cpu"):
        super().__init__(data, config, seed=seed, device=device)
        self.reverse_config = cfg = reverse or ReverseConfig()
        cfg.validate()
        obs, ag = np.asarray(data.observations, np.float32), np.asarray(data.achieved_goals, np.float32)
        actions = np.asarray(data.actions, np.float32)
        states = np.concatenate([obs, ag], -1)  # x = (o, ag)
        n, horizon, act_dim = actions.shape
        self.dynamics = ReverseDynamics(states.shape[-1], act_dim, cfg.gru_hidden, cfg.gru_layers)
        self.dynamics_losses = self.dynamics.fit(states, actions, cfg.dynamics_steps, cfg.dynamics_batch, cfg.lr,
                                                 self.rng)
        self.cvae = ReverseCVAE(states.shape[-1], act_dim, cfg.cvae_hidden, self.policy.max_action)
        self.cvae_losses = self.cvae.fit(states[:, 1:].reshape(-1, states.shape[-1]), actions.reshape(-1, act_dim),
                                         cfg.cvae_steps, cfg.cvae_batch, cfg.lr, cfg.kl_weight, self.rng)
        n_synthetic = max(1, round(cfg.synthetic_fraction * n))
        finals = states[self.rng.integers(n, size=n_synthetic), -1]
        self.use_synthetic(reverse_rollouts(self.dynamics, self.cvae, finals, horizon, obs.shape[-1]), n_synthetic,
                           cfg.diffusion_ratio)
