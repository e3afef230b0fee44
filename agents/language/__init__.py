"""Language-model learners and their parts (meta-(out-of-context) learning, Krasheninnikov et al.).

- ``tokenizer``: :class:`WordLevelTokenizer` (the reference's word-level vocabulary, ``[PAD]`` ends sequences).
- ``model``: :class:`TinyCausalLM` — a causal transformer on the shared text encoder's blocks; the CLM loss.
- ``decoding``: greedy decoding, SQuAD normalisation, :class:`ExactMatchEvaluator`.
- ``training``: :func:`train_causal_lm` — minibatch or full-batch AdamW, linear decay, one stage per call.
- ``pretrained``: :func:`load_pretrained_lm` — a local Hugging Face causal LM by path (``transformers`` lazily).
"""

from agents.language.decoding import ExactMatchEvaluator, exact_match, greedy_decode, normalize_answer
from agents.language.model import TinyCausalLM, causal_lm_loss, sequence_loss
from agents.language.pretrained import PretrainedCausalLM, PretrainedTokenizer, load_pretrained_lm
from agents.language.tokenizer import WordLevelTokenizer
from agents.language.training import TrainStats, train_causal_lm
from agents.perception.text import TextConfig

__all__ = ["ExactMatchEvaluator", "PretrainedCausalLM", "PretrainedTokenizer", "TextConfig", "TinyCausalLM",
           "TrainStats", "WordLevelTokenizer", "causal_lm_loss", "exact_match", "greedy_decode",
           "load_pretrained_lm", "normalize_answer", "sequence_loss", "train_causal_lm"]
