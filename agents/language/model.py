"""A tiny GPT-style causal language model on the project's shared text encoder (pre-LN :class:`Block`s,
``causal=True``), with the output head tied to the token embedding.

    lm = TinyCausalLM(TextConfig(vocab_size=135, max_len=16, width=64, depth=2, heads=4))  # causal is forced
    logits = lm(ids)                                  # (B, T, V): next-token logits at every position
    loss = causal_lm_loss(logits, ids, lengths)       # mean −log p(w_{t+1} | w_{≤t}) over the sequence + its end

The reference trains Pythia-70M from scratch; this is the same decoder family shrunk to CPU size.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.text import TextConfig, TextEncoder


class TinyCausalLM(nn.Module):
    """Token + learned positions → causal pre-LN blocks (padding keys masked) → LN → tied linear head."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg = dataclasses.replace(cfg, causal=True)
        self.encoder = TextEncoder(cfg)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, T, V) for right-padded ids (B, T)."""
        hidden = self.encoder(ids).tokens
        return hidden @ self.encoder.embed.weight.T


def causal_lm_loss(logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor,
                   loss_from: torch.Tensor | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy −log p(w_t | w_{<t}) over targets t = loss_from_i..L_i of each row.

    Target L_i (if inside the block) is the first padding token, the sequence's end marker (the reference's
    loss also covers padding). ``loss_from`` = None: every token from t = 1, questions included, as in the
    reference (labels = input_ids); ``loss_from_i = L_i − 1``: only the answer (last word) and the end marker.
    """
    targets = ids[:, 1:]
    positions = torch.arange(1, ids.shape[1], device=ids.device)[None, :]
    keep = positions <= lengths[:, None]
    if loss_from is not None:
        keep &= positions >= loss_from[:, None]
    return F.cross_entropy(logits[:, :-1][keep], targets[keep])
