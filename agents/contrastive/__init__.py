"""One contrastive-loss family for image–text pretraining: pluggable heads on shared encoders.

    model = DualEncoder(ViT(vit_cfg), TextEncoder(text_cfg), embed_dim=64)
    head = make_head("sparc", lambda_f=1.0)          # or "clip", "siglip"
    out = head(model(images, tokens)); out.loss.backward()

Llip (caption-conditioned scores from K mixture tokens) needs its own encoder, :class:`LlipDualEncoder`, and
``make_head("llip", objective="sigmoid" | "infonce")``.
"""

from __future__ import annotations

from typing import Any

from agents.contrastive.clip import ClipLoss, info_nce
from agents.contrastive.dual_encoder import ContrastiveHead, DualEncoder, Features, HeadOutput, LearnedScale
from agents.contrastive.llip import (
    LlipDualEncoder,
    LlipFeatures,
    LlipLoss,
    MixtureState,
    TextQueriedCrossAttention,
    attention_entropy,
)
from agents.contrastive.siglip import SigLipLoss, sigmoid_loss
from agents.contrastive.sparc import (
    SparcLoss,
    alignment_weights,
    fine_grained_loss,
    fine_grained_token_losses,
    grouped_embeddings,
    minmax_normalise,
    sparsify,
)

HEADS: dict[str, type[ContrastiveHead]] = {"clip": ClipLoss, "siglip": SigLipLoss, "sparc": SparcLoss,
                                           "llip": LlipLoss}


def make_head(name: str, **kwargs: Any) -> ContrastiveHead:
    """Build a head by name ("clip" | "siglip" | "sparc" | "llip") with its keyword arguments."""
    if name not in HEADS:
        raise ValueError(f"unknown contrastive head {name!r}; choose one of {sorted(HEADS)}")
    return HEADS[name](**kwargs)


__all__ = [
    "HEADS", "ClipLoss", "ContrastiveHead", "DualEncoder", "Features", "HeadOutput", "LearnedScale", "LlipDualEncoder",
    "LlipFeatures", "LlipLoss", "MixtureState", "SigLipLoss", "SparcLoss", "TextQueriedCrossAttention",
    "alignment_weights", "attention_entropy", "fine_grained_loss", "fine_grained_token_losses", "grouped_embeddings",
    "info_nce", "make_head", "minmax_normalise", "sigmoid_loss", "sparsify",
]
