"""Greedy decoding and the exact-match evaluator (reference ``src/metrics.py`` and ``src/callbacks.py``).

EM = 1 if the normalised greedy answer equals a normalised gold answer (SQuAD normalisation: lower-case, strip
punctuation and the articles a/an/the, collapse whitespace; max over ``;``-separated golds), else 0. The answer
is the generated text before the first end token (``[PAD]``), as in the reference's numeric evaluation.

    evaluator = ExactMatchEvaluator(tokenizer, max_new_tokens=2)
    em = evaluator(model, [("abc % 3 7 =", "true"), ...])      # array of 0/1, one per question
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


class NextTokenModel(Protocol):
    """Anything that maps ids (B, T) to next-token logits (B, T, V): :class:`TinyCausalLM`, the HF adapter."""

    def __call__(self, ids: torch.Tensor) -> torch.Tensor: ...


class Tokenizer(Protocol):
    stop_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str: ...


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, drop punctuation and articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 if the normalised prediction equals any normalised ``;``-separated gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in gold.split(";")))


@torch.no_grad()
def greedy_decode(model: NextTokenModel, prompts: torch.Tensor, max_new_tokens: int,
                  stop_id: int | None = None) -> torch.Tensor:
    """Append argmax tokens to equal-length prompts (B, P) for `max_new_tokens` steps; returns (B, max_new_tokens).

    Rows that emitted `stop_id` keep emitting it, so everything after a row's first stop token is `stop_id`.
    """
    ids, new = prompts, []
    done = torch.zeros(len(prompts), dtype=torch.bool, device=prompts.device)
    for _ in range(max_new_tokens):
        token = model(ids)[:, -1].argmax(dim=-1)
        if stop_id is not None:
            token = torch.where(done, torch.full_like(token, stop_id), token)
            done |= token == stop_id
        new.append(token)
        ids = torch.cat([ids, token[:, None]], dim=1)
    return torch.stack(new, dim=1) if new else prompts[:, :0]


class ExactMatchEvaluator:
    """Greedy answers to (prompt, gold) pairs, batched by prompt length; returns EM per pair."""

    def __init__(self, tokenizer: Tokenizer, max_new_tokens: int = 4, batch_size: int = 1024, device: str = "cpu"):
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be >= 1")
        self.tokenizer, self.max_new_tokens = tokenizer, max_new_tokens
        self.batch_size, self.device = batch_size, device

    def answers(self, model: NextTokenModel, prompts: Sequence[str]) -> list[str]:
        """The greedy answer (text before the first stop token) to every prompt."""
        encoded = [self.tokenizer.encode(p) for p in prompts]
        out: list[str] = [""] * len(prompts)
        by_length: dict[int, list[int]] = {}
        for i, ids in enumerate(encoded):
            by_length.setdefault(len(ids), []).append(i)
        was_training = getattr(model, "training", False)
        if hasattr(model, "eval"):
            model.eval()
        try:
            for rows in by_length.values():
                for start in range(0, len(rows), self.batch_size):
                    chunk = rows[start:start + self.batch_size]
                    batch = torch.tensor([encoded[i] for i in chunk], dtype=torch.long, device=self.device)
                    generated = greedy_decode(model, batch, self.max_new_tokens, self.tokenizer.stop_id).cpu()
                    for i, ids in zip(chunk, generated):
                        out[i] = self.tokenizer.decode(ids)
        finally:
            if was_training:
                model.train()
        return out

    def __call__(self, model: NextTokenModel, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        predictions = self.answers(model, [p for p, _ in pairs])
        return np.array([exact_match(pred, gold) for pred, (_, gold) in zip(predictions, pairs)], dtype=float)
