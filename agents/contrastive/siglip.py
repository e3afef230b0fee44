"""SigLIP's pairwise sigmoid loss with learned temperature and bias (Zhai et al. 2023, eq. 1 / Algorithm 1).

L = −(1/B) Σ_i Σ_j log σ( z_ij (t · x_i·y_j + b) ),  z_ii = +1, z_ij = −1 (i ≠ j),
x, y l2-normalised; t = exp(t') learned (init 10), b learned (init −10) — the paper's initialisation.
The same pairwise form is Llip's objective over caption-conditioned image embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from agents.contrastive.dual_encoder import ContrastiveHead, Features, HeadOutput, LearnedScale


def sigmoid_loss(logits: torch.Tensor) -> torch.Tensor:
    """Pairwise sigmoid loss of a (B, B) logit matrix (already t·sim + b) with positives on the diagonal."""
    if logits.dim() != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"logits must be a square (B, B) matrix, got {tuple(logits.shape)}")
    signs = 2.0 * torch.eye(len(logits), device=logits.device, dtype=logits.dtype) - 1.0
    return F.softplus(-signs * logits).sum() / len(logits)  # −log σ(x) = softplus(−x)


class SigLipLoss(ContrastiveHead):
    """Sigmoid loss on global embeddings; learned temperature t and bias b."""

    name = "siglip"

    def __init__(self, init_scale: float = 10.0, init_bias: float = -10.0, max_scale: float = 100.0):
        super().__init__()
        self.scale = LearnedScale(init_scale, max_scale)
        self.bias = nn.Parameter(torch.tensor(float(init_bias)))

    def forward(self, f: Features) -> HeadOutput:
        scale = self.scale()
        loss = sigmoid_loss(scale * f.image @ f.text.T + self.bias)
        return HeadOutput(loss, {"loss_global": float(loss.detach()), "inverse_temperature": float(scale.detach()),
                                 "bias": float(self.bias.detach())})
