"""CLIP, SigLIP and SPARC heads: hand-made similarity matrices and closed-form losses on aligned embeddings."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from agents.contrastive import (
    ClipLoss,
    DualEncoder,
    Features,
    SigLipLoss,
    SparcLoss,
    alignment_weights,
    fine_grained_loss,
    fine_grained_token_losses,
    grouped_embeddings,
    info_nce,
    make_head,
    minmax_normalise,
    sigmoid_loss,
)
from agents.perception import TextConfig, TextEncoder, ViT, ViTConfig

EPS = 1e-6



def test_minmax_normalise() -> None:
    torch.testing.assert_close(minmax_normalise(torch.tensor([[1.0, 3.0, 2.0]])), torch.tensor([[0.0, 1.0, 0.5]]),
                               atol=1e-5, rtol=0)


def test_sparse_alignment_weights_on_hand_made_matrix() -> None:
    sim = torch.tensor([
        [0.0, 2.0, 3.0, 4.0],   # ŝ = [0, .5, .75, 1]: all but the minimum survive σ = 1/4
        [0.0, 0.2, 1.0, 0.3],   # ŝ = [0, .2, 1, .3]: 0.2 < 1/4 is dropped
        [3.0, 0.0, 0.0, 0.0],   # one winner
        [5.0, 5.0, 5.0, 5.0],   # constant row: uniform (no NaN)
    ])
    expected = torch.tensor([
        [0.0, 0.5, 0.75, 1.0],
        [0.0, 0.0, 1.0, 0.3],
        [1.0, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],
    ])
    expected = expected / expected.sum(1, keepdim=True)
    torch.testing.assert_close(alignment_weights(sim), expected, atol=1e-5, rtol=0)
    dense = torch.tensor([[0.0, 0.2, 1.0, 0.3]]) / 1.5  # σ = 0 keeps 0.2 too
    torch.testing.assert_close(alignment_weights(sim[1:2], threshold=0.0), dense, atol=1e-5, rtol=0)
    torch.testing.assert_close(alignment_weights(sim, weighting="softmax"), sim.softmax(-1))
    with pytest.raises(ValueError, match="weighting"):
        alignment_weights(sim, weighting="hardmax")


def test_alignment_weights_invariants_on_random_matrices() -> None:
    torch.manual_seed(0)
    sim = torch.randn(8, 11, 36)
    a = alignment_weights(sim)
    assert torch.isfinite(a).all() and (a >= 0).all()
    torch.testing.assert_close(a.sum(-1), torch.ones(8, 11))
    assert (a.gather(-1, sim.argmax(-1, keepdim=True)) > 0).all()  # the arg-max patch is always kept
    s_hat = minmax_normalise(sim)
    assert ((a > 0) == (s_hat >= 1 / 36)).all()  # exactly the patches at or above σ = 1/P


def test_info_nce_on_perfectly_aligned_embeddings() -> None:
    b, s = 5, 7.0
    emb = torch.eye(b)
    expected = math.log(1 + (b - 1) * math.exp(-s))
    assert float(info_nce(s * emb @ emb.T)) == pytest.approx(expected, rel=1e-4)
    head = ClipLoss(init_temperature=1 / s)
    f = Features(torch.zeros(b, 1, b), emb, torch.zeros(b, 1, b), emb, torch.ones(b, 1, dtype=torch.bool))
    assert float(head(f).loss.detach()) == pytest.approx(expected, rel=1e-4)


def test_sigmoid_loss_on_perfectly_aligned_embeddings() -> None:
    b, t, bias = 4, 10.0, -3.0
    emb = torch.eye(b)
    expected = math.log1p(math.exp(-(t + bias))) + (b - 1) * math.log1p(math.exp(bias))
    assert float(sigmoid_loss(t * emb @ emb.T + bias)) == pytest.approx(expected, rel=1e-4)
    head = SigLipLoss(init_scale=t, init_bias=bias)
    f = Features(torch.zeros(b, 1, b), emb, torch.zeros(b, 1, b), emb, torch.ones(b, 1, dtype=torch.bool))
    assert float(head(f).loss.detach()) == pytest.approx(expected, rel=1e-4)


def _aligned(n_real: int, n_tokens: int = 4, n_patches: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Patches e_1..e_P; token l = e_l for real tokens, padding tokens with an arbitrary embedding."""
    patches = torch.eye(n_patches)[None]
    tokens = torch.zeros(1, n_tokens, n_patches)
    tokens[0, :n_real] = torch.eye(n_patches)[:n_real]
    tokens[0, n_real:] = torch.randn(n_tokens - n_real, n_patches)
    mask = (torch.arange(n_tokens) < n_real)[None]
    return patches, tokens, mask


