"""A Vision Transformer (Dosovitskiy et al. 2021) that returns patch tokens and a pooled embedding.

The project's one ViT: SPARC/CLIP/SigLIP use its patch tokens and mean-pooled embedding (SPARC §3: mean
pooling, no [CLS] token); Llip uses ``n_extra_tokens`` learnable tokens (its "mixture tokens", returned in
``extra``). Pre-LN transformer blocks (:class:`Block`) are shared with the text encoder.

    vit = ViT(ViTConfig(image_size=32, patch_size=8, width=64, depth=2, heads=4))
    out = vit(images)          # out.patches (B, P, W), out.pooled (B, W), out.extra (B, K, W) | None

Patch p covers rows ⌊p / G⌋ and columns p mod G of the G × G grid (row-major), matching the media world.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class KVCache:
    """Keys and values of the tokens a causal :class:`Block` has seen, (B, heads, T, head_dim) each.

    Incremental decoding: ``block(x_new, causal=True, cache=c)`` attends from the new tokens to every cached
    token and to the new ones before them, then appends the new keys/values; the outputs equal the new rows
    of an uncached causal forward over the whole sequence. With ``capacity`` the buffers are allocated once
    and written in place (no quadratic re-copying; for decoding without gradients).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity, self.length = capacity, 0
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.length

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new = self.length + keys.shape[2]
        if self.capacity is None:
            first = self.keys is None
            self.keys = keys if first else torch.cat([self.keys, keys], 2)
            self.values = values if first else torch.cat([self.values, values], 2)
        else:
            if new > self.capacity:
                raise ValueError(f"KV cache full: {new} tokens > capacity {self.capacity}")
            if self.keys is None:
                b, h, _, d = keys.shape
                self.keys = keys.new_empty(b, h, self.capacity, d)
                self.values = values.new_empty(b, h, self.capacity, d)
            self.keys[:, :, self.length:new] = keys
            self.values[:, :, self.length:new] = values
        self.length = new
        return self.keys[:, :, :new], self.values[:, :, :new]


class Block(nn.Module):
    """Pre-LN transformer block: x + MHA(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        if width % heads:
            raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None, causal: bool = False,
                cache: KVCache | None = None) -> torch.Tensor:
        """`key_mask` (B, T) bool: True for tokens that may be attended to (padding = False).

        `cache` (optional, causal only): x holds the next tokens after those in the cache, which grows by them;
        `key_mask` then covers the cached and the new tokens.
        """
        b, t, w = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        past = 0
        if cache is not None:
            if not causal:
                raise ValueError("a KV cache needs causal=True")
            past = len(cache)
            k, v = cache.append(k, v)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if causal:
            tri = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)
            mask = tri if mask is None else mask & tri
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, w))
        return x + self.mlp(self.ln2(x))


@dataclass
class ViTConfig:
    """ViT sizes. ViT-B/16 = (patch 16, width 768, depth 12, heads 12); the CPU default is tiny."""

    image_size: int = 32
    patch_size: int = 8
    in_channels: int = 3
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    n_extra_tokens: int = 0  # learnable tokens appended to the patches (registers / Llip mixture tokens)

    def validate(self) -> None:
        if self.image_size <= 0 or self.patch_size <= 0 or self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be a positive multiple of "
                             f"patch_size ({self.patch_size})")
        if min(self.width, self.depth, self.heads, self.in_channels) < 1 or self.n_extra_tokens < 0:
            raise ValueError("width, depth, heads and in_channels must be >= 1 and n_extra_tokens >= 0")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass
class ViTOutput:
    patches: torch.Tensor  # (B, P, W) final-LN patch tokens
    pooled: torch.Tensor  # (B, W) mean over patch tokens
    extra: torch.Tensor | None  # (B, K, W) the extra tokens, if any


class ViT(nn.Module):
    """Patchify (conv, stride = patch) → + learned positions → [extra tokens] → blocks → LN → mean pool."""

    def __init__(self, cfg: ViTConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ViTConfig()
        cfg.validate()
        self.width = cfg.width
        self.patchify = nn.Conv2d(cfg.in_channels, cfg.width, cfg.patch_size, stride=cfg.patch_size)
        self.pos = nn.Parameter(torch.randn(1, cfg.n_patches, cfg.width) * 0.02)
        self.extra = nn.Parameter(torch.randn(1, cfg.n_extra_tokens, cfg.width) * 0.02) if cfg.n_extra_tokens else None
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)

    def forward(self, images: torch.Tensor) -> ViTOutput:
        c, s = self.cfg.in_channels, self.cfg.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (c, s, s):
            raise ValueError(f"images must have shape (B, {c}, {s}, {s}), got {tuple(images.shape)}")
        x = self.patchify(images).flatten(2).transpose(1, 2) + self.pos  # (B, P, W), row-major patches
        if self.extra is not None:
            x = torch.cat([x, self.extra.expand(len(x), -1, -1)], dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.ln(x)
        p = self.cfg.n_patches
        patches, extra = x[:, :p], (x[:, p:] if self.extra is not None else None)
        return ViTOutput(patches=patches, pooled=patches.mean(dim=1), extra=extra)
