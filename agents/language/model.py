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

    def forward(self, ids: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits (B, T, V) for right-padded ids (B, T).

        With a bool mask ``at`` (B, T): only the logits at its True positions, (n, V) in row-major order — the
        same numbers, without the tied head's cost (n × width × V) at positions nobody reads.
        """
        hidden = self.encoder(ids).tokens
        if at is not None:
            hidden = hidden[at]
        return hidden @ self.encoder.embed.weight.T


def target_mask(ids: torch.Tensor, lengths: torch.Tensor, loss_from: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T − 1) bool: the next-token targets t = 1..T−1 the loss counts, t ≤ L_i and t ≥ loss_from_i."""
    positions = torch.arange(1, ids.shape[1], device=ids.device)[None, :]
    keep = positions <= lengths[:, None]
    if loss_from is not None:
        keep &= positions >= loss_from[:, None]
    return keep


def causal_lm_loss(logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor,
                   loss_from: torch.Tensor | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy −log p(w_t | w_{<t}) over targets t = loss_from_i..L_i of each row.

    Target L_i (if inside the block) is the first padding token, the sequence's end marker (the reference's
    loss also covers padding). ``loss_from`` = None: every token from t = 1, questions included, as in the
    reference (labels = input_ids); ``loss_from_i = L_i − 1``: only the answer (last word) and the end marker.
    """
    keep = target_mask(ids, lengths, loss_from)
    return F.cross_entropy(logits[:, :-1][keep], ids[:, 1:][keep])


def sequence_loss(model: nn.Module, ids: torch.Tensor, lengths: torch.Tensor,
                  loss_from: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`causal_lm_loss` of ``model`` on ``ids``. A :class:`TinyCausalLM` computes its head only at the
    positions whose prediction is counted (the logit at position t − 1 predicts target t); any other model
    (e.g. a pretrained adapter) gives full logits."""
    keep = target_mask(ids, lengths, loss_from)
    if not isinstance(model, TinyCausalLM):
        return F.cross_entropy(model(ids)[:, :-1][keep], ids[:, 1:][keep])
    return F.cross_entropy(model(ids, at=F.pad(keep, (0, 1), value=False)), ids[:, 1:][keep])
