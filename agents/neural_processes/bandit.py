"""Contextual-bandit agents: Thompson sampling with a neural-process reward model, and linear Thompson sampling.

NP Thompson sampling [design: the CMANP code has no bandit; LBANP's bandit predicts all arms' rewards from x and
fills the unobserved arms with N(0, 1) noise]: here the NP models one reward per (context, arm), input
[x, one-hot(a)] → r / ``reward_scale``. At every step

    r̃_a ~ N(μ_a(x), σ_a(x)²) for each arm a, from the NP predictive given all past (x, a, r);  play argmax_a r̃_a

then the observed (x, a, r) is streamed into the model with ``model.update`` — an O(1) state update for CMANP,
a growing history re-encoded at the next query for the baselines. The first action is uniform (no context yet).

Linear Thompson sampling (Riquelme et al. 2018, ``LinearFullPosteriorSampling``): per arm a Bayesian linear
regression r = βᵀφ(x) + ε, φ = [x, 1], with a Normal–inverse-Gamma prior (precision λ I, a₀, b₀):

    Λ = λI + ΦᵀΦ,  μ = Λ⁻¹ Φᵀr,  a = a₀ + n/2,  b = b₀ + ½ (rᵀr − μᵀΛμ);   σ² ~ IG(a, b),  β ~ N(μ, σ² Λ⁻¹)
"""

from __future__ import annotations

import numpy as np
import torch

from agents.neural_processes.base import NeuralProcess


def arm_inputs(x: np.ndarray, n_arms: int) -> np.ndarray:
    """[x, one-hot(a)] for every arm: (n_arms, d_x + n_arms) float32."""
    return np.concatenate([np.repeat(x[None], n_arms, 0), np.eye(n_arms)], axis=1).astype(np.float32)


class NPThompsonSampling:
    """Thompson sampling from a neural process's predictive over per-arm rewards."""

    def __init__(self, model: NeuralProcess, n_arms: int, dim_context: int, rng: np.random.Generator,
                 reward_scale: float = 1.0, device: str = "cpu"):
        self.model, self.n_arms, self.dim_context, self.rng = model.eval(), n_arms, dim_context, rng
        self.reward_scale, self.device = reward_scale, device
        self.reset()

    def reset(self) -> None:
        empty = torch.zeros(1, 0, self.dim_context + self.n_arms, device=self.device)
        self.context = self.model.condition(empty, torch.zeros(1, 0, 1, device=self.device))

    @property
    def num_observations(self) -> int:
        return self.context.num_points

    @torch.no_grad()
    def act(self, x: np.ndarray) -> int:
        if self.num_observations == 0:
            return int(self.rng.integers(self.n_arms))
        pred = self.model.predict(self.context, torch.from_numpy(arm_inputs(x, self.n_arms))[None].to(self.device))
        mean, std = pred.mean[0, :, 0].cpu().numpy(), pred.stddev[0, :, 0].cpu().numpy()
        return int(np.argmax(mean + std * self.rng.standard_normal(self.n_arms)))

    @torch.no_grad()
    def observe(self, x: np.ndarray, arm: int, reward: float) -> None:
        point = torch.from_numpy(arm_inputs(x, self.n_arms)[arm:arm + 1])[None].to(self.device)
        r = torch.tensor([[[reward / self.reward_scale]]], dtype=torch.float32, device=self.device)
        self.context = self.model.update(self.context, point, r)


class LinearThompsonSampling:
    """Per-arm Bayesian linear regression with a Normal–inverse-Gamma prior (Riquelme et al.'s defaults)."""

    def __init__(self, n_arms: int, dim_context: int, rng: np.random.Generator, prior_precision: float = 0.25,
                 a0: float = 6.0, b0: float = 6.0):
        self.n_arms, self.dim, self.rng = n_arms, dim_context + 1, rng
        self.prior_precision, self.a0, self.b0 = prior_precision, a0, b0
        self.gram = np.zeros((n_arms, self.dim, self.dim))  # ΦᵀΦ per arm
        self.moment = np.zeros((n_arms, self.dim))  # Φᵀr
        self.sq = np.zeros(n_arms)  # rᵀr
        self.count = np.zeros(n_arms)

    def posterior(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(μ, Λ⁻¹, a, b) for every arm."""
        precision = self.prior_precision * np.eye(self.dim) + self.gram
        cov = np.linalg.inv(precision)
        mean = np.einsum("aij,aj->ai", cov, self.moment)
        a = self.a0 + self.count / 2
        b = self.b0 + 0.5 * (self.sq - np.einsum("ai,aij,aj->a", mean, precision, mean))
        return mean, cov, a, np.maximum(b, 1e-9)

    def act(self, x: np.ndarray) -> int:
        mean, cov, a, b = self.posterior()
        sigma2 = b / self.rng.gamma(a)  # σ² ~ IG(a, b)
        chol = np.linalg.cholesky(sigma2[:, None, None] * cov)
        beta = mean + np.einsum("aij,aj->ai", chol, self.rng.standard_normal((self.n_arms, self.dim)))
        return int(np.argmax(beta @ np.append(x, 1.0)))

    def observe(self, x: np.ndarray, arm: int, reward: float) -> None:
        phi = np.append(x, 1.0)
        self.gram[arm] += np.outer(phi, phi)
        self.moment[arm] += reward * phi
        self.sq[arm] += reward**2
        self.count[arm] += 1


class UniformPolicy:
    """Uniformly random arms: the chance-level reference for regret."""

    def __init__(self, n_arms: int, rng: np.random.Generator):
        self.n_arms, self.rng = n_arms, rng

    def act(self, x: np.ndarray) -> int:
        return int(self.rng.integers(self.n_arms))

    def observe(self, x: np.ndarray, arm: int, reward: float) -> None:
        pass
