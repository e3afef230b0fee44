"""DART parts: KV-cached decoding equals the full forward, tokenizer, world-model loss, imagination, λ-returns."""

from __future__ import annotations

import math

import pytest
import torch

from agents.perception.vit import Block, KVCache
from agents.world_models import (FramePolicy, GPTWorldModel, TokenizerConfig, TokenPolicy, VQTokenizer,
                                 WorldModelConfig, actor_critic_loss, imagine, lambda_returns)
from agents.world_models.tokenizer import codebook_usage, reconstruction_error


@pytest.mark.parametrize("capacity", [None, 32])
def test_block_kv_cache_equals_the_uncached_causal_forward(capacity) -> None:
    torch.manual_seed(0)
    block, x = Block(16, 4).eval(), torch.randn(3, 11, 16)
    full = block(x, causal=True)
    cache = KVCache(capacity)
    chunks = [block(x[:, a:b], causal=True, cache=cache) for a, b in [(0, 4), (4, 5), (5, 9), (9, 11)]]
    torch.testing.assert_close(torch.cat(chunks, 1), full)
    assert len(cache) == 11
    with pytest.raises(ValueError):
        block(x, cache=KVCache())  # a cache only makes sense for causal attention


def small_wm(k: int = 4, vocab: int = 12, max_blocks: int = 6) -> GPTWorldModel:
    return GPTWorldModel(WorldModelConfig(vocab_size=vocab, n_actions=3, tokens_per_frame=k, width=32, depth=2,
                                          heads=4, max_blocks=max_blocks, dropout=0.0))


def test_world_model_incremental_decoding_equals_full_sequence() -> None:
    torch.manual_seed(0)
    wm = small_wm().eval()
    obs, act = torch.randint(0, 12, (2, 5, 4)), torch.randint(0, 3, (2, 5))
    seq = wm.embed_sequence(obs, act)
    with torch.no_grad():
        full = wm.transformer(seq)
        caches = wm.new_caches()
        parts = [wm.transformer(seq[:, :5], caches), wm.transformer(seq[:, 5:7], caches)]
        parts += [wm.transformer(seq[:, i:i + 1], caches) for i in range(7, 25)]
    torch.testing.assert_close(torch.cat(parts, 1), full)


def test_world_model_loss_falls_on_a_tiny_dataset() -> None:
    """A deterministic toy world: next frame = current tokens + action (mod vocab), reward = sign of action − 1."""
    torch.manual_seed(0)
    wm = small_wm()
    obs = torch.zeros(8, 5, 4, dtype=torch.long)
    obs[:, 0] = torch.randint(0, 12, (8, 4))
    act = torch.randint(0, 3, (8, 5))
    for t in range(1, 5):
        obs[:, t] = (obs[:, t - 1] + act[:, t - 1, None]) % 12
    rew, done, valid = (act - 1).float(), torch.zeros(8, 5), torch.ones(8, 5, dtype=torch.bool)
    opt = torch.optim.Adam(wm.parameters(), lr=3e-3)
    first = wm.loss(obs, act, rew, done, valid)[1]
    for _ in range(150):
        loss, parts = wm.loss(obs, act, rew, done, valid)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first["obs_ce"] == pytest.approx(math.log(12), rel=0.15)  # untrained ≈ uniform over the vocabulary
    assert parts["obs_ce"] < 0.5 * first["obs_ce"] and parts["reward_ce"] < 0.2 and parts["done_ce"] < 0.05


def test_world_model_padding_does_not_enter_the_loss() -> None:
    torch.manual_seed(0)
    wm = small_wm().eval()
    obs, act = torch.randint(0, 12, (2, 4, 4)), torch.randint(0, 3, (2, 4))
    rew, done = torch.zeros(2, 4), torch.zeros(2, 4)
    valid = torch.tensor([[True, True, False, False]] * 2)
    a = wm.loss(obs, act, rew, done, valid)[0]
    obs2, rew2 = obs.clone(), rew.clone()
    obs2[:, 2:], rew2[:, 2:] = 0, 1.0  # change only the padded steps
    torch.testing.assert_close(wm.loss(obs2, act, rew2, done, valid)[0], a)


def test_tokenizer_round_trip_shapes_and_codebook_usage() -> None:
    torch.manual_seed(0)
    tok = VQTokenizer(TokenizerConfig(channels=8, n_down=4, codebook_size=16, embed_dim=8))
    x = torch.rand(5, 3, 64, 64)
    tokens = tok.tokenize(x)
    assert tokens.shape == (5, 16) and tokens.dtype == torch.long and int(tokens.max()) < 16
    assert tok.decode(tokens).shape == (5, 3, 64, 64)
    fraction, perplexity = codebook_usage(torch.tensor([0, 0, 1, 3]), 4)  # p = (1/2, 1/4, 0, 1/4)
    assert fraction == 0.75 and perplexity == pytest.approx(2**1.5)


