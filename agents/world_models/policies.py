"""Actor-critics that act on a frame's K tokens and carry a recurrent state.

- :class:`TokenPolicy` (DART): a non-causal transformer over [CLS, e(z^1)+p_1, …, e(z^K)+p_K, MEM_t]; the CLS
  output feeds the actor and critic heads and becomes the next memory token, MEM_{t+1} := CLS_t (DART Fig. 1).
  Ablations: ``positional=False`` drops p_k; ``mask_fraction`` hides that fraction of the observation tokens
  from attention (a fresh random subset per call).
- :class:`FramePolicy` (IRIS): decode the tokens to pixels with the tokenizer, then CNN (4 × conv3×3 + 2×2
  max-pool) → LSTMCell → actor and critic heads.

Both: ``initial_state(batch)``, and ``forward(tokens (B, K), state) → (action logits, value (B,), new state)``.
The token embedding e(·) is the policy's own table [design: DART does not say whether it reuses the codebook].
"""

from __future__ import annotations

import torch
from torch import nn

from agents.perception.vit import Block
from agents.world_models.tokenizer import VQTokenizer


class TokenPolicy(nn.Module):
    def __init__(self, vocab_size: int, tokens_per_frame: int, n_actions: int, width: int = 64, depth: int = 2,
                 heads: int = 4, positional: bool = True, mask_fraction: float = 0.0):
        super().__init__()
        if not 0.0 <= mask_fraction < 1.0:
            raise ValueError(f"mask_fraction must be in [0, 1), got {mask_fraction}")
        self.k, self.mask_fraction = tokens_per_frame, mask_fraction
        self.embed = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.randn(tokens_per_frame, width) * 0.02) if positional else None
        self.cls = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.mem0 = nn.Parameter(torch.randn(1, width) * 0.02)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.ln = nn.LayerNorm(width)
        self.actor, self.critic = nn.Linear(width, n_actions), nn.Linear(width, 1)

    def initial_state(self, batch: int) -> torch.Tensor:
        return self.mem0.expand(batch, -1)

    def _key_mask(self, b: int, device: torch.device) -> torch.Tensor | None:
        if not self.mask_fraction:
            return None
        hidden = round(self.mask_fraction * self.k)
        order = torch.rand(b, self.k, device=device).argsort(1)
        obs_visible = order >= hidden  # `hidden` random observation tokens per row are masked
        always = torch.ones(b, 1, dtype=torch.bool, device=device)
        return torch.cat([always, obs_visible, always], dim=1)  # CLS and MEM are always visible

    def forward(self, tokens: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = len(tokens)
        obs = self.embed(tokens) + (self.pos if self.pos is not None else 0)
        x = torch.cat([self.cls.expand(b, -1, -1), obs, memory[:, None]], dim=1)
        mask = self._key_mask(b, tokens.device)
        for block in self.blocks:
            x = block(x, key_mask=mask)
        cls = self.ln(x[:, 0])
        return self.actor(cls), self.critic(cls).squeeze(-1), cls


class FramePolicy(nn.Module):
    """IRIS's actor-critic on decoded frames (``channels`` 32-32-64-64, LSTM 512 in IRIS)."""

    def __init__(self, tokenizer: VQTokenizer, n_actions: int, channels: tuple[int, ...] = (32, 32, 64, 64),
                 hidden: int = 512):
        super().__init__()
        self.tokenizer = tokenizer  # shared and trained elsewhere; this policy never updates it
        layers, c_in = [], tokenizer.cfg.in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.MaxPool2d(2), nn.ReLU()]
            c_in = c
        self.cnn = nn.Sequential(*layers, nn.Flatten())
        side = tokenizer.cfg.image_size // 2 ** len(channels)
        self.lstm = nn.LSTMCell(c_in * side * side, hidden)
        self.actor, self.critic = nn.Linear(hidden, n_actions), nn.Linear(hidden, 1)
        self.hidden = hidden

    def parameters_without_tokenizer(self):
        return [p for name, p in self.named_parameters() if not name.startswith("tokenizer.")]

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = self.actor.weight.new_zeros(batch, self.hidden)
        return zeros, zeros

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        with torch.no_grad():
            frames = self.tokenizer.decode(tokens).clamp(0, 1)
        h, c = self.lstm(self.cnn(frames), state)
        return self.actor(h), self.critic(h).squeeze(-1), (h, c)
