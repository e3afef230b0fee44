"""A transformer text encoder that returns token embeddings and a pooled (masked-mean) embedding.

    enc = TextEncoder(TextConfig(vocab_size=12, max_len=11, width=64, depth=2, heads=4))
    out = enc(tokens)   # out.tokens (B, L, W), out.pooled (B, W), out.mask (B, L) bool (True = real token)

Padding (id ``pad_id``) is masked out of attention keys and of the pooled mean, so a caption's embeddings
do not depend on how much padding follows it. Bidirectional by default (SPARC's text encoder); ``causal``
gives a GPT-style encoder. Padding goes at the end of each row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from agents.perception.vit import Block


@dataclass
class TextConfig:
    vocab_size: int = 12
    max_len: int = 11
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    pad_id: int = 0
    causal: bool = False

    def validate(self) -> None:
        if min(self.vocab_size, self.max_len, self.width, self.depth, self.heads) < 1:
            raise ValueError("vocab_size, max_len, width, depth and heads must be >= 1")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id must be in [0, {self.vocab_size}), got {self.pad_id}")


@dataclass
class TextOutput:
    tokens: torch.Tensor  # (B, L, W) final-LN token embeddings
    pooled: torch.Tensor  # (B, W) mean over the real (non-padding) tokens
    mask: torch.Tensor  # (B, L) bool, True for real tokens


class TextEncoder(nn.Module):
    """Token + learned position embeddings → pre-LN blocks (padding keys masked) → LN → masked mean pool."""

    def __init__(self, cfg: TextConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or TextConfig()
        cfg.validate()
        self.width = cfg.width
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos = nn.Parameter(torch.randn(1, cfg.max_len, cfg.width) * 0.02)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)

    def forward(self, tokens: torch.Tensor) -> TextOutput:
        if tokens.dim() != 2 or tokens.shape[1] > self.cfg.max_len:
            raise ValueError(f"tokens must have shape (B, L <= {self.cfg.max_len}), got {tuple(tokens.shape)}")
        if tokens.dtype not in (torch.int32, torch.int64) or tokens.min() < 0 or tokens.max() >= self.cfg.vocab_size:
            raise ValueError(f"tokens must be integer ids in [0, {self.cfg.vocab_size})")
        mask = tokens != self.cfg.pad_id
        if not mask.any(dim=1).all():
            raise ValueError(f"rows {torch.nonzero(~mask.any(dim=1)).flatten().tolist()} are all padding")
        x = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x, key_mask=mask, causal=self.cfg.causal)
        x = self.ln(x)
        weights = mask.to(x.dtype)
        pooled = (x * weights[..., None]).sum(1) / weights.sum(1, keepdim=True)
        return TextOutput(tokens=x, pooled=pooled, mask=mask)
