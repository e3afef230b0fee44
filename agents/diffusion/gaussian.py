"""Gaussian DDPM (Ho et al. 2020) on continuous values: forward noising, ε-parameterised reverse step, loss.

Index convention of :mod:`agents.diffusion.schedules`: the state at index t has marginal

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)                                 (Ho et al. eq. 4)

and the reverse step from index t goes to index t − 1 (index −1 = the clean data):

    μ_θ = (1/√α_t) (x_t − β_t / √(1 − ᾱ_t) · ε̂),   σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)   (eqs. 7, 11)

with no noise added at t = 0 (Algorithm 2). The networks live elsewhere: these functions take ε̂.
"""

from __future__ import annotations

import torch

from agents.diffusion.schedules import NoiseSchedule, extract


class GaussianDiffusion:
    """The Gaussian chain of a :class:`NoiseSchedule` (any tensor shape (B, …); t is (B,) long)."""

    def __init__(self, schedule: NoiseSchedule):
        self.schedule = schedule
        self.n_steps = schedule.n_steps
        self.betas = schedule.betas
        self.alphas = schedule.alphas
        self.alpha_bars = schedule.alpha_bars
        self.alpha_bars_prev = schedule.alpha_bars_prev
        self.posterior_var = self.betas * (1 - self.alpha_bars_prev) / (1 - self.alpha_bars)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε  (eq. 4, reparameterised)."""
        ab = extract(self.alpha_bars, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t."""
        ab = extract(self.alpha_bars, t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_{t−1} | x_t, x_0) (eqs. 6–7)."""
        ab, ab_prev = extract(self.alpha_bars, t, x_t), extract(self.alpha_bars_prev, t, x_t)
        a, b = extract(self.alphas, t, x_t), extract(self.betas, t, x_t)
        mean = (ab_prev.sqrt() * b / (1 - ab)) * x0 + (a.sqrt() * (1 - ab_prev) / (1 - ab)) * x_t
        return mean, extract(self.posterior_var, t, x_t).expand_as(mean)

    def p_mean(self, x_t: torch.Tensor, t: torch.Tensor, eps_hat: torch.Tensor) -> torch.Tensor:
        """μ_θ(x_t, t) = (1/√α_t)(x_t − β_t/√(1 − ᾱ_t) · ε̂)  (eq. 11)."""
        a, b, ab = extract(self.alphas, t, x_t), extract(self.betas, t, x_t), extract(self.alpha_bars, t, x_t)
        return (x_t - b / (1 - ab).sqrt() * eps_hat) / a.sqrt()

    def p_sample(self, x_t: torch.Tensor, t: torch.Tensor, eps_hat: torch.Tensor,
                 generator: torch.Generator | None = None, clip_x0: float | None = None) -> torch.Tensor:
        """One reverse step x_t → x_{t−1} = μ_θ + σ_t z (σ_0 = 0: no noise at the last step).

        With `clip_x0`, the mean is the posterior mean of q(x_{t−1} | x_t, x̂_0) with x̂_0 clipped to
        [−clip_x0, clip_x0] (the "clip_denoised" option of Ho et al.'s code; equal to eq. 11 when nothing is
        clipped). It stops an imperfect ε̂ from being amplified by Π 1/√α_t = 1/√ᾱ_{T−1} along the chain.
        """
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        sigma = extract(self.posterior_var, t, x_t).sqrt()
        if clip_x0 is None:
            mean = self.p_mean(x_t, t, eps_hat)
        else:
            mean, _ = self.q_posterior(self.predict_x0(x_t, t, eps_hat).clamp(-clip_x0, clip_x0), x_t, t)
        return mean + sigma * z

    def prior_sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                     device: str | torch.device = "cpu") -> torch.Tensor:
        """x_{T−1} ~ N(0, I): where sampling starts (exact only when ᾱ_{T−1} ≈ 0; see quirk 2)."""
        return torch.randn(shape, generator=generator, device=device)

    @staticmethod
    def loss(eps_hat: torch.Tensor, eps: torch.Tensor, kind: str = "l2") -> torch.Tensor:
        """ε-prediction loss per example, summed over all but the batch dimension → (B,).

        ``l2`` is Ho et al.'s L_simple (eq. 14); ``l1`` is |ε̂ − ε| (CDiff's time loss, quirk 3).
        """
        diff = eps_hat - eps
        if kind == "l2":
            per = diff ** 2
        elif kind == "l1":
            per = diff.abs()
        else:
            raise ValueError(f"unknown Gaussian loss '{kind}'; choose l1 or l2")
        return per.reshape(per.shape[0], -1).sum(dim=1)
