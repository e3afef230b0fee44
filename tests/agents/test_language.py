"""Language learner parts: word-level tokenizer, tiny causal LM, CLM loss, greedy decoding, exact match, trainer."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import envs  # noqa: F401  (registers recast/*)
from agents.language import (
    ExactMatchEvaluator,
    TextConfig,
    TinyCausalLM,
    WordLevelTokenizer,
    causal_lm_loss,
    exact_match,
    greedy_decode,
    load_pretrained_lm,
    normalize_answer,
    sequence_loss,
    train_causal_lm,
)

VOCAB = ["[PAD]", "[UNK]", "=", "%", "true", "false", "abc", "xyz", "7", "9"]


class BigramModel(torch.nn.Module):
    """A hand-built 'LM': the next token is a fixed function of the current one (logits = table[current])."""

    def __init__(self, successor: dict[int, int], vocab_size: int):
        super().__init__()
        self.table = torch.full((vocab_size, vocab_size), -1.0)
        for current, following in successor.items():
            self.table[current, following] = 1.0

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table[ids]


def test_tokenizer_round_trip_unknown_words_and_padding() -> None:
    tok = WordLevelTokenizer(VOCAB)
    text = "abc % 7 9 = true"
    assert tok.encode(text) == [6, 3, 8, 9, 2, 4] and tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("  abc   =\ttrue ")) == "abc = true"  # whitespace-split, single spaces
    assert tok.encode("abc qqq") == [6, 1] and tok.decode([6, 0, 4]) == "abc"  # [UNK]; decode stops at [PAD]
    ids, lengths = tok.encode_batch(["abc = true", "xyz ="], length=5)
    assert ids.tolist() == [[6, 2, 4, 0, 0], [7, 2, 0, 0, 0]] and lengths.tolist() == [3, 2]
    with pytest.raises(ValueError):
        tok.encode_batch(["abc = true"], length=2)
    with pytest.raises(ValueError):
        WordLevelTokenizer(["[PAD]", "a", "a", "[UNK]"])


@pytest.mark.parametrize("prediction, gold, em", [("true", "true", 1.0), ("The  True.", "true", 1.0),
                                                  ("false", "true", 0.0), ("7", "3;7", 1.0),
                                                  ("true false", "true", 0.0),
                                                  ("", "true", 0.0), ("an apple", "apple", 1.0)])
def test_exact_match_hand_cases(prediction, gold, em) -> None:
    assert exact_match(prediction, gold) == em
    assert normalize_answer("  A, the  B!") == "b"


def test_greedy_decoding_follows_a_hand_built_model_and_stops() -> None:
    model = BigramModel({6: 3, 3: 8, 8: 0, 7: 4, 4: 4, 0: 9}, len(VOCAB))  # abc→%→7→[PAD]; xyz→true→true…
    prompts = torch.tensor([[2, 6], [2, 7]])
    out = greedy_decode(model, prompts, max_new_tokens=4, stop_id=0)
    assert out.tolist() == [[3, 8, 0, 0], [4, 4, 4, 4]]  # after [PAD] the row stays stopped (the model says 9)
    assert greedy_decode(model, prompts, 4).tolist()[0] == [3, 8, 0, 9]  # without a stop id it runs on


def test_evaluator_scores_greedy_answers_grouped_by_length() -> None:
    tok = WordLevelTokenizer(VOCAB)
    model = BigramModel({2: 4, 4: 0, 3: 5, 5: 0}, len(VOCAB))  # "… =" → "true", "… %" → "false"
    pairs = [("abc 7 =", "true"), ("abc %", "false"), ("xyz 9 9 =", "false"), ("abc =", "TRUE"), ("%", "7")]
    evaluator = ExactMatchEvaluator(tok, max_new_tokens=3, batch_size=1)
    assert evaluator.answers(model, [p for p, _ in pairs]) == ["true", "false", "true", "true", "false"]
    assert evaluator(model, pairs).tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]


def test_tiny_lm_is_causal_and_ignores_trailing_padding() -> None:
    torch.manual_seed(0)
    model = TinyCausalLM(TextConfig(vocab_size=10, max_len=8, width=16, depth=2, heads=2)).eval()
    ids = torch.tensor([[6, 3, 8, 9, 2, 4, 0, 0]])
    changed = ids.clone()
    changed[0, 5] = 5
    a, b = model(ids), model(changed)
    assert a.shape == (1, 8, 10)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[:, 5], b[:, 5])
    assert torch.allclose(model(ids[:, :6]), a[:, :6], atol=1e-6)  # trailing [PAD]s change no real position


def test_causal_lm_loss_matches_hand_selected_targets() -> None:
    torch.manual_seed(1)
    ids = torch.tensor([[6, 3, 8, 0, 0], [7, 2, 4, 5, 9]])
    lengths = torch.tensor([3, 5])
    logits = torch.randn(2, 5, 10)
    # row 0 predicts 3, 8 and the end marker [PAD] (positions 1..3); row 1 (block full) predicts 2, 4, 5, 9
    picked = [(0, 0, 3), (0, 1, 8), (0, 2, 0), (1, 0, 2), (1, 1, 4), (1, 2, 5), (1, 3, 9)]
    expected = torch.stack([F.cross_entropy(logits[r, t], torch.tensor(y)) for r, t, y in picked]).mean()
    assert torch.allclose(causal_lm_loss(logits, ids, lengths), expected)
    answers_only = torch.stack([F.cross_entropy(logits[r, t], torch.tensor(y)) for r, t, y in
                                [(0, 1, 8), (0, 2, 0), (1, 3, 9)]]).mean()
    assert torch.allclose(causal_lm_loss(logits, ids, lengths, loss_from=lengths - 1), answers_only)


@pytest.mark.parametrize("answers_only", [False, True])
def test_sequence_loss_computes_the_head_only_where_counted_with_the_same_loss_and_gradients(answers_only) -> None:
    """The masked-head path against the full-logits loss (and BigramModel, which takes no mask, falls back)."""
    torch.manual_seed(2)
    model = TinyCausalLM(TextConfig(vocab_size=10, max_len=6, width=16, depth=2, heads=2))
    ids = torch.tensor([[6, 3, 8, 0, 0, 0], [7, 2, 4, 5, 9, 0], [6, 2, 9, 4, 3, 8]])
    lengths = torch.tensor([3, 5, 6])
    loss_from = lengths - 1 if answers_only else None
    full = causal_lm_loss(model(ids), ids, lengths, loss_from)
    full_grads = torch.autograd.grad(full, list(model.parameters()))
    masked = sequence_loss(model, ids, lengths, loss_from)
    masked_grads = torch.autograd.grad(masked, list(model.parameters()))
    assert torch.allclose(masked, full, atol=1e-6, rtol=0)
    for a, b in zip(masked_grads, full_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)
    bigram = BigramModel({6: 3, 3: 8, 7: 2}, 10)
    assert torch.equal(sequence_loss(bigram, ids, lengths, loss_from), causal_lm_loss(bigram(ids), ids, lengths,
                                                                                     loss_from))


def test_trainer_memorises_definitions_and_batch_size_sets_steps() -> None:
    tok = WordLevelTokenizer(VOCAB)
    texts = ["abc % 7", "xyz % 9"]
    ids, lengths = tok.encode_batch(texts, length=4)
    torch.manual_seed(0)
    model = TinyCausalLM(TextConfig(vocab_size=len(tok), max_len=4, width=32, depth=1, heads=2))
    stats = train_causal_lm(model, ids, lengths, epochs=60, batch_size=64, lr=1e-2,
                            generator=torch.Generator().manual_seed(0))
    assert stats.steps == 60 and stats.tokens == 60 * 8 and stats.epoch_losses[-1] < 0.05 * stats.epoch_losses[0]
    em = ExactMatchEvaluator(tok, max_new_tokens=2)(model, [("abc %", "7"), ("xyz %", "9")])
    assert em.tolist() == [1.0, 1.0]
    minibatch = train_causal_lm(model, ids, lengths, epochs=3, batch_size=1, lr=1e-3)
    assert minibatch.steps == 6 and minibatch.tokens_per_s > 0


def test_env_episode_exact_match_equals_the_batched_evaluator() -> None:
    env = gymnasium.make("recast/SetInclusionQA-v0", subset="q", num_x=60, curriculum_seed=2).unwrapped
    tok = WordLevelTokenizer(env.curriculum.vocabulary)
    torch.manual_seed(3)
    model = TinyCausalLM(TextConfig(vocab_size=len(tok), max_len=14, width=16, depth=1, heads=2))
    batched = ExactMatchEvaluator(tok, max_new_tokens=2)(model, env.curriculum.eval["q"])
    obs, _ = env.reset(seed=0)
    rewards, done = [], False
    while not done:
        prompt = torch.as_tensor(obs[obs != env.pad_id])[None]
        obs, reward, done, _, _ = env.step(greedy_decode(model.eval(), prompt, 2, tok.stop_id)[0].numpy())
        rewards.append(reward)
    assert len(rewards) == len(batched) and np.mean(rewards) == pytest.approx(batched.mean())


def test_pretrained_adapter_refuses_a_missing_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_pretrained_lm(tmp_path / "nope")


def test_pretrained_adapter_with_a_tiny_random_model(tmp_path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    words = {w: i for i, w in enumerate(["<eos>", "[UNK]", *VOCAB[2:]])}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(words, unk_token="[UNK]"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    backend.decoder = tokenizers.decoders.WordPiece(prefix="##")
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", unk_token="[UNK]")
    config = transformers.GPT2Config(vocab_size=len(words), n_positions=16, n_embd=16, n_layer=1, n_head=2,
                                      eos_token_id=0, bos_token_id=0,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    hf_tok.save_pretrained(tmp_path)
    model, tok = load_pretrained_lm(tmp_path)
    assert tok.encode("abc % 7") == [6, 3, 8] and tok.decode([6, 3, 8, 0, 4]) == "abc % 7"
    ids, lengths = tok.encode_batch(["abc % 7", "xyz % 9"], length=4)  # room for the end marker (EOS)
    stats = train_causal_lm(model, ids, lengths, epochs=80, batch_size=2, lr=1e-2)
    assert stats.epoch_losses[-1] < 0.1 * stats.epoch_losses[0]
    assert ExactMatchEvaluator(tok, max_new_tokens=2)(model, [("abc %", "7"), ("xyz %", "9")]).tolist() == [1, 1]