def test_fine_grained_loss_on_perfectly_aligned_tokens() -> None:
    torch.manual_seed(0)
    s = 5.0
    patches, tokens, mask = _aligned(n_real=3)
    a = alignment_weights(torch.einsum("ble,bpe->blp", tokens, patches))
    torch.testing.assert_close(a[0, :3], torch.eye(5)[:3], atol=1e-5, rtol=0)  # each token picks its own patch
    grouped = grouped_embeddings(a, patches)
    torch.testing.assert_close(grouped[0, :3], tokens[0, :3], atol=1e-5, rtol=0)
    per_token = math.log(1 + 2 * math.exp(-s))  # 3 real tokens: the padded key is never a negative
    vl, lv = fine_grained_token_losses(grouped, tokens, mask, s)
    torch.testing.assert_close(vl[0], torch.tensor([per_token] * 3 + [0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(lv[0], torch.tensor([per_token] * 3 + [0.0]), atol=1e-5, rtol=0)
    assert float(fine_grained_loss(grouped, tokens, mask, s)) == pytest.approx(per_token, rel=1e-4)


def test_padded_tokens_get_no_loss_and_no_gradient() -> None:
    torch.manual_seed(0)
    patches, tokens, mask = _aligned(n_real=2)
    tokens.requires_grad_(True)
    grouped = grouped_embeddings(alignment_weights(torch.einsum("ble,bpe->blp", tokens, patches)), patches)
    loss = fine_grained_loss(grouped, tokens, mask, 3.0)
    loss.backward()
    assert torch.isfinite(tokens.grad).all() and tokens.grad[0, 2:].abs().max() == 0
    other = tokens.detach().clone()
    other[0, 2:] = torch.randn(2, 5)
    grouped2 = grouped_embeddings(alignment_weights(torch.einsum("ble,bpe->blp", other, patches)), patches)
    assert float(fine_grained_loss(grouped2, other, mask, 3.0)) == pytest.approx(float(loss.detach()), rel=1e-4)


def test_token_mean_listing_vs_eq6() -> None:
    s = 2.0
    p2, t2, m2 = _aligned(n_real=2)
    p3, t3, m3 = _aligned(n_real=3)
    patches, tokens, mask = torch.cat([p2, p3]), torch.cat([t2, t3]), torch.cat([m2, m3])
    grouped = grouped_embeddings(alignment_weights(torch.einsum("ble,bpe->blp", tokens, patches)), patches)
    c2, c3 = math.log(1 + math.exp(-s)), math.log(1 + 2 * math.exp(-s))
    listing = float(fine_grained_loss(grouped, tokens, mask, s, "listing"))
    assert listing == pytest.approx((2 * c2 + 3 * c3) / 5, rel=1e-4)
    assert float(fine_grained_loss(grouped, tokens, mask, s, "eq6")) == pytest.approx((c2 + c3) / 2, rel=1e-4)


def _features(b: int = 6, seed: int = 0) -> Features:
    g = torch.Generator().manual_seed(seed)
    patches, tokens = torch.randn(b, 16, 8, generator=g), torch.randn(b, 7, 8, generator=g)
    mask = torch.arange(7)[None] < torch.randint(2, 8, (b, 1), generator=g)
    text = F.normalize((tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
    return Features(patches, F.normalize(patches.mean(1), dim=-1), tokens, text, mask)


def test_fine_grained_loss_is_per_sample() -> None:
    f = _features()
    head = SparcLoss()
    vl, lv = fine_grained_token_losses(grouped_embeddings(head.weights(f), f.patches), f.tokens, f.token_mask, 10.0)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    g = Features(f.patches[perm], f.image[perm], f.tokens[perm], f.text[perm], f.token_mask[perm])
    vl2, lv2 = fine_grained_token_losses(grouped_embeddings(head.weights(g), g.patches), g.tokens, g.token_mask, 10.0)
    torch.testing.assert_close(vl2, vl[perm])
    torch.testing.assert_close(lv2, lv[perm])


def test_sparc_total_and_clip_limit() -> None:
    f = _features()
    clip = ClipLoss()
    limit = SparcLoss(lambda_g=1.0, lambda_f=0.0)(f).loss.detach()
    assert float(limit) == float(clip(f).loss.detach())  # λ_f = 0 is CLIP
    head = SparcLoss()  # λ_g = 0.5, λ_f = 1
    scale = head.scale()
    grouped = grouped_embeddings(head.weights(f), f.patches)
    manual = 0.5 * info_nce(scale * f.image @ f.text.T) + fine_grained_loss(grouped, f.tokens, f.token_mask, scale)
    out = head(f)
    assert float(out.loss.detach()) == pytest.approx(float(manual.detach()), rel=1e-4)
    assert 1 <= out.logs["patches_per_token"] <= 16


def test_heads_train_end_to_end_on_the_shared_encoders() -> None:
    torch.manual_seed(0)
    model = DualEncoder(ViT(ViTConfig(width=16, depth=1, heads=2)), TextEncoder(TextConfig(width=16, heads=2)), 8)
    images, tokens = torch.rand(4, 3, 32, 32), torch.tensor([[2, 4, 8, 1, 3, 5, 9], [3, 6, 10, 0, 0, 0, 0],
                                                             [2, 7, 11, 0, 0, 0, 0], [3, 4, 9, 0, 0, 0, 0]])
    f = model(images, tokens)
    torch.testing.assert_close(f.image.norm(dim=-1), torch.ones(4))
    for name in ("clip", "siglip", "sparc"):
        model.zero_grad()
        head = make_head(name)
        head(model(images, tokens)).loss.backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
    with pytest.raises(ValueError, match="unknown contrastive head"):
        make_head("filip")
