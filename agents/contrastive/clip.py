"""CLIP's symmetric InfoNCE loss with a learned temperature (Radford et al. 2021; SPARC eq. 1).

L_g = −1/(2B) Σ_i [ log softmax_j(φ(v_i, t_j)/τ)_i + log softmax_j(φ(t_i, v_j)/τ)_i ],
with φ the cosine similarity and 1/τ learned in log space (init 1/0.07, clamped at 100 as in CLIP).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from agents.contrastive.dual_encoder import ContrastiveHead, Features, HeadOutput, LearnedScale


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of a (B, B) logit matrix whose diagonal holds the positive pairs."""
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be a square (B, B) matrix, got {tuple(logits.shape)}")
    labels = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class ClipLoss(ContrastiveHead):
    """Global InfoNCE between l2-normalised image and text embeddings; learned inverse temperature."""

    name = "clip"

    def __init__(self, init_temperature: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        self.scale = LearnedScale(1.0 / init_temperature, max_scale)

    def forward(self, f: Features) -> HeadOutput:
        scale = self.scale()
        loss = info_nce(scale * f.image @ f.text.T)
        return HeadOutput(loss, {"loss_global": float(loss.detach()), "inverse_temperature": float(scale.detach())})
