"""The frozen transformer of TrCAM-V (spec §1): the project's ViT, read through forward hooks.

TrCAM-V freezes a self-supervised ViT and reads two things from it:

- for the **classification head**, the class summary of the last ``n_last`` blocks (DINO's linear-probe protocol
  concatenates the [CLS] token of the last 4 blocks; our ViT has no [CLS], so each block's output is
  layer-normed with the ViT's final LN and mean-pooled over patches — the project ViT's own pooling);
- for the **localisation decoder**, the last block's self-attention maps of every head for every query, i.e.
  softmax(q kᵀ / √d) with shape (heads, P, P), laid out as ``heads · P`` channels on the G × G grid of keys
  (``features="attention"``, TrCAM's 6 × 197 = 1182 channels), or the final patch tokens (``"tokens"``), or both.

Nothing here changes the ViT: hooks capture block inputs/outputs during one ordinary forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.perception.vit import ViT

FEATURES = ("attention", "tokens", "both")


@dataclass
class BackboneOutput:
    maps: torch.Tensor  # (B, C, G, G) decoder input
    pooled: torch.Tensor  # (B, n_last · W) classification-head input


class FrozenViT(nn.Module):
    """A frozen :class:`~agents.perception.vit.ViT` returning decoder maps and classifier features."""

    def __init__(self, vit: ViT, features: str = "attention", n_last: int = 4):
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
        if n_last < 1:
            raise ValueError(f"n_last must be >= 1, got {n_last}")
        self.vit, self.features = vit.eval(), features
        self.n_last = min(n_last, len(vit.blocks))
        for p in self.vit.parameters():
            p.requires_grad_(False)
        cfg = vit.cfg
        self.grid = cfg.image_size // cfg.patch_size
        self.heads = vit.blocks[-1].heads
        self.channels = {"attention": self.heads * cfg.n_patches, "tokens": vit.width,
                         "both": self.heads * cfg.n_patches + vit.width}[features]
        self.pooled_dim = self.n_last * vit.width

    def train(self, mode: bool = True) -> FrozenViT:  # the backbone stays in eval mode
        super().train(mode)
        self.vit.eval()
        return self

    def last_attention(self, x: torch.Tensor) -> torch.Tensor:
        """(B, heads, P, P) attention probabilities of the last block given its input tokens x (B, P, W)."""
        block = self.vit.blocks[-1]
        b, t, w = x.shape
        q, k, _ = block.qkv(block.ln1(x)).view(b, t, 3, block.heads, w // block.heads).permute(2, 0, 3, 1, 4)
        return torch.softmax(q @ k.transpose(-1, -2) / (w // block.heads) ** 0.5, dim=-1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> BackboneOutput:
        outputs: list[torch.Tensor] = []
        last_input: list[torch.Tensor] = []
        handles = [blk.register_forward_hook(lambda m, i, o: outputs.append(o)) for blk in self.vit.blocks]
        handles.append(self.vit.blocks[-1].register_forward_pre_hook(lambda m, i: last_input.append(i[0])))
        try:
            out = self.vit(images)
        finally:
            for h in handles:
                h.remove()
        p, g = self.vit.cfg.n_patches, self.grid
        pooled = torch.cat([self.vit.ln(o[:, :p]).mean(1) for o in outputs[-self.n_last:]], dim=-1)
        parts = []
        if self.features in ("attention", "both"):
            attn = self.last_attention(last_input[0])[:, :, :p, :p]  # (B, heads, queries, keys)
            parts.append(attn.reshape(len(images), self.heads * p, g, g))
        if self.features in ("tokens", "both"):
            parts.append(out.patches.transpose(1, 2).reshape(len(images), -1, g, g))
        return BackboneOutput(maps=torch.cat(parts, dim=1), pooled=pooled)
