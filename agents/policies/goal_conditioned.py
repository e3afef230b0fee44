"""The one goal-conditioned policy network shared by Merlin and its baselines (spec ``merlin.md`` §2).

    x = norm_s(s), y = norm_g(g)                         running mean/std normalisers, clipped to ±5
    μ_raw, σ_raw = MLP([x, y, emb(h)])                   emb: sinusoidal horizon embedding (dim 32, max period 50)
    μ = a_max · tanh(μ_raw),  σ = softplus(σ_raw) + 1e-5
    π(a | s, g, h) = N(a; μ, diag σ²)                    no tanh-Jacobian correction (as in the Merlin code)

With ``horizon_dim = 0`` the policy ignores h: π(a | s, g) (GCBC, GCSL, WGCSL). Acting is deterministic, a = μ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class RunningNormaliser(nn.Module):
    """Per-feature running mean/std, x ↦ clip((x − m)/max(s, eps), −clip, clip); statistics are buffers.

    ``update`` merges batch moments exactly (sums and sums of squares), so one update with the whole
    dataset gives its mean/std. HER-style: std = max(eps, √(E[x²] − E[x]²)) with eps = 1e-2.
    """

    def __init__(self, dim: int, clip: float = 5.0, eps: float = 1e-2):
        super().__init__()
        self.clip, self.eps = float(clip), float(eps)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("total", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("total_sq", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def update(self, x: np.ndarray | torch.Tensor) -> None:
        x = torch.as_tensor(np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else x.double(),
                            device=self.total.device).reshape(-1, self.total.shape[0])
        self.count += x.shape[0]
        self.total += x.sum(0)
        self.total_sq += (x**2).sum(0)
        mean = self.total / self.count
        var = (self.total_sq / self.count - mean**2).clamp_min(0.0)
        self.mean.copy_(mean.float())
        self.std.copy_(var.sqrt().clamp_min(self.eps).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).clamp(-self.clip, self.clip)


class HorizonEmbedding(nn.Module):
    """Sinusoidal embedding of the steps-to-goal h (the "diffusion time"), as for DDPM timesteps.

    emb(h) = [cos(h·ω_k), sin(h·ω_k)]_{k < d/2},  ω_k = exp(−ln(P)·k/(d/2)),  P = ``max_period`` (50).
    """

    def __init__(self, dim: int = 32, max_period: float = 50.0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"horizon embedding dim must be even and ≥ 2, got {dim}")
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        args = h.float().reshape(-1, 1) * self.freqs
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel (much lower per-step overhead for small nets; CPU and CUDA)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # a device without a fused kernel
        return torch.optim.Adam(params, lr=lr, foreach=True)


def minimise(params, lr: float, steps: int, batch_loss) -> list[float]:
    """`steps` Adam steps on ``batch_loss()`` (a fresh minibatch loss per call); returns the loss curve."""
    optimizer, losses = adam(params, lr), []
    for _ in range(steps):
        loss = batch_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear-ReLU stack; no activation after the last layer."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class GoalConditionedPolicy(nn.Module):
    """Gaussian π(a | s, g[, h]) with tanh-squashed mean (module docstring).

    Args:
        obs_dim, goal_dim, act_dim: sizes of s, g, a.
        hidden: hidden layer widths (Merlin: 3 × 256).
        horizon_dim: size of the horizon embedding; 0 = no horizon input.
        max_period: the embedding's longest period (Merlin: 50 = the episode length).
        max_action: a_max, the action bound.
    """

    def __init__(self, obs_dim: int, goal_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256, 256),
                 horizon_dim: int = 32, max_period: float = 50.0, max_action: float = 1.0, clip: float = 5.0):
        super().__init__()
        self.obs_norm, self.goal_norm = RunningNormaliser(obs_dim, clip), RunningNormaliser(goal_dim, clip)
        self.embed = HorizonEmbedding(horizon_dim, max_period) if horizon_dim > 0 else None
        self.net = mlp([obs_dim + goal_dim + horizon_dim, *hidden, 2 * act_dim])
        self.act_dim, self.max_action = act_dim, float(max_action)

    @property
    def uses_horizon(self) -> bool:
        return self.embed is not None

    def fit_normalisers(self, observations: np.ndarray, goals: np.ndarray) -> None:
        self.obs_norm.update(observations)
        self.goal_norm.update(goals)

    def features(self, obs: torch.Tensor, goal: torch.Tensor, horizon: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.obs_norm(obs), self.goal_norm(goal)]
        if self.embed is not None:
            if horizon is None:
                raise ValueError("this policy is conditioned on the horizon h; pass it")
            parts.append(self.embed(horizon))
        return torch.cat(parts, dim=-1)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor,
                horizon: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, σ), each (B, act_dim)."""
        mu_raw, sigma_raw = self.net(self.features(obs, goal, horizon)).chunk(2, dim=-1)
        return self.max_action * torch.tanh(mu_raw), F.softplus(sigma_raw) + 1e-5

    def log_prob(self, obs: torch.Tensor, goal: torch.Tensor, horizon: torch.Tensor | None,
                 action: torch.Tensor) -> torch.Tensor:
        """log N(a; μ, diag σ²) summed over action dimensions, shape (B,)."""
        mu, sigma = self(obs, goal, horizon)
        return (-0.5 * ((action - mu) / sigma) ** 2 - torch.log(sigma) - HALF_LOG_2PI).sum(-1)

    @torch.no_grad()
    def act(self, obs: np.ndarray, goal: np.ndarray, horizon: int | np.ndarray | None = None) -> np.ndarray:
        """Deterministic action μ for a batch (or one) of numpy observations and goals."""
        device = self.obs_norm.mean.device
        single = np.ndim(obs) == 1
        o = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32, device=device)
        g = torch.as_tensor(np.atleast_2d(goal), dtype=torch.float32, device=device)
        h = None
        if self.embed is not None:
            if horizon is None:
                raise ValueError("this policy is conditioned on the horizon h; pass it")
            h = torch.full((o.shape[0],), 0.0, device=device) + torch.as_tensor(horizon, dtype=torch.float32,
                                                                                   device=device)
        mu, _ = self(o, g, h)
        out = mu.cpu().numpy()
        return out[0] if single else out
