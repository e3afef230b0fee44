"""A GPT world model over [z_t^1 … z_t^K, a_t] blocks (IRIS, Micheli et al. 2023; DART's world model).

The sequence interleaves each frame's K tokens with the action taken: [z_0^{1..K}, a_0, z_1^{1..K}, a_1, …],
embedded by a token table, an action table and learned positions, then causal pre-LN blocks (the project's
:class:`agents.perception.vit.Block`). Heads (each an MLP d → d → out, IRIS):

- next observation token: position p predicts token p + 1 wherever that is an observation token;
- reward sign r ∈ {−1, 0, +1} (3-class CE) and termination d ∈ {0, 1} (2-class CE), both at the action token.

    L = CE(obs) + CE(sign r) + CE(d)        (IRIS eq. 3, the three terms summed)

Imagination feeds tokens incrementally through per-block :class:`KVCache`s, so generating a frame costs K
one-token forwards instead of re-running the whole context.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.vit import Block, KVCache


@dataclass
class WorldModelConfig:
    vocab_size: int = 128  # the tokenizer's codebook size
    n_actions: int = 6
    tokens_per_frame: int = 16  # K
    width: int = 128  # IRIS: 256
    depth: int = 2  # IRIS: 10
    heads: int = 4  # IRIS: 4
    max_blocks: int = 21  # frames (+ actions) in the longest sequence (IRIS: 20)
    dropout: float = 0.1  # IRIS: 0.1 (embeddings, residual and attention)

    @property
    def block_size(self) -> int:
        return self.tokens_per_frame + 1


def _mlp_head(width: int, out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out))


class GPTWorldModel(nn.Module):
    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.obs_embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.act_embed = nn.Embedding(cfg.n_actions, cfg.width)
        self.pos = nn.Parameter(torch.randn(cfg.max_blocks * cfg.block_size, cfg.width) * 0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, dropout=cfg.dropout) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)
        self.obs_head = _mlp_head(cfg.width, cfg.vocab_size)
        self.reward_head = _mlp_head(cfg.width, 3)
        self.done_head = _mlp_head(cfg.width, 2)

    def embed_sequence(self, obs_tokens: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs_tokens (B, T, K), actions (B, T) → interleaved embeddings (B, T·(K+1), W), no positions."""
        b, t, k = obs_tokens.shape
        x = torch.cat([self.obs_embed(obs_tokens), self.act_embed(actions)[:, :, None]], dim=2)
        return x.reshape(b, t * (k + 1), -1)

    def transformer(self, x: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Embedded tokens (B, L, W) → final hidden states; with `caches`, x continues the cached sequence."""
        start = 0 if caches is None else len(caches[0])
        if start + x.shape[1] > len(self.pos):
            raise ValueError(f"sequence of {start + x.shape[1]} tokens exceeds max_blocks·(K+1) = {len(self.pos)}")
        x = self.drop(x + self.pos[start:start + x.shape[1]])
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=None if caches is None else caches[i])
        return self.ln(x)

    def new_caches(self) -> list[KVCache]:
        """Preallocated caches for the whole context (max_blocks · (K + 1) tokens), one per block."""
        return [KVCache(capacity=len(self.pos)) for _ in self.blocks]

    def loss(self, obs_tokens: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, dones: torch.Tensor,
             valid: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Teacher-forced loss on segments: obs_tokens (B, T, K), actions/rewards/dones/valid (B, T).

        `valid` marks real steps (False after an episode's end inside the segment).
        """
        b, t, k = obs_tokens.shape
        h = self.transformer(self.embed_sequence(obs_tokens, actions)).view(b, t, k + 1, -1)
        # next-token targets: in-frame positions 0..K-2 predict z^{2..K}; the action position predicts z_{t+1}^1
        in_frame = F.cross_entropy(self.obs_head(h[:, :, : k - 1]).flatten(0, 2), obs_tokens[:, :, 1:].flatten(),
                                   reduction="none").view(b, t, k - 1)
        first = F.cross_entropy(self.obs_head(h[:, :-1, k]).flatten(0, 1), obs_tokens[:, 1:, 0].flatten(),
                                reduction="none").view(b, t - 1)
        w_in, w_next = valid.float()[:, :, None].expand(-1, -1, k - 1), (valid[:, 1:] & valid[:, :-1]).float()
        obs_loss = ((in_frame * w_in).sum() + (first * w_next).sum()) / (w_in.sum() + w_next.sum()).clamp(min=1)
        act = h[:, :, k]
        w = valid.float()
        reward_loss = (F.cross_entropy(self.reward_head(act).flatten(0, 1), (torch.sign(rewards) + 1).long().flatten(),
                                       reduction="none") * w.flatten()).sum() / w.sum().clamp(min=1)
        done_loss = (F.cross_entropy(self.done_head(act).flatten(0, 1), dones.long().flatten(), reduction="none")
                     * w.flatten()).sum() / w.sum().clamp(min=1)
        loss = obs_loss + reward_loss + done_loss
        return loss, {"obs_ce": obs_loss.item(), "reward_ce": reward_loss.item(), "done_ce": done_loss.item()}

    @torch.no_grad()
    def imagine_step(self, pending: torch.Tensor, actions: torch.Tensor, caches: list[KVCache],
                     generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One imagined env step with the KV cache.

        `pending` (B, P) are observation tokens not yet fed (the whole first frame, then each frame's last
        token); feeds [pending, a_t], samples sign(r_t), d_t, then z_{t+1}^1..K one token at a time.
        Returns (next tokens (B, K), reward sign ∈ {−1, 0, 1}, done ∈ {0, 1}, the new pending (B, 1)).
        """
        x = torch.cat([self.obs_embed(pending), self.act_embed(actions)[:, None]], dim=1)
        h = self.transformer(x, caches)[:, -1]
        reward = _sample(self.reward_head(h), generator) - 1
        done = _sample(self.done_head(h), generator)
        tokens = [_sample(self.obs_head(h), generator)]
        for _ in range(self.cfg.tokens_per_frame - 1):
            h = self.transformer(self.obs_embed(tokens[-1])[:, None], caches)[:, -1]
            tokens.append(_sample(self.obs_head(h), generator))
        next_tokens = torch.stack(tokens, dim=1)
        return next_tokens, reward.float(), done.float(), next_tokens[:, -1:]


def _sample(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.multinomial(F.softmax(logits.float(), dim=-1), 1, generator=generator).squeeze(1)
