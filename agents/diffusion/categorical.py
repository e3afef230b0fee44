"""Multinomial diffusion (Hoogeboom et al. 2021) on categorical values, in log space.

Index convention of :mod:`agents.diffusion.schedules` (index −1 = the clean data). With K classes,
one-hot rows e and per-step retention α_t:

    q(e_t | e_{t−1}) = Cat(α_t e_{t−1} + (1 − α_t)/K),     q(e_t | e_0) = Cat(ᾱ_t e_0 + (1 − ᾱ_t)/K)

and the posterior (Bayes' rule on the two)

    q(e_{t−1} | e_t, e_0) ∝ [α_t e_t + (1 − α_t)/K] ⊙ [ᾱ_{t−1} e_0 + (1 − ᾱ_{t−1})/K].

The model predicts ê_0 = softmax(f_θ) and steps with p_θ(e_{t−1} | e_t) = q(e_{t−1} | e_t, ê_0) (spec tpp.md §4);
at t = 0 the "previous" state is the data itself, so p_θ(e_0 | e_t) ∝ ê_0 ⊙ [α_0 e_t + (1 − α_0)/K].
Sampling is by Gumbel-argmax. The loss is the original code's "vb_stochastic" estimate of the ELBO
(spec §6): T · (KL(q(e_{t−1}|e_t,e_0) ‖ p_θ) if t > 0 else −log p_θ(e_0 | e_t)) + KL(q(e_{T−1}|e_0) ‖ Uniform).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from agents.diffusion.schedules import NoiseSchedule, extract


def gumbel_argmax(log_probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A categorical sample from (unnormalised) log-probabilities over the last axis."""
    u = torch.rand(log_probs.shape, generator=generator, device=log_probs.device, dtype=log_probs.dtype)
    gumbel = -torch.log((-torch.log(u.clamp_min(1e-30))).clamp_min(1e-30))
    return (log_probs + gumbel).argmax(dim=-1)


class MultinomialDiffusion:
    """The categorical chain of a :class:`NoiseSchedule` over `n_classes` classes.

    States are integer tensors (B, …); log-probabilities carry a trailing class axis (B, …, K).
    """

    def __init__(self, schedule: NoiseSchedule, n_classes: int):
        if n_classes < 2:
            raise ValueError(f"multinomial diffusion needs at least 2 classes, got {n_classes}")
        self.schedule = schedule
        self.n_steps = schedule.n_steps
        self.n_classes = int(n_classes)
        self.log_alpha = schedule.alphas.log()
        self.log_1m_alpha = torch.log1p(-schedule.alphas.clamp(max=1 - 1e-12))
        self.log_alpha_bar = schedule.alpha_bars.log()
        self.log_1m_alpha_bar = torch.log1p(-schedule.alpha_bars.clamp(max=1 - 1e-12))

    def log_onehot(self, e: torch.Tensor) -> torch.Tensor:
        return torch.log(F.one_hot(e, self.n_classes).float().clamp_min(1e-30))

    def log_q_marginal(self, log_e0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log q(e_t | e_0) = log(ᾱ_t e_0 + (1 − ᾱ_t)/K), for t ≥ 0."""
        return torch.logaddexp(log_e0 + extract(self.log_alpha_bar, t, log_e0),
                               extract(self.log_1m_alpha_bar, t, log_e0) - math.log(self.n_classes))

    def log_q_step(self, log_e_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log(α_t e_t + (1 − α_t)/K): q(e_t | e_{t−1}) as a function of e_{t−1} (the kernel is symmetric)."""
        return torch.logaddexp(log_e_t + extract(self.log_alpha, t, log_e_t),
                               extract(self.log_1m_alpha, t, log_e_t) - math.log(self.n_classes))

    def log_posterior(self, log_e0: torch.Tensor, log_e_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log q(e_{t−1} | e_t, e_0) (normalised); `log_e0` may be a distribution (the model's ê_0)."""
        prev = self.log_q_marginal(log_e0, (t - 1).clamp_min(0))
        at_zero = (t == 0).reshape(-1, *([1] * (log_e0.ndim - 1)))
        prev = torch.where(at_zero, log_e0, prev)  # index −1 is the data itself
        unnorm = prev + self.log_q_step(log_e_t, t)
        return unnorm - torch.logsumexp(unnorm, dim=-1, keepdim=True)

    def q_sample(self, e0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """e_t ~ q(e_t | e_0)."""
        return gumbel_argmax(self.log_q_marginal(self.log_onehot(e0), t), generator)

    def p_log_probs(self, logits_e0: torch.Tensor, e_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log p_θ(e_{t−1} | e_t) = log q(e_{t−1} | e_t, ê_0), ê_0 = softmax(logits)."""
        return self.log_posterior(F.log_softmax(logits_e0, dim=-1), self.log_onehot(e_t), t)

    def p_sample(self, logits_e0: torch.Tensor, e_t: torch.Tensor, t: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """One reverse step e_t → e_{t−1} by Gumbel-argmax."""
        return gumbel_argmax(self.p_log_probs(logits_e0, e_t, t), generator)

    def prior_sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None,
                     device: str | torch.device = "cpu") -> torch.Tensor:
        """e_{T−1} ~ Uniform{0..K−1}."""
        return torch.randint(0, self.n_classes, shape, generator=generator, device=device)

    def loss(self, logits_e0: torch.Tensor, e0: torch.Tensor, e_t: torch.Tensor, t: torch.Tensor,
             bits: bool = True) -> torch.Tensor:
        """The stochastic ELBO term per example, summed over positions → (B,) (nats, or bits if `bits`).

        T · [1(t>0) KL(q(e_{t−1}|e_t,e_0) ‖ p_θ(e_{t−1}|e_t)) − 1(t=0) log p_θ(e_0|e_t)] + KL(q(e_{T−1}|e_0) ‖ U);
        the factor T is the importance weight 1/p(t) of a uniformly drawn t.
        """
        log_e0, log_e_t = self.log_onehot(e0), self.log_onehot(e_t)
        log_true = self.log_posterior(log_e0, log_e_t, t)
        log_model = self.log_posterior(F.log_softmax(logits_e0, dim=-1), log_e_t, t)
        kl = (log_true.exp() * (log_true - log_model)).sum(-1)
        nll = -(log_e0.exp() * log_model).sum(-1)
        at_zero = (t == 0).reshape(-1, *([1] * (kl.ndim - 1)))
        step = torch.where(at_zero, nll, kl) * self.n_steps
        last = torch.full_like(t, self.n_steps - 1)
        log_prior = self.log_q_marginal(log_e0, last)
        kl_prior = (log_prior.exp() * (log_prior + math.log(self.n_classes))).sum(-1)
        per = (step + kl_prior).reshape(e0.shape[0], -1).sum(dim=1)
        return per / math.log(2) if bits else per
