"""Llip's head against ground truth: K = 1 is the plain dual encoder, a per-pair reference, hand-computed losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from agents.contrastive import (
    ClipLoss,
    Features,
    LlipDualEncoder,
    LlipLoss,
    SigLipLoss,
    TextQueriedCrossAttention,
    attention_entropy,
    make_head,
)
from agents.perception import TextConfig, TextEncoder, ViT, ViTConfig

TOKENS = torch.tensor([[2, 4, 8], [3, 6, 10], [9, 0, 0], [5, 11, 0]])  # 4 captions, some padded


def model(k: int, heads: int = 1, temperature: float = 1.0, uniform: bool = False, chunk: int | None = None,
          seed: int = 0) -> LlipDualEncoder:
    torch.manual_seed(seed)
    vit = ViT(ViTConfig(image_size=16, patch_size=8, width=16, depth=1, heads=2, n_extra_tokens=k))
    text = TextEncoder(TextConfig(width=16, depth=1, heads=2, max_len=3))
    return LlipDualEncoder(vit, text, embed_dim=8, heads=heads, temperature=temperature, uniform=uniform, chunk=chunk)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_k1_is_exactly_the_single_vector_dual_encoder() -> None:
    m = model(k=1, heads=2)
    f = m(images(), TOKENS)
    h1 = m.vision(images()).extra[:, 0]  # the one mixture token, a [CLS]-like token
    w_v, w_o = m.cross_attention.value.weight, m.cross_attention.out.weight
    single = F.normalize(h1 @ w_v.T @ w_o.T, dim=-1)  # z_x = W_o W_v h_1(x), independent of the caption
    torch.testing.assert_close(f.image, single, rtol=0, atol=1e-6)
    torch.testing.assert_close(f.scores, single @ f.text.T, rtol=0, atol=1e-6)
    assert torch.equal(f.attention, torch.ones_like(f.attention))
    plain = Features(f.patches, single, f.tokens, f.text, f.token_mask)
    for llip, single in ((LlipLoss("infonce"), ClipLoss()), (LlipLoss("sigmoid"), SigLipLoss())):
        assert float(llip(f).loss.detach()) == pytest.approx(float(single(plain).loss.detach()), abs=1e-5)


def test_batched_scores_match_a_per_pair_reference() -> None:
    m = model(k=5, heads=2, temperature=0.7)
    ca = m.cross_attention
    with torch.no_grad():
        tokens = m.vision(images(3)).extra  # (N, K, W)
        _, text, _ = m.encode_text(TOKENS)
        scores, alpha = m.scores(ca.image_state(tokens), text)
        for i in range(3):
            for j in range(4):
                heads = []
                for h in range(2):
                    rows = slice(4 * h, 4 * h + 4)  # head h's slice of the 8-dim projections
                    q = ca.query.weight[rows] @ text[j]
                    keys, values = tokens[i] @ ca.key.weight[rows].T, tokens[i] @ ca.value.weight[rows].T
                    a = torch.softmax(keys @ q / 0.7, dim=0)
                    torch.testing.assert_close(alpha[i, j, h], a, rtol=0, atol=1e-6)
                    heads.append(a @ values)
                z = ca.out.weight @ torch.cat(heads)
                assert float(scores[i, j]) == pytest.approx(float(F.cosine_similarity(z, text[j], dim=0)), abs=1e-6)


def test_score_shapes_attention_sums_and_chunking() -> None:
    m = model(k=4, heads=2)
    with torch.no_grad():
        _, state = m.encode_mixture(images(3))
        _, text, _ = m.encode_text(TOKENS)
        scores, alpha = m.scores(state, text)  # 3 images x 4 captions
        assert scores.shape == (3, 4) and alpha.shape == (3, 4, 2, 4)
        torch.testing.assert_close(alpha.sum(-1), torch.ones(3, 4, 2))
        chunked, chunked_alpha = m.cross_attention.scores(state, text, chunk=3)
        torch.testing.assert_close(chunked, scores, rtol=0, atol=1e-6)
        torch.testing.assert_close(chunked_alpha, alpha, rtol=0, atol=1e-6)
    f = m(images(), TOKENS)
    assert f.scores.shape == (4, 4) and f.attention.shape == (4, 4, 2, 4)
    assert (f.scores.abs() <= 1 + 1e-6).all()


def test_captions_condition_the_image_and_uniform_attention_removes_it() -> None:
    m = model(k=6)
    with torch.no_grad():
        _, state = m.encode_mixture(images(2))
        _, text, _ = m.encode_text(TOKENS)
        z, _ = m.cross_attention.mix(state, text)
        assert (z[:, 0] - z[:, 1]).abs().max() > 1e-4  # two captions, two different views of the same image
    u = model(k=6, uniform=True)
    f = u(images(), TOKENS)
    torch.testing.assert_close(f.attention, torch.full_like(f.attention, 1 / 6))
    torch.testing.assert_close(f.scores, f.image @ f.text.T, rtol=0, atol=1e-6)  # caption-independent embedding


def test_attention_temperature_limits() -> None:
    with torch.no_grad():
        state_text = []
        for tau in (1e-4, 1e4):
            m = model(k=5, temperature=tau)
            _, state = m.encode_mixture(images(2))
            _, text, _ = m.encode_text(TOKENS)
            state_text.append(m.cross_attention.attention(state, text))
    sharp, flat = state_text
    torch.testing.assert_close(sharp.amax(-1), torch.ones(sharp.shape[:-1]), rtol=0, atol=1e-3)  # one token
    torch.testing.assert_close(flat, torch.full_like(flat, 0.2), rtol=0, atol=1e-3)  # uniform
    entropy = attention_entropy(torch.stack([torch.tensor([1.0, 0, 0, 0]), torch.full((4,), 0.25)]))
    torch.testing.assert_close(entropy, torch.tensor([0.0, 1.0]))


def _features(scores: torch.Tensor):
    m = model(k=2)
    f = m(images(2), TOKENS[:2])
    f.scores, f.attention = scores, torch.full((2, 2, 1, 2), 0.5)
    return f


def test_sigmoid_loss_on_hand_made_scores() -> None:
    s = [[0.9, -0.2], [0.1, 0.5]]
    t, b = 10.0, -10.0  # SigLIP's initialisation
    log_sigmoid = lambda x: -math.log1p(math.exp(-x))  # noqa: E731
    expected = -sum(log_sigmoid((1 if i == j else -1) * (t * s[i][j] + b)) for i in range(2) for j in range(2)) / 2
    out = LlipLoss("sigmoid")(_features(torch.tensor(s)))
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-6)
    assert out.logs["attention_entropy"] == pytest.approx(1.0)


def test_infonce_loss_on_hand_made_scores() -> None:
    s = [[0.9, -0.2], [0.1, 0.5]]
    scale = 1 / 0.07  # CLIP's initial inverse temperature

    def ce(row: list[float], target: int) -> float:
        return -scale * row[target] + math.log(sum(math.exp(scale * v) for v in row))

    columns = [[s[0][j], s[1][j]] for j in range(2)]
    expected = 0.5 * (sum(ce(s[i], i) for i in range(2)) / 2 + sum(ce(columns[j], j) for j in range(2)) / 2)
    out = LlipLoss("infonce")(_features(torch.tensor(s)))
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_gradients_reach_mixture_tokens_and_bad_input_is_refused() -> None:
    m = model(k=3, heads=2)
    head = make_head("llip", objective="sigmoid")
    head(m(images(), TOKENS)).loss.backward()
    assert m.vision.extra.grad is not None and m.vision.extra.grad.abs().sum() > 0
    assert all(p.grad is not None for p in m.cross_attention.parameters())
    with pytest.raises(ValueError, match="mixture tokens"):
        LlipDualEncoder(ViT(ViTConfig(width=16, heads=2)), TextEncoder(TextConfig(width=16, heads=2)), 8)
    with pytest.raises(ValueError, match="objective"):
        LlipLoss("hinge")
    with pytest.raises(ValueError, match="divisible"):
        TextQueriedCrossAttention(16, 8, heads=3)
    f = m(images(), TOKENS)
    with pytest.raises(TypeError, match="LlipFeatures"):
        LlipLoss()(Features(f.patches, f.image, f.tokens, f.text, f.token_mask))