def test_tokenizer_learns_to_reconstruct_distinct_sparse_frames() -> None:
    """Four mostly black frames (MinAtar-like): the all-black guess has squared error 1/48; the VQ-VAE beats it 20×."""
    torch.manual_seed(0)
    tok = VQTokenizer(TokenizerConfig(image_size=16, channels=16, n_down=2, codebook_size=16, embed_dim=8))
    x = torch.zeros(4, 3, 16, 16)
    for i in range(4):  # a 4 × 4 square on a different diagonal cell and channel per frame
        x[i, i % 3, 4 * i:4 * i + 4, 4 * i:4 * i + 4] = 1.0
    black = float(x.pow(2).mean())
    opt = torch.optim.Adam(tok.parameters(), lr=3e-3)
    for _ in range(150):
        loss, parts, tokens = tok.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tokens = tok.tokenize(x)
    assert reconstruction_error(tok, x) < black / 20
    assert len({tuple(t.tolist()) for t in tokens}) == 4  # four frames, four token sequences
    assert codebook_usage(tokens, 16)[0] >= 2 / 16  # at least background + one square code in use


def test_lambda_return_by_hand() -> None:
    r, v = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.5, 1.0]])  # V_2 = 1 bootstraps
    # Λ_1 = 2 + 0.9[(0.5)(1) + (0.5)(1)] = 2.9;  Λ_0 = 1 + 0.9[(0.5)(0.5) + (0.5)(2.9)] = 2.53
    torch.testing.assert_close(lambda_returns(r, v, torch.zeros(1, 2), 0.9, 0.5), torch.tensor([[2.53, 2.9]]))
    torch.testing.assert_close(lambda_returns(r, v, torch.tensor([[1.0, 0.0]]), 0.9, 0.5)[:, 0], torch.tensor([1.0]))
    # λ = 1: discounted Monte Carlo return plus γ^H V_H;  λ = 0: one-step TD targets
    torch.testing.assert_close(lambda_returns(r, v, torch.zeros(1, 2), 0.9, 1.0)[:, 0],
                               torch.tensor([1 + 0.9 * 2 + 0.81 * 1.0]))
    torch.testing.assert_close(lambda_returns(r, v, torch.zeros(1, 2), 0.9, 0.0), torch.tensor([[1.45, 2.9]]))


def test_token_policy_without_positions_ignores_token_order() -> None:
    torch.manual_seed(0)
    tokens, perm = torch.randint(0, 12, (3, 4)), torch.tensor([2, 0, 3, 1])
    plain = TokenPolicy(12, 4, 3, width=16, depth=1, heads=2, positional=False).eval()
    mem = plain.initial_state(3)
    torch.testing.assert_close(plain(tokens, mem)[0], plain(tokens[:, perm], mem)[0])
    positional = TokenPolicy(12, 4, 3, width=16, depth=1, heads=2).eval()
    assert not torch.allclose(positional(tokens, mem)[0], positional(tokens[:, perm], mem)[0])
    masked = TokenPolicy(12, 4, 3, width=16, depth=1, heads=2, mask_fraction=0.5)
    mask = masked._key_mask(3, torch.device("cpu"))
    assert mask.shape == (3, 6) and mask[:, 0].all() and mask[:, -1].all() and (mask[:, 1:-1].sum(1) == 2).all()


@pytest.mark.parametrize("kind", ["token", "frame"])
def test_imagination_rollout_shapes_and_loss_gradients(kind) -> None:
    torch.manual_seed(0)
    wm = small_wm(k=16, max_blocks=4).eval()
    tok = VQTokenizer(TokenizerConfig(channels=4, n_down=4, codebook_size=12, embed_dim=4))
    policy = (TokenPolicy(12, 16, 3, width=16, depth=1, heads=2) if kind == "token"
              else FramePolicy(tok, 3, channels=(4, 4, 4, 4), hidden=8))
    start = torch.randint(0, 12, (5, 16))
    traj = imagine(wm, policy, start, policy.initial_state(5), horizon=3)
    assert traj.tokens.shape == (5, 4, 16) and torch.equal(traj.tokens[:, 0], start)
    assert traj.values.shape == (5, 4) and traj.actions.shape == traj.rewards.shape == traj.dones.shape == (5, 3)
    assert set(traj.rewards.unique().tolist()) <= {-1.0, 0.0, 1.0} and set(traj.dones.unique().tolist()) <= {0, 1}
    loss, _ = actor_critic_loss(traj, 0.99, 0.95, 0.001)
    loss.backward()
    assert policy.actor.weight.grad is not None and all(p.grad is None for p in wm.parameters())
    with pytest.raises(ValueError, match="exceeds"):  # 1 + 4 frames do not fit max_blocks = 4
        imagine(wm, policy, start, policy.initial_state(5), horizon=4)
