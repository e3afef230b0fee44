"""The shared ViT and text encoder: shapes, patch order, padding invariance, extra tokens, bad input."""

from __future__ import annotations

import pytest
import torch

from agents.perception import TextConfig, TextEncoder, ViT, ViTConfig


def test_vit_shapes_and_mean_pooling() -> None:
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=32, patch_size=8, width=32, depth=1, heads=4, n_extra_tokens=3))
    out = vit(torch.rand(5, 3, 32, 32))
    assert out.patches.shape == (5, 16, 32) and out.pooled.shape == (5, 32) and out.extra.shape == (5, 3, 32)
    torch.testing.assert_close(out.pooled, out.patches.mean(1))
    assert ViT(ViTConfig(width=32, heads=4))(torch.rand(2, 3, 32, 32)).extra is None


def test_vit_patch_order_is_row_major() -> None:
    """Patch p is image rows 8⌊p/4⌋.. and columns 8(p mod 4).. — the media world's patch index."""
    torch.manual_seed(0)
    vit = ViT(ViTConfig(width=16, depth=1, heads=2))
    captured = {}
    vit.blocks[0].register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0]))
    image = torch.zeros(1, 3, 32, 32)
    vit(image)
    base = captured.pop("x")
    image[:, :, 8:16, 24:32] = 1.0  # row 1, column 3 → patch 7
    vit(image)
    changed = (captured["x"] - base).abs().sum(-1)[0]
    assert torch.nonzero(changed).flatten().tolist() == [7]


def test_text_encoder_ignores_padding() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(TextConfig(vocab_size=12, max_len=11, width=32, depth=2, heads=4))
    short = torch.tensor([[3, 5, 9]])
    padded = torch.tensor([[3, 5, 9, 0, 0, 0, 0]])
    a, b = enc(short), enc(padded)
    torch.testing.assert_close(a.tokens, b.tokens[:, :3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.pooled, b.pooled, atol=1e-5, rtol=1e-5)
    assert b.mask.tolist() == [[True] * 3 + [False] * 4]


def test_text_encoder_causal_mode() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(TextConfig(width=16, heads=2, causal=True))
    a, b = enc(torch.tensor([[3, 5, 9, 1]])), enc(torch.tensor([[3, 5, 7, 1]]))
    torch.testing.assert_close(a.tokens[:, :2], b.tokens[:, :2])
    assert not torch.allclose(a.tokens[:, 2], b.tokens[:, 2])


def test_bad_input_is_a_clear_error() -> None:
    enc = TextEncoder(TextConfig(width=16, heads=2))
    with pytest.raises(ValueError, match="all padding"):
        enc(torch.tensor([[3, 4], [0, 0]]))
    with pytest.raises(ValueError, match="integer ids"):
        enc(torch.tensor([[3, 40]]))
    with pytest.raises(ValueError, match="images must have shape"):
        ViT(ViTConfig(width=16, heads=2))(torch.rand(2, 3, 24, 24))
    with pytest.raises(ValueError, match="divisible"):
        ViTConfig(width=30, heads=4).validate()
