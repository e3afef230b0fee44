"""A learner for the digits analogue of meta-(out-of-context) learning (spec §6, our reconstruction): a small CNN
per 8×8 cell, a small causal transformer over the cells, and two heads.

    learner = CellTransformer(CellLearnerConfig(n_entities=300, length=4))
    h = learner(images, cells, code)            # (B, W): the state at the last cell (one pass)
    learner.entity_logits(h)                    # (B, E): the entity a definition states
    learner.answer_logits(learner.answer_state(images, cells, code))   # (B, 10): the answer to a question
    loss = learner.loss(batch)                  # each row against its own head's target

- Every image cell (digit or tag patch) goes through one shared :class:`~agents.perception.convnets.SmallCNN`
  (its linear head maps to the model width); a knowledge question's entity code is a learned embedding in the
  cell where a variable's last digit would stand — the analogue of a pretrained LM's token for a real name.
- The cells pass the project's pre-LN transformer :class:`~agents.perception.vit.Block` with a causal mask (the
  slot comes first, so the variable's cells see the tag or question before them, like "tag var entity" and
  "Q: … var … A:" in the language task) and empty cells masked as keys; the last position is read out.
- The entity head is tied to the entity-code embedding (``tie_entity_head``), as an LM's output layer is tied to its
  token embedding: a definition "tag var → e" then pulls the variable's state towards e's code, the state that
  knowledge questions about e start from. ``tie_entity_head=False`` gives a separate linear head (an ablation).
- A digit head on the CNN features serves the perception warm-up (:func:`train_cells` with ``digits``).

Arrays in, tensors out: the learner never sees the curriculum; :func:`train_cells` draws batches through a
``draw(rows, rng)`` callable the caller supplies (the scenario renders fresh images there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.convnets import SmallCNN
from agents.perception.vit import Block

N_ANSWERS = 10
ANSWER, ENTITY = 0, 1  # head codes
ROUTES = ("direct", "entity")


@dataclass
class CellLearnerConfig:
    n_entities: int
    length: int = 4  # cells per sequence: slot + variable digits
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    cnn_width: int = 8  # SmallCNN channels (8 → 16)
    image_size: int = 8
    tie_entity_head: bool = True
    route: str = "entity"  # a question about a variable: "direct" (one pass) | "entity" (resolve, then answer)
    slot: str = "first"  # where the question digit / tag stands: "first" | "last" (as in the curriculum)

    def validate(self) -> None:
        if min(self.n_entities, self.length, self.width, self.depth, self.heads, self.cnn_width) < 1:
            raise ValueError("n_entities, length, width, depth, heads and cnn_width must be >= 1")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        if self.route not in ROUTES or self.slot not in ("first", "last"):
            raise ValueError(f"route must be one of {ROUTES} and slot first or last, got {self.route!r}, {self.slot!r}")


class CellTransformer(nn.Module):
    """Cells (images | entity code) → causal pre-LN blocks → LN → the last position's state; answer / entity heads."""

    def __init__(self, cfg: CellLearnerConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.cnn = SmallCNN(1, cfg.width, cfg.image_size, cfg.cnn_width)
        self.code = nn.Embedding(cfg.n_entities, cfg.width)
        nn.init.normal_(self.code.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(1, cfg.length, cfg.width) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.width, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.ln = nn.LayerNorm(cfg.width)
        self.answer_head = nn.Linear(cfg.width, N_ANSWERS)
        self.entity_head = None if cfg.tie_entity_head else nn.Linear(cfg.width, cfg.n_entities)
        self.digit_head = nn.Linear(cfg.width, N_ANSWERS)

    def tokens(self, images: torch.Tensor, cells: torch.Tensor, code: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cell tokens (B, T, W) before positions, and the key mask (B, T): an image cell (`cells` ≥ 0) through the
        CNN, an entity code (`code` ≥ 0) through the code embedding, anything else empty (masked)."""
        b, t = cells.shape
        is_image, has_code = cells >= 0, code >= 0
        tokens = torch.zeros(b, t, self.cfg.width, device=images.device, dtype=images.dtype)
        tokens[is_image] = self.cnn(images[is_image][:, None])
        tokens = torch.where(has_code[..., None], self.code(code.clamp(min=0)), tokens)
        return tokens, is_image | has_code

    def encode(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Causal blocks over tokens (B, T, W) with key mask `valid`; the final-LN state at the last position."""
        x = tokens + self.pos[:, :tokens.shape[1]]
        for block in self.blocks:
            x = block(x, key_mask=valid, causal=True)
        return self.ln(x[:, -1])

    def forward(self, images: torch.Tensor, cells: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """`images` (B, T, H, W), `cells` (B, T) long (≥ 0: an image cell; < 0: empty), `code` (B, T) long (≥ 0: an
        entity code at that position). Returns the final-LN state at the last position, (B, width)."""
        return self.encode(*self.tokens(images, cells, code))

    def answer_state(self, images: torch.Tensor, cells: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The state the answer head reads. ``route="direct"``: one pass. ``route="entity"``: a question about a
        variable (no entity code in the row) takes two passes through the same network: the first resolves the
        sequence to a soft entity ê = softmax(entity logits) · codes, the second answers the knowledge question
        with ê in place of an entity code (slot kept, variable cells emptied)."""
        tokens, valid = self.tokens(images, cells, code)
        h = self.encode(tokens, valid)
        if self.cfg.route == "direct":
            return h
        via = (code < 0).all(dim=1)
        if via.any():
            slot, at = (0, -1) if self.cfg.slot == "first" else (-1, -2)  # the slot and the code's position
            soft = torch.softmax(self.entity_logits(h[via]), dim=-1) @ self.code.weight
            second = torch.zeros_like(tokens[via])
            second[:, slot] = tokens[via][:, slot]
            second[:, at] = soft
            keep = torch.zeros_like(valid[via])
            keep[:, slot] = keep[:, at] = True
            h = h.clone()
            h[via] = self.encode(second, keep)
        return h

    def answer_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.answer_head(h)

    def entity_logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.code.weight.T if self.entity_head is None else self.entity_head(h)

    def digit_logits(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 10) digit-class logits of single images (N, H, W), from the shared CNN."""
        return self.digit_head(self.cnn(images[:, None]))

    def head_logits(self, batch: dict[str, torch.Tensor]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """head code → (its rows (bool, B), their logits): answer rows through :meth:`answer_state` and the answer
        head, entity rows (definitions) through one pass and the entity head."""
        out = {}
        for head, state, readout in ((ANSWER, self.answer_state, self.answer_logits),
                                     (ENTITY, self.forward, self.entity_logits)):
            rows = batch["head"] == head
            if rows.any():
                out[head] = rows, readout(state(batch["images"][rows], batch["cells"][rows], batch["code"][rows]))
        return out

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy over the batch (each row against its own head's target; ``batch``: images, cells,
        code, head, target)."""
        total = sum(F.cross_entropy(logits, batch["target"][rows], reduction="sum")
                    for rows, logits in self.head_logits(batch).values())
        return total / len(batch["target"])

    @torch.no_grad()
    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The argmax of each row's own head, (B,)."""
        out = torch.full_like(batch["target"], -1)
        for rows, logits in self.head_logits(batch).values():
            out[rows] = logits.argmax(-1)
        return out


Draw = Callable[[np.ndarray, np.random.Generator], dict[str, np.ndarray]]


@dataclass
class CellTrainStats:
    steps: int = 0
    examples: int = 0
    seconds: float = 0.0
    epoch_losses: list[float] = field(default_factory=list)

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


def to_tensors(arrays: dict[str, np.ndarray], device: str | torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, device=device) for k, v in arrays.items()}


def train_cells(model: CellTransformer, n: int, draw: Draw, *, epochs: int, batch_size: int, lr: float,
                rng: np.random.Generator, weight_decay: float = 0.0,
                digits: tuple[np.ndarray, np.ndarray] | None = None,
                on_epoch: Callable[[int, float], None] | None = None) -> CellTrainStats:
    """One training stage: `epochs` passes over `n` examples in shuffled minibatches of `batch_size` (≥ n: full
    batch), each drawn by ``draw(rows, rng)`` (fresh images every visit); AdamW with lr linear from `lr` to 0,
    a fresh optimiser per call. `digits` = (images (M, H, W), classes (M,)): a minibatch of single images per step
    is also classified by the digit head (the perception warm-up of stage 0)."""
    if epochs < 1 or batch_size < 1 or n < 1:
        raise ValueError("need epochs >= 1, batch_size >= 1 and at least one example")
    device = next(model.parameters()).device
    batch_size = min(batch_size, n)
    per_epoch = -(-n // batch_size)
    total = epochs * per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
    stats = CellTrainStats()
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        for b in range(per_epoch):
            rows = order[b * batch_size:(b + 1) * batch_size]
            loss = model.loss(to_tensors(draw(rows, rng), device))
            if digits is not None:
                pick = rng.integers(0, len(digits[1]), size=len(rows))
                images, classes = (torch.as_tensor(a[pick], device=device) for a in digits)
                loss = loss + F.cross_entropy(model.digit_logits(images), classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            stats.examples += len(rows)
        stats.steps += per_epoch
        stats.epoch_losses.append(float(np.mean(losses)))
        if on_epoch is not None:
            on_epoch(epoch, stats.epoch_losses[-1])
    stats.seconds = time.perf_counter() - start
    return stats


@torch.no_grad()
def predict_cells(model: CellTransformer, n: int, draw: Draw, rng: np.random.Generator,
                  batch_size: int = 1024) -> np.ndarray:
    """Predictions (n,) for examples 0..n−1 drawn by ``draw(rows, rng)`` (in order, eval mode)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = [model.predict(to_tensors(draw(np.arange(s, min(s + batch_size, n)), rng), device)).cpu().numpy()
               for s in range(0, n, batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.empty(0, np.int64)
