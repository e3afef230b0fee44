"""An adapter for a local pretrained causal LM (Hugging Face format) given by a path — nothing is downloaded.

``transformers`` is imported only when the adapter is used (it is not a dependency of the project):

    model, tokenizer = load_pretrained_lm("/models/pythia-70m")      # a directory saved by save_pretrained
    logits = model(ids)                                             # (B, T, V), like TinyCausalLM
    ids, lengths = tokenizer.encode_batch(texts)                    # padded with EOS (Pythia's pad = EOS)

Both follow the interfaces of :class:`TinyCausalLM` / :class:`WordLevelTokenizer`, so the trainer, greedy
decoding and the exact-match evaluator work unchanged (the reference fine-tunes Pythia with labels = input_ids).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from agents.language.tokenizer import pad_rows


def _transformers() -> Any:
    try:
        return importlib.import_module("transformers")
    except ModuleNotFoundError:
        raise ImportError("a pretrained LM needs the 'transformers' package: pip install transformers") from None


class PretrainedCausalLM(nn.Module):
    """ids (B, T) → next-token logits (B, T, V) from a wrapped ``AutoModelForCausalLM``."""

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf_model = hf_model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.hf_model(input_ids=ids).logits


class PretrainedTokenizer:
    """A Hugging Face tokenizer behind the word-level tokenizer's interface; EOS ends (and pads) a sequence."""

    def __init__(self, hf_tokenizer: Any):
        if hf_tokenizer.eos_token_id is None:
            raise ValueError("the pretrained tokenizer has no EOS token to end and pad sequences")
        self.hf = hf_tokenizer
        self.pad_id = self.stop_id = int(hf_tokenizer.eos_token_id)

    def __len__(self) -> int:
        return len(self.hf)

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if self.stop_id in ids:
            ids = ids[: ids.index(self.stop_id)]
        return self.hf.decode(ids).strip()

    def encode_batch(self, texts: Sequence[str], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (N, L) right-padded with EOS, lengths (N,))."""
        return pad_rows([self.encode(t) for t in texts], self.pad_id, length)


def load_pretrained_lm(path: str | Path, device: str = "cpu") -> tuple[PretrainedCausalLM, PretrainedTokenizer]:
    """The model and tokenizer saved under `path` (``local_files_only``: a missing path is an error, not a download)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no pretrained causal LM at {path} (expected a save_pretrained directory with "
                                "config.json; models are never downloaded)")
    tf = _transformers()
    hf_model = tf.AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(device)
    hf_tokenizer = tf.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return PretrainedCausalLM(hf_model), PretrainedTokenizer(hf_tokenizer)
