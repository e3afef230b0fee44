"""Pseudo-pixel sampler of TrCAM-V (spec §3 and the audit of ``dlib/cams/tcam_seeding.py``), batched in torch.

For each CAM (values in [0, 1]), resampled at every training step:

- **ROI**: every pixel with 255·CAM ≥ Otsu(⌊255·CAM⌋) (``roi_all``: no component selection);
- **foreground**: candidates = the top ⌊max_p·|ROI|⌋ pixels by CAM·ROI; draw ``n_fg`` of them without
  replacement with p ∝ CAM + 1e-8 (``weighted``) or uniformly;
- **background**: candidates = the bottom ⌊min_p·H·W⌋ pixels by CAM over the whole frame (ROI included);
  draw ``n_bg`` uniformly without replacement;
- each seed is dilated with a ksz × ksz square; pixels claimed by both sides are dropped; the rest are ignored
  (label ``IGNORE`` = −255, as in the official code). A constant CAM gives no seeds.

Sampling without replacement ∝ p uses the Gumbel-top-k trick: the k largest log p_i + Gumbel_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE = -255


def otsu_thresholds(levels: torch.Tensor) -> torch.Tensor:
    """Otsu's threshold per row of integer grey levels (B, N) in 0..255: argmax_t of the between-class variance.

    Returns (B,) thresholds t such that the foreground is {level ≥ t} (t in 1..255).
    """
    b = len(levels)
    hist = torch.zeros(b, 256, dtype=torch.float64).scatter_add_(1, levels.long(), torch.ones_like(levels, dtype=torch.float64))
    p = hist / hist.sum(1, keepdim=True)
    grey = torch.arange(256, dtype=torch.float64)
    w0 = p.cumsum(1)[:, :-1]  # background = levels < t, t = 1..255
    mu0 = (p * grey).cumsum(1)[:, :-1]
    mu_total = (p * grey).sum(1, keepdim=True)
    w1 = 1 - w0
    between = (mu_total * w0 - mu0) ** 2 / (w0 * w1).clamp_min(1e-12)
    return between.argmax(1) + 1


@dataclass
class Seeds:
    """One draw of pseudo-pixels for a batch of B maps of N = H·W pixels."""

    labels: torch.Tensor  # (B, H, W) int64: 1 foreground, 0 background, IGNORE elsewhere (after dilation)
    fg_points: torch.Tensor  # (B, N) bool: the drawn foreground pixels (before dilation)
    bg_points: torch.Tensor  # (B, N) bool
    fg_candidates: torch.Tensor  # (B, N) bool: the top-max_p pool inside the ROI
    bg_candidates: torch.Tensor  # (B, N) bool: the bottom-min_p pool
    roi: torch.Tensor  # (B, N) bool


def _rank_mask(scores: torch.Tensor, counts: torch.Tensor, descending: bool) -> torch.Tensor:
    """(B, N) bool: each row's `counts[b]` highest (or lowest) scores (ties broken by a stable sort)."""
    order = scores.argsort(dim=1, descending=descending, stable=True)
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(scores.shape[1]).expand_as(order))
    return ranks < counts[:, None]


def _draw(log_weights: torch.Tensor, allowed: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """(B, N) bool: k draws without replacement ∝ exp(log_weights) among `allowed` (fewer if fewer allowed)."""
    if k == 0:
        return torch.zeros_like(allowed)
    u = torch.rand(allowed.shape, generator=generator, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
    keys = torch.where(allowed, log_weights.double() - torch.log(-torch.log(u)), torch.tensor(-torch.inf, dtype=torch.float64))
    top = keys.topk(min(k, keys.shape[1]), dim=1).indices
    chosen = torch.zeros_like(allowed).scatter_(1, top, True)
    return chosen & allowed


class PseudoPixelSampler:
    """Draw foreground/background pseudo-pixels from CAMs (defaults: TrCAM's README values)."""

    def __init__(self, max_p: float = 0.6, min_p: float = 0.1, n_fg: int = 1, n_bg: int = 1,
                 weighted_fg: bool = True, ksz: int = 3):
        if not (0 < max_p <= 1 and 0 < min_p <= 1):
            raise ValueError(f"need 0 < max_p, min_p <= 1, got {max_p}, {min_p}")
        if n_fg < 0 or n_bg < 0 or ksz < 1 or ksz % 2 == 0:
            raise ValueError(f"need n_fg, n_bg >= 0 and an odd ksz >= 1, got {n_fg}, {n_bg}, {ksz}")
        self.max_p, self.min_p, self.n_fg, self.n_bg = max_p, min_p, n_fg, n_bg
        self.weighted_fg, self.ksz = weighted_fg, ksz

    def __call__(self, cams: torch.Tensor, generator: torch.Generator) -> Seeds:
        """Seeds for CAMs (B, H, W) in [0, 1]."""
        b, h, w = cams.shape
        flat = cams.detach().reshape(b, h * w).double().cpu()
        levels = (255 * flat).floor().clamp(0, 255)
        roi = levels >= otsu_thresholds(levels)[:, None]
        informative = (flat.amax(1) > flat.amin(1))[:, None]  # a constant CAM gives no seeds
        fg_pool = _rank_mask(flat * roi, (self.max_p * roi.sum(1)).long(), descending=True) & roi & informative
        bg_pool = _rank_mask(flat, torch.full((b,), int(self.min_p * h * w)), descending=False) & informative
        fg_logw = torch.log(flat + 1e-8) if self.weighted_fg else torch.zeros_like(flat)
        fg = _draw(fg_logw, fg_pool, self.n_fg, generator)
        bg = _draw(torch.zeros_like(flat), bg_pool, self.n_bg, generator)
        pad = self.ksz // 2
        grow = lambda m: F.max_pool2d(m.view(b, 1, h, w).double(), self.ksz, 1, pad).view(b, h, w) > 0  # noqa: E731
        fg_area, bg_area = grow(fg), grow(bg)
        labels = torch.full((b, h, w), IGNORE, dtype=torch.long)
        labels[fg_area & ~bg_area] = 1
        labels[bg_area & ~fg_area] = 0
        return Seeds(labels=labels.to(cams.device), fg_points=fg, bg_points=bg, fg_candidates=fg_pool,
                     bg_candidates=bg_pool, roi=roi)
