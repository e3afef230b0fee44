"""Noise schedules for discrete-time diffusion, shared by the Gaussian and the categorical chains.

Convention (used by :mod:`agents.diffusion.gaussian` and :mod:`agents.diffusion.categorical`): steps are
indexed t = 0..T−1; the state at index t has been noised t + 1 times, so its marginal uses
ᾱ_t = Π_{s≤t} α_s, and the "previous" state of index 0 is the clean data (ᾱ_{−1} = 1). Sampling runs
t = T−1, …, 0. A schedule is defined by its per-step retention α_t (β_t = 1 − α_t for the Gaussian chain).

Named schedules (:func:`make_schedule`):

* ``linear``: Ho et al. (2020) linear β from 1e-4 to 0.02 at T = 1000, rescaled by 1000/T as in
  Nichol & Dhariwal (2021) so that every T ends near pure noise (ᾱ_{T−1} ≈ 3e-5 at T = 200).
* ``linear_original``: CDiff's time chain, linear β from 1e-6 to 1e-2 (spec tpp.md §3). It never
  reaches N(0, I): ᾱ_{T−1} = 0.367 at T = 200 and 0.606 at T = 100 (quirk 2).
* ``cosine``: Nichol & Dhariwal (2021) eq. 17, β_t = 1 − ᾱ(t+1)/ᾱ(t) clipped at 0.999, s = 0.008.
* ``cosine_multinomial``: the variant of Hoogeboom et al.'s multinomial-diffusion code that CDiff uses for
  types: the cosine ratios clipped at 0.001 and square-rooted (α_t = √clip(ᾱ(t+1)/ᾱ(t))), on the code's
  grid ``linspace(0, T+1, T+1)``; ᾱ_{T−1} ≈ 2.5e-4 at T = 200 (spec §3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

SCHEDULES = ("linear", "linear_original", "cosine", "cosine_multinomial")


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-step retention α_t and the derived quantities, as float64 tensors of length T.

    Attributes:
        alphas: α_t (retained fraction at step t; 1 − β_t).
        alpha_bars: ᾱ_t = Π_{s≤t} α_s.
        alpha_bars_prev: ᾱ_{t−1}, with ᾱ_{−1} = 1.
    """

    name: str
    alphas: torch.Tensor

    def __post_init__(self) -> None:
        a = self.alphas
        if a.ndim != 1 or a.numel() < 1:
            raise ValueError(f"a schedule needs a 1-D tensor of per-step alphas, got shape {tuple(a.shape)}")
        if not torch.all((a > 0) & (a <= 1)):
            raise ValueError(f"schedule '{self.name}': per-step alphas must lie in (0, 1]")

    @property
    def n_steps(self) -> int:
        return int(self.alphas.numel())

    @property
    def betas(self) -> torch.Tensor:
        return 1.0 - self.alphas

    @property
    def alpha_bars(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)

    @property
    def alpha_bars_prev(self) -> torch.Tensor:
        return torch.cat([self.alphas.new_ones(1), self.alpha_bars[:-1]])

    @classmethod
    def from_betas(cls, name: str, betas: torch.Tensor) -> NoiseSchedule:
        return cls(name, 1.0 - betas.to(torch.float64))


def linear_betas(n_steps: int, start: float, end: float) -> torch.Tensor:
    """β_t evenly spaced from `start` to `end` (inclusive)."""
    return torch.linspace(start, end, n_steps, dtype=torch.float64)


def _cosine_alpha_bar(x: torch.Tensor, s: float) -> torch.Tensor:
    """f(x) = cos²((x + s)/(1 + s) · π/2) on the unit interval (Nichol & Dhariwal 2021, eq. 17)."""
    return torch.cos((x + s) / (1 + s) * math.pi / 2) ** 2


def make_schedule(name: str, n_steps: int) -> NoiseSchedule:
    """A named schedule of `n_steps` steps (see the module docstring)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    T = int(n_steps)
    if name == "linear":
        scale = 1000.0 / T
        return NoiseSchedule.from_betas(name, linear_betas(T, scale * 1e-4, min(scale * 0.02, 0.999)))
    if name == "linear_original":
        return NoiseSchedule.from_betas(name, linear_betas(T, 1e-6, 1e-2))
    if name == "cosine":
        f = _cosine_alpha_bar(torch.arange(T + 1, dtype=torch.float64) / T, 0.008)
        return NoiseSchedule.from_betas(name, (1 - f[1:] / f[:-1]).clamp(max=0.999))
    if name == "cosine_multinomial":
        x = torch.linspace(0, T + 1, T + 1, dtype=torch.float64)  # the original code's grid, kept as is
        f = _cosine_alpha_bar(x / (T + 1), 0.008)
        f = f / f[0]
        return NoiseSchedule(name, (f[1:] / f[:-1]).clamp(min=0.001, max=1.0).sqrt())
    raise ValueError(f"unknown schedule '{name}'; choose one of: {', '.join(SCHEDULES)}")


def extract(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] for a batch of step indices `t` (B,), shaped (B, 1, …) to broadcast against `like`."""
    out = values.to(device=like.device, dtype=like.dtype if like.is_floating_point() else torch.float32)[t]
    return out.reshape(t.shape[0], *([1] * (like.ndim - 1)))
