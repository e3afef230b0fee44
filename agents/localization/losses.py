"""Losses of TrCAM-V (spec §3): partial cross-entropy on pseudo-pixels plus the dense-CRF loss.

    L = λ_sl · CE_partial(S, seeds) + λ_crf · L_CRF(S, I)

- ``partial_cross_entropy``: mean cross-entropy over the batch's labelled pixels (ignore index −255).
- ``dense_crf_loss`` (Tang et al., ECCV 2018, "On regularized losses for weakly-supervised CNN segmentation"):
  the relaxed normalised-cut-free Potts energy  L_CRF = (1/B) Σ_b Σ_k S_kᵀ W (1 − S_k), with the dense
  Gaussian bilateral affinity W_ij = exp(−‖p_i − p_j‖² / 2σ_xy² − ‖I_i − I_j‖² / 2σ_rgb²) on pixel
  positions p (pixels) and raw 0–255 RGB I, self-pairs included. For a hard segmentation it is the cut cost
  Σ_{i,j: label_i ≠ label_j} W_ij, so it is 0 for a constant segmentation. The official code returns
  −Σ_k S_kᵀ W S_k / B instead: the same gradient (−2 W S_k / B), its value shifted by −1ᵀW1/B.
  W is built explicitly (N × N per image) on the frame average-pooled by ``scale`` (σ_xy stays in pixels of
  the full frame) and multiplied by scale⁴ (each pooled pair stands for scale⁴ pixel pairs), so λ_crf keeps its
  meaning; this replaces the official permutohedral-lattice filter, which is approximate anyway.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from agents.localization.seeds import IGNORE


def partial_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean CE of (B, K, H, W) logits over pixels whose label (B, H, W) is not IGNORE; 0 if none is labelled."""
    if not (labels != IGNORE).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=IGNORE)


def bilateral_affinity(images: torch.Tensor, sigma_rgb: float, sigma_xy: float, pixel_size: float = 1.0) -> torch.Tensor:
    """(B, N, N) Gaussian bilateral kernel of images (B, 3, H, W) in 0–255; pixel centres `pixel_size` apart."""
    b, _, h, w = images.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=images.dtype), torch.arange(w, dtype=images.dtype), indexing="ij")
    xy = torch.stack([yy, xx], -1).view(1, h * w, 2) * (pixel_size / sigma_xy)
    rgb = images.flatten(2).transpose(1, 2) / sigma_rgb  # (B, N, 3)
    feats = torch.cat([xy.expand(b, -1, -1), rgb], dim=-1)
    sq = (feats * feats).sum(-1)
    d2 = (sq[:, :, None] + sq[:, None, :] - 2 * feats @ feats.transpose(1, 2)).clamp_min(0)
    return torch.exp(-0.5 * d2)


def dense_crf_loss(probs: torch.Tensor, images: torch.Tensor, sigma_rgb: float = 15.0, sigma_xy: float = 100.0,
                   scale: int = 1) -> torch.Tensor:
    """(1/B) Σ_b Σ_k S_kᵀ W (1 − S_k) for softmax maps `probs` (B, K, H, W) and images (B, 3, H, W) in 0–255."""
    if probs.shape[0] != images.shape[0] or probs.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"probs {tuple(probs.shape)} and images {tuple(images.shape)} do not match")
    if scale > 1:
        probs, images = F.avg_pool2d(probs, scale), F.avg_pool2d(images, scale)
    kernel = bilateral_affinity(images.to(probs.dtype), sigma_rgb, sigma_xy, float(scale))
    s = probs.flatten(2)  # (B, K, N)
    return scale ** 4 * ((s @ kernel) * (1 - s)).sum() / len(probs)  # each pooled pair stands for scale⁴ pairs
