"""A word-level tokenizer: whitespace split, one id per word of a fixed vocabulary (reference:
``WordLevel`` + ``WhitespaceSplit`` in ``src/lm_training_utils.py``; no BOS/EOS, ``[PAD]`` ends a sequence).

    tok = WordLevelTokenizer(["[PAD]", "[UNK]", "=", "true", "false", "abc"])
    ids, lengths = tok.encode_batch(["abc = true", "abc ="])   # (2, 3) LongTensor padded with [PAD]
    tok.decode(ids[1])                                        # "abc ="
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class WordLevelTokenizer:
    """Maps whitespace-separated words to ids; unknown words → ``[UNK]``; ``[PAD]`` pads and marks the end."""

    def __init__(self, vocabulary: Sequence[str], pad: str = "[PAD]", unk: str = "[UNK]"):
        words = list(vocabulary)
        if len(set(words)) != len(words):
            raise ValueError("vocabulary has duplicate words")
        if pad not in words or unk not in words:
            raise ValueError(f"vocabulary must contain {pad!r} and {unk!r}")
        if any(not w or any(c.isspace() for c in w) for w in words):
            raise ValueError("vocabulary words must be non-empty and contain no whitespace")
        self.words = words
        self.ids = {w: i for i, w in enumerate(words)}
        self.pad_id, self.unk_id = self.ids[pad], self.ids[unk]
        self.stop_id = self.pad_id  # greedy decoding stops at the first [PAD]

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(w, self.unk_id) for w in text.split()]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Words up to (not including) the first ``[PAD]``, joined by single spaces."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if self.pad_id in ids:
            ids = ids[: ids.index(self.pad_id)]
        return " ".join(self.words[i] for i in ids)

    def encode_batch(self, texts: Sequence[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (N, L) right-padded with ``[PAD]``, lengths (N,)); L = `length` or the longest text."""
        return pad_rows([self.encode(t) for t in texts], self.pad_id, length)


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int,
             length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into (N, L) with `pad_id`; returns (ids, lengths). L = `length` or the longest row."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    longest = int(lengths.max()) if len(rows) else 0
    width = longest if length is None else length
    if longest > width:
        raise ValueError(f"a text has {longest} tokens, more than length={width}")
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return ids, lengths
