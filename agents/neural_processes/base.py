"""The neural-process interface shared by CMANP and the baselines, and the diagonal Gaussian head.

Every model exposes three phases (CMANP §3):

    ctx  = model.condition(xc, yc)          # conditioning: summarise N context points
    ctx  = model.update(ctx, x_new, y_new)  # updating: add new points to the summary
    pred = model.predict(ctx, xt)           # querying: a Normal over the M targets, (B, M, d_y)

CMANP's summary is a constant-size state; the baselines' "summary" is the growing history itself, re-encoded
at every query. ``target_log_likelihood`` is the metric ``tar_ll``: mean over targets of Σ_y log p(y_t), per task.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal


class GaussianHead(nn.Module):
    """Features → Normal(μ, σ): [LN →] Linear–ReLU–Linear(2 d_y); σ = exp(·), or 0.05 + 0.95 softplus(·) when
    ``bound_std`` (the reference's image setting)."""

    def __init__(self, dim: int, dim_hidden: int, dim_y: int, bound_std: bool = False, norm: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.net = nn.Sequential(nn.Linear(dim, dim_hidden), nn.ReLU(), nn.Linear(dim_hidden, 2 * dim_y))
        self.bound_std = bound_std

    def forward(self, h: torch.Tensor) -> Normal:
        mean, raw = self.net(self.norm(h)).chunk(2, dim=-1)
        std = 0.05 + 0.95 * F.softplus(raw) if self.bound_std else torch.exp(raw)
        return Normal(mean, std)


@dataclass
class History:
    """The baselines' conditioning state: the context points themselves, (B, N, d_x) and (B, N, d_y)."""

    x: torch.Tensor
    y: torch.Tensor

    @property
    def num_points(self) -> int:
        return self.x.shape[1]


class NeuralProcess(nn.Module):
    """Base class: models that re-encode their history. Subclasses implement ``predict_from(xc, yc, xt)``."""

    #: train on context ∪ target points (CNP/ANP in the reference code) instead of the targets only
    train_on_all_points = False

    def condition(self, xc: torch.Tensor, yc: torch.Tensor, block_size: int | None = None) -> History:
        return History(xc, yc)

    def update(self, context: History, x_new: torch.Tensor, y_new: torch.Tensor) -> History:
        return History(torch.cat([context.x, x_new], dim=1), torch.cat([context.y, y_new], dim=1))

    def predict(self, context: History, xt: torch.Tensor) -> Normal:
        return self.predict_from(context.x, context.y, xt)

    def predict_from(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        raise NotImplementedError

    def forward(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> Normal:
        return self.predict(self.condition(xc, yc), xt)

    def target_log_likelihood(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor,
                              yt: torch.Tensor) -> torch.Tensor:
        """``tar_ll`` per task, (B,): (1/M) Σ_t Σ_y log p(y_t | x_t, context)."""
        return self(xc, yc, xt).log_prob(yt).sum(-1).mean(-1)

    def loss(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor) -> torch.Tensor:
        """The training loss: −mean over tasks and points of Σ_y log p (targets, or all points for CNP/ANP)."""
        if self.train_on_all_points:
            xt, yt = torch.cat([xc, xt], dim=1), torch.cat([yc, yt], dim=1)
        return -self(xc, yc, xt).log_prob(yt).sum(-1).mean()
