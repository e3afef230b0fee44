"""Shared neural-process parts: MLP embedders, GEGLU feed-forward, pre-norm residuals, and attention with an
exact streaming (running log-sum-exp) state.

Residual convention of the reference code (``lbanp_modules.PreNorm``): every sub-layer returns
``f(LN x [, LN ctx]) + LN x`` — the *normalised* input is added back, not x itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def build_mlp(dim_in: int, dim_hidden: int, dim_out: int, depth: int) -> nn.Sequential:
    """Linear–ReLU stack with ``depth`` linear layers (TNP/LBANP ``build_mlp``)."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if depth == 1:
        return nn.Sequential(nn.Linear(dim_in, dim_out))
    layers: list[nn.Module] = [nn.Linear(dim_in, dim_hidden), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(dim_hidden, dim_hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(dim_hidden, dim_out))


class FeedForward(nn.Module):
    """GEGLU feed-forward: W₂ (a ⊙ GELU(g)), [a, g] = W₁ x (Shazeer 2020), hidden width ``dim_ff``."""

    def __init__(self, dim: int, dim_ff: int):
        super().__init__()
        self.inp, self.out = nn.Linear(dim, 2 * dim_ff), nn.Linear(dim_ff, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.inp(x).chunk(2, dim=-1)
        return self.out(a * F.gelu(gate))


class PreNormFF(nn.Module):
    """x ↦ FF(LN x) + LN x."""

    def __init__(self, dim: int, dim_ff: int):
        super().__init__()
        self.norm, self.ff = nn.LayerNorm(dim), FeedForward(dim, dim_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return self.ff(x) + x


@dataclass
class AttentionState:
    """Per-head running state of attention from a fixed query set over all context seen so far (spec §1).

    ``log_norm`` c_i = log Σ_j exp(s_ij), shape (B, H, L, 1); ``output`` o_i = Σ_j exp(s_ij − c_i) v_j,
    shape (B, H, L, d_h) — before the output projection. An empty context is c = −∞, o = 0.
    """

    log_norm: torch.Tensor
    output: torch.Tensor


class Attention(nn.Module):
    """Multi-head attention with bias-free q/k/v projections and a biased output projection (LBANP ``Attention``).

    ``attend`` returns the running state for a block of keys/values, ``update`` folds a new block into a state:

        Δ_i = log Σ_{j∈new} exp(s′_ij − c_i);  c′_i = c_i + softplus(Δ_i) = logaddexp(c_i, LSE_j s′_ij)
        o′_i = e^{c_i − c′_i} o_i + Σ_{j∈new} e^{s′_ij − c′_i} v′_j

    which is exact: after any sequence of blocks, (c, o) equal the one-shot softmax attention over their union.
    """

    def __init__(self, dim: int, heads: int, dim_context: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.dim_head = heads, dim // heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim_context or dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def _split(self, t: torch.Tensor) -> torch.Tensor:  # (B, N, H·d_h) → (B, H, N, d_h)
        return t.unflatten(-1, (self.heads, self.dim_head)).transpose(1, 2)

    def project_out(self, state: AttentionState) -> torch.Tensor:
        """to_out(concat_h o_h): (B, L, dim)."""
        return self.to_out(state.output.transpose(1, 2).flatten(2))

    def empty_state(self, batch: int, n_queries: int, like: torch.Tensor) -> AttentionState:
        shape = (batch, self.heads, n_queries)
        return AttentionState(like.new_full((*shape, 1), -math.inf), like.new_zeros((*shape, self.dim_head)))

    def update(self, query: torch.Tensor, context: torch.Tensor, state: AttentionState) -> AttentionState:
        """Fold the keys/values of ``context`` (B, b, dim_ctx) into ``state`` for queries ``query`` (B or 1, L, dim)."""
        q = self._split(self.to_q(query))
        k, v = (self._split(t) for t in self.to_kv(context).chunk(2, dim=-1))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.dim_head)  # (B, H, L, b)
        log_norm = torch.logaddexp(state.log_norm, torch.logsumexp(scores, dim=-1, keepdim=True))
        output = torch.exp(state.log_norm - log_norm) * state.output + torch.exp(scores - log_norm) @ v
        return AttentionState(log_norm, output)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Plain softmax attention of ``x`` (B, L, dim) over ``context`` (B, N, dim_ctx): (B, L, dim)."""
        q = self._split(self.to_q(x))
        k, v = (self._split(t) for t in self.to_kv(context).chunk(2, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).flatten(2))


class PreNormAttention(nn.Module):
    """x ↦ Attn(LN x, LN_ctx ctx) + LN x (self-attention when ``context`` is None)."""

    def __init__(self, dim: int, heads: int, dim_context: int | None = None, cross: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim_context or dim) if cross else None
        self.attn = Attention(dim, heads, dim_context)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(x)
        context = x if self.norm_context is None else self.norm_context(context)
        return self.attn(x, context) + x
