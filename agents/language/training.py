"""Causal-LM training on a fixed set of sequences: minibatch or full batch, fresh optimiser per call (stage).

The reference (HF Trainer) trains each stage with a fresh optimiser whose learning rate decays linearly to 0
without warm-up, the loss on every token; here AdamW stands in for Adafactor [design: a tiny model from scratch].

    stats = train_causal_lm(model, ids, lengths, epochs=40, batch_size=128, lr=1e-3, generator=g)
    stats.tokens_per_s
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from agents.language.model import sequence_loss


@dataclass
class TrainStats:
    epoch_losses: list[float] = field(default_factory=list)  # mean minibatch loss per epoch
    tokens: int = 0  # real (non-padding) tokens processed, end markers included
    seconds: float = 0.0
    steps: int = 0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def train_causal_lm(model: torch.nn.Module, ids: torch.Tensor, lengths: torch.Tensor, *, epochs: int,
                    batch_size: int, lr: float, weight_decay: float = 0.0, loss_from: torch.Tensor | None = None,
                    generator: torch.Generator | None = None,
                    on_epoch: Callable[[int, float], None] | None = None) -> TrainStats:
    """Train `model` on right-padded `ids` (N, T) with AdamW, lr linear from `lr` to 0 over all steps.

    Each epoch visits the N sequences once in a fresh random order (`generator`), in minibatches of
    `batch_size` (≥ N: full batch, one step per epoch). `loss_from` (N,): first target position counted per
    row (see :func:`~agents.language.model.causal_lm_loss`; None: all tokens). `on_epoch(epoch, mean_loss)` is called after each epoch.
    """
    if epochs < 1 or batch_size < 1 or len(ids) == 0:
        raise ValueError("need epochs >= 1, batch_size >= 1 and at least one sequence")
    device = next(model.parameters()).device
    ids, lengths = ids.to(device), lengths.to(device)
    loss_from = None if loss_from is None else loss_from.to(device)
    batch_size = min(batch_size, len(ids))
    steps_per_epoch = -(-len(ids) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total)
    stats = TrainStats()
    model.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(ids), generator=generator).to(device)
        losses = []
        for b in range(steps_per_epoch):
            rows = order[b * batch_size:(b + 1) * batch_size]
            batch, batch_lengths = ids[rows], lengths[rows]
            width = min(int(batch_lengths.max()) + 1, ids.shape[1])  # trim the block to the batch's longest row
            first = None if loss_from is None else loss_from[rows]
            loss = sequence_loss(model, batch[:, :width], batch_lengths, first)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.detach())
            stats.tokens += int(torch.clamp(batch_lengths + 1, max=width).sum())
        stats.steps += steps_per_epoch
        stats.epoch_losses.append(float(torch.stack(losses).mean()))
        if on_epoch is not None:
            on_epoch(epoch, stats.epoch_losses[-1])
    stats.seconds = time.perf_counter() - start
    return stats
