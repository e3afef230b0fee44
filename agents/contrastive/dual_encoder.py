"""Image and text encoders with linear adaptors into one shared space, and the head interface.

SPARC §3.1 notation: patch embeddings v_p = g_v(f_v(x)_p), token embeddings t_l = g_t(f_t(y)_l), with linear
adaptors g_v, g_t; global embeddings v = l2norm(mean_p v_p), t = l2norm(mean_l t_l) over real tokens (the
simplification of the paper's Listing 1; g is linear, so this is also g(avgpool f)). Every contrastive head
(CLIP, SigLIP, SPARC) consumes the same :class:`Features`, so the encoders are shared and the objectives plug in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.text import TextEncoder
from agents.perception.vit import ViT


@dataclass
class Features:
    """What a contrastive head needs from a batch of B image–caption pairs.

    Attributes:
        patches: (B, P, E) adapted patch embeddings v_p (not normalised).
        image: (B, E) l2-normalised global image embeddings v.
        tokens: (B, L, E) adapted token embeddings t_l (not normalised).
        text: (B, E) l2-normalised global text embeddings t.
        token_mask: (B, L) bool, True for real (non-padding) tokens.
    """

    patches: torch.Tensor
    image: torch.Tensor
    tokens: torch.Tensor
    text: torch.Tensor
    token_mask: torch.Tensor


@dataclass
class HeadOutput:
    loss: torch.Tensor  # scalar to minimise
    logs: dict[str, float]  # detached diagnostics (loss parts, temperature, ...)


class DualEncoder(nn.Module):
    """f_v (ViT) + f_t (text transformer) + linear adaptors g_v, g_t into an `embed_dim` space."""

    def __init__(self, vision: ViT, text: TextEncoder, embed_dim: int = 64):
        super().__init__()
        self.vision, self.text = vision, text
        self.vision_adaptor = nn.Linear(vision.width, embed_dim, bias=False)  # g_v
        self.text_adaptor = nn.Linear(text.width, embed_dim, bias=False)  # g_t

    def encode_image(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(v_p (B, P, E), v (B, E) normalised)."""
        patches = self.vision_adaptor(self.vision(images).patches)
        return patches, F.normalize(patches.mean(dim=1), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(t_l (B, L, E), t (B, E) normalised, mask (B, L))."""
        out = self.text(tokens)
        emb = self.text_adaptor(out.tokens)
        w = out.mask.to(emb.dtype)[..., None]
        return emb, F.normalize((emb * w).sum(1) / w.sum(1), dim=-1), out.mask

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> Features:
        if len(images) != len(tokens):
            raise ValueError(f"{len(images)} images but {len(tokens)} captions")
        patches, image = self.encode_image(images)
        token_emb, text, mask = self.encode_text(tokens)
        return Features(patches=patches, image=image, tokens=token_emb, text=text, token_mask=mask)


class LearnedScale(nn.Module):
    """A positive scalar exp(θ) learned in log space (inverse temperature, SigLIP's t), clamped at `max_value`."""

    def __init__(self, init: float, max_value: float = 100.0):
        super().__init__()
        if not 0 < init <= max_value:
            raise ValueError(f"need 0 < init <= max_value, got {init}, {max_value}")
        self.log_value = nn.Parameter(torch.tensor(math.log(init)))
        self.max_value = max_value

    def forward(self) -> torch.Tensor:
        return self.log_value.exp().clamp(max=self.max_value)


class ContrastiveHead(nn.Module):
    """An objective on :class:`Features`; subclasses implement ``forward(features) -> HeadOutput``."""

    name = "head"

    def forward(self, features: Features) -> HeadOutput:  # pragma: no cover - interface
        raise NotImplementedError
