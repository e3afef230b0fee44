"""The Constant Memory Attention Block (CMAB; Feng et al., ICML 2024, §3.2 / Fig. 2) and its stacked encoder.

For context tokens X (N × d), input latents L_I and the block's own learned latents L_C (pre-norm residuals,
see :mod:`agents.neural_processes.layers`):

    B = CrossAttn(q = L_C, kv = X)                 # the only O(N) operation; fixed query ⇒ streamable
    B = FF(B);  B = SelfAttn(B);  B = FF(B)        # O(L_C²)
    Z = CrossAttn(q = L_I, kv = B);  Z = FF(Z)     # O(L_I · L_C)
    Z = SelfAttn(Z);  Z = FF(Z)                    # output, L_I × d

Only the first cross-attention sees the context, through its running state (c, o) (:class:`AttentionState`),
so conditioning on N points in blocks of b costs O(L_C·(d + b)) memory and adding points costs O(new points):
everything after the state is recomputed on fixed-size latent sets.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from agents.neural_processes.layers import AttentionState, PreNormAttention, PreNormFF


class CMAB(nn.Module):
    """One CMAB with learned latents L_C (``num_latents`` × d, N(0, 1) init as in the reference)."""

    def __init__(self, dim: int, heads: int, dim_ff: int, num_latents: int):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        self.context_attn = PreNormAttention(dim, heads)
        self.context_ff, self.context_self_attn = PreNormFF(dim, dim_ff), PreNormAttention(dim, heads, cross=False)
        self.context_ff2 = PreNormFF(dim, dim_ff)
        self.latent_cross_attn, self.latent_cross_ff = PreNormAttention(dim, heads), PreNormFF(dim, dim_ff)
        self.latent_self_attn, self.latent_ff = PreNormAttention(dim, heads, cross=False), PreNormFF(dim, dim_ff)

    def empty_state(self, batch: int, like: torch.Tensor) -> AttentionState:
        return self.context_attn.attn.empty_state(batch, len(self.latents), like)

    def update_state(self, state: AttentionState, tokens: torch.Tensor) -> AttentionState:
        """Fold a block of context tokens (B, b, d) into the first cross-attention's state (exact, §1)."""
        block = self.context_attn
        return block.attn.update(block.norm(self.latents)[None], block.norm_context(tokens), state)

    def forward(self, state: AttentionState, latents_in: torch.Tensor) -> torch.Tensor:
        """The block's output for input latents (B, L_I, d), given the context state."""
        block = self.context_attn
        b = block.attn.project_out(state) + block.norm(self.latents)  # Attn(LN L_C, LN X) + LN L_C
        b = self.context_ff2(self.context_self_attn(self.context_ff(b)))
        z = self.latent_cross_ff(self.latent_cross_attn(latents_in, b))
        return self.latent_ff(self.latent_self_attn(z))


@dataclass
class CMABContext:
    """Conditioning state of a CMAB stack: one (c, o) per layer, the per-layer output latents, and N."""

    states: list[AttentionState]
    latents: list[torch.Tensor]
    num_points: int


class CMABEncoder(nn.Module):
    """``num_layers`` CMABs (deep copies, as the reference's ``_get_clones``) that all attend to the same tokens.

    Layer 1's input latents are the learned ``latents`` (``num_latents`` × d); layer ℓ > 1 takes layer ℓ − 1's
    output. ``update`` folds new tokens into every layer's state, then recomputes the latents (O(1) in N).
    """

    def __init__(self, dim: int, heads: int, dim_ff: int, num_layers: int, num_latents: int,
                 num_latents_per_layer: int):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim))
        layer = CMAB(dim, heads, dim_ff, num_latents_per_layer)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def empty(self, batch: int, like: torch.Tensor) -> CMABContext:
        return CMABContext([layer.empty_state(batch, like) for layer in self.layers], [], 0)

    def fold(self, context: CMABContext, tokens: torch.Tensor) -> CMABContext:
        """Fold one block of tokens into every layer's state (latents are recomputed by :meth:`refresh`)."""
        states = [layer.update_state(s, tokens) for layer, s in zip(self.layers, context.states)]
        return CMABContext(states, [], context.num_points + tokens.shape[1])

    def refresh(self, context: CMABContext) -> CMABContext:
        """Recompute every layer's output latents from the states (fixed-size work)."""
        batch = context.states[0].output.shape[0]
        z, outputs = self.latents.expand(batch, -1, -1), []
        for layer, state in zip(self.layers, context.states):
            z = layer(state, z)
            outputs.append(z)
        return CMABContext(context.states, outputs, context.num_points)
