"""Sinusoidal encodings and the Transformer history encoder of CDiff (spec tpp.md §5)."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoid(x: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """THP-style encoding of real values: channel i holds x / base^{2⌊i/2⌋/dim}, sin on even, cos on odd.

    x (…) → (…, dim). Used for times, inter-arrival times, diffusion steps and horizon positions.
    """
    i = torch.arange(dim, device=x.device)
    freq = torch.exp(-(2 * (i // 2)).float() / dim * math.log(base))
    angle = x.unsqueeze(-1).float() * freq
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))


class HistoryEncoder(nn.Module):
    """Per event [Emb(k) (d) ‖ TE(τ_norm) + TE(t_abs) (d)] → TransformerEncoder (causal + padding) → Linear 2d→d.

    Returns the whole sequence of history states (the memory the denoisers cross-attend to) and its
    key-padding mask. Padding type index = K. Needs at least one real event per sequence.
    """

    def __init__(self, n_types: int, d_model: int = 32, n_heads: int = 2, n_layers: int = 1, d_ff: int = 64,
                 dropout: float = 0.1):
        super().__init__()
        self.n_types, self.d_model = n_types, d_model
        self.type_emb = nn.Embedding(n_types + 1, d_model, padding_idx=n_types)
        layer = nn.TransformerEncoderLayer(2 * d_model, n_heads, d_ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(2 * d_model, d_model)

    def forward(self, dt_norm: torch.Tensor, t_abs: torch.Tensor, types: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """dt_norm, t_abs, types, mask: (B, L) → memory (B, L, d) and key-padding mask (B, L) (True = pad)."""
        types = torch.where(mask, types, torch.full_like(types, self.n_types))
        time_code = sinusoid(dt_norm, self.d_model) + sinusoid(t_abs, self.d_model)
        x = torch.cat([self.type_emb(types), time_code * mask.unsqueeze(-1)], dim=-1)
        L = x.shape[1]
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.encoder(x, mask=causal, src_key_padding_mask=~mask)
        return self.out(h), ~mask
