"""L-MAC parts and metrics against hand-derived values on a 3-class band classifier, captum baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.explainers import (
    AudioCNN, LMACLoss, MaskDecoder, Refeaturizer, SpectrogramClassifier, average_drop_recipe, complexity,
    faithfulness, gradient_masks, lmac_masks, mask_iou, si_sdr, sparseness, train_decoder, xcorr,
)
from agents.explainers.baselines import mel_to_linear
from envs.audio.spectral import Spectral

T, F_BINS = 6, 9


class BandClassifier(nn.Module):
    """logit_k = sum of X over frequency band k (bins 3k … 3k+2): softmax probabilities by hand."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(*x.shape[:-1], 3, 3).sum((-1, -3))


def band_input(sums=(2.0, 1.0, 0.0)) -> torch.Tensor:
    """X with band sums (2, 1, 0): each band's 18 cells hold sum / 18."""
    x = torch.zeros(1, T, F_BINS)
    for k, s in enumerate(sums):
        x[..., 3 * k: 3 * k + 3] = s / (T * 3)
    return x


def band_mask(*bands: int) -> torch.Tensor:
    m = torch.zeros(1, T, F_BINS)
    for k in bands:
        m[..., 3 * k: 3 * k + 3] = 1.0
    return m


def probs(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(x), -1).numpy()


def scores(mask: torch.Tensor) -> dict[str, float]:
    model, x = BandClassifier(), band_input()
    out = faithfulness(probs(model, x), probs(model, mask * x), probs(model, (1 - mask) * x))
    return {k: float(v[0]) for k, v in out.items()}


E = math.e
P_C = E**2 / (E**2 + E + 1)  # p_0 of logits (2, 1, 0)


def test_all_ones_mask_is_the_chance_reference() -> None:
    s = scores(torch.ones(1, T, F_BINS))
    assert s["AI"] == 0 and s["AD"] == 0 and s["AG"] == 0 and s["Fid-In"] == 1
    assert s["FF"] == pytest.approx(P_C - 1 / 3)  # masked-out = silence: uniform probabilities


def test_mask_keeping_the_decisive_band_by_hand() -> None:
    s = scores(band_mask(0))  # masked-in logits (2, 0, 0); masked-out (0, 1, 0)
    o_c, q_c = E**2 / (E**2 + 2), 1 / (2 + E)
    assert s["AI"] == 100 and s["AD"] == 0 and s["Fid-In"] == 1
    assert s["AG"] == pytest.approx(100 * (o_c - P_C) / (1 - P_C))  # ≈ 36.37
    assert s["FF"] == pytest.approx(P_C - q_c)  # ≈ 0.4533


def test_mask_keeping_the_wrong_band_by_hand() -> None:
    s = scores(band_mask(1))  # masked-in logits (0, 1, 0): the decision flips
    o_c, q_c = 1 / (2 + E), E**2 / (E**2 + 2)
    assert s["AI"] == 0 and s["AG"] == 0 and s["Fid-In"] == 0
    assert s["AD"] == pytest.approx(100 * (P_C - o_c) / P_C)  # ≈ 68.14
    assert s["FF"] == pytest.approx(P_C - q_c)  # negative: removing the band *raises* p_c


def test_recipe_double_softmax_average_drop_is_compressed() -> None:
    model, x, m = BandClassifier(), band_input(), band_mask(1)
    p, p_in = probs(model, x), probs(model, m * x)
    soft = lambda v: np.exp(v) / np.exp(v).sum()  # noqa: E731
    pc2, oc2 = soft(p[0])[0], soft(p_in[0])[0]
    assert average_drop_recipe(p, p_in)[0] == pytest.approx(100 * (pc2 - oc2) / pc2)
    assert average_drop_recipe(p, p_in)[0] < faithfulness(p, p_in, p)["AD"][0] / 1.9  # 35.5 vs 68.1


def test_sparseness_complexity_iou_by_hand() -> None:
    n = 20
    one_hot, flat = np.zeros((1, n)), np.full((1, n), 0.5)
    one_hot[0, 3] = 1
    assert sparseness(one_hot)[0] == pytest.approx((n - 1) / n, abs=1e-5) and sparseness(flat)[0] == pytest.approx(0)
    assert complexity(flat)[0] == pytest.approx(math.log(n)) and complexity(one_hot)[0] == pytest.approx(0, abs=1e-8)
    assert complexity(np.zeros((1, n)))[0] == pytest.approx(math.log(n))  # empty mask: defined (uniform)
    a, b = np.array([[0.9, 0.8, 0.1, 0.0]]), np.array([[1, 0, 1, 0]])
    assert mask_iou(a, b)[0] == pytest.approx(1 / 3) and mask_iou(np.zeros((1, 4)), np.zeros((1, 4)))[0] == 1


def test_si_sdr_closed_form_and_silence() -> None:
    rng = np.random.default_rng(0)
    s = rng.standard_normal(4000)
    s -= s.mean()
    e = rng.standard_normal(4000)
    e -= e.mean()
    e -= (e @ s) / (s @ s) * s  # orthogonal to s
    e *= np.linalg.norm(s) / np.linalg.norm(e) / 10  # ‖s‖ / ‖e‖ = 10 → 20 dB
    assert si_sdr((3 * (s + e))[None], s[None])[0] == pytest.approx(20.0, abs=1e-6)  # scale-invariant
    silent = si_sdr(np.zeros((1, 100)), np.zeros((1, 100)))
    assert np.isfinite(silent).all() and silent[0] == 0


def small_classifier(seed: int = 0) -> tuple[SpectrogramClassifier, Spectral]:
    torch.manual_seed(seed)
    sp = Spectral()
    return SpectrogramClassifier(AudioCNN(sp.n_mels, 3, (4, 4, 8, 8)), Refeaturizer(sp.fbank)).eval(), sp


def test_refeaturizer_is_expm1_mel_log1p_and_decoder_shapes() -> None:
    clf, sp = small_classifier()
    wave = np.random.default_rng(0).standard_normal((2, 4000)).astype(np.float32)
    x = sp.log1p_magnitude(wave)
    np.testing.assert_allclose(clf.refeaturizer(torch.as_tensor(x)).numpy(), sp.log_mel(x), rtol=1e-4, atol=1e-5)
    for frames in (x.shape[1], 57):
        xb = torch.rand(3, frames, sp.n_freqs)
        blocks = clf.blocks(xb)
        assert [b.shape[1] for b in blocks] == [4, 4, 8, 8] and blocks[-1].shape[-1] == sp.n_mels // 16
        decoder = MaskDecoder((4, 4, 8, 8), sp.n_mels, sp.n_freqs, hidden=8)
        mask = decoder(blocks, frames)
        assert mask.shape == (3, frames, sp.n_freqs) and ((mask > 0) & (mask < 1)).all()


def test_lmac_loss_closed_form_with_the_all_ones_mask() -> None:
    model, x = BandClassifier(), band_input().repeat(4, 1, 1)
    mask = torch.ones_like(x)
    loss, parts = LMACLoss()(model, mask, x)  # CE_in = −ln p_c, CE_out = ln 3 (silence), L1 = B · 1
    assert parts["ce_in"] == pytest.approx(-math.log(P_C), rel=1e-5) and parts["ce_out"] == pytest.approx(math.log(3))
    assert loss.item() == pytest.approx(4 * -math.log(P_C) - 0.2 * math.log(3) + 0.4 * 4, rel=1e-5)
    paper, _ = LMACLoss(l1_reduction="mean")(model, mask, x)
    assert paper.item() == pytest.approx(4 * -math.log(P_C) - 0.2 * math.log(3) + 0.4, rel=1e-5)


def test_guidance_term_bce_and_l1_switch_off() -> None:
    model, x = BandClassifier(), band_input().repeat(2, 1, 1)
    clean = x.clone()
    clean[1] = torch.rand(T, F_BINS, generator=torch.Generator().manual_seed(0)) * (torch.arange(F_BINS) > 4)
    mask = torch.full_like(x, 0.5)
    assert xcorr(clean, mask * x)[0] == pytest.approx(1.0)  # sample 0: clean ∝ M⊙X → guided
    loss_fn = LMACLoss(guidance_weight=4.0)
    loss, parts = loss_fn(model, mask, x, clean)
    guided = xcorr(clean, mask * x) >= 0.6
    assert parts["guided_fraction"] == pytest.approx(guided.float().mean().item())
    # sample 0's oracle is 1[X ≥ 0.35 max X] (bands 0 and 1); BCE of 0.5 is ln 2 everywhere
    assert parts["guidance"] == pytest.approx(4 * math.log(2) * guided.sum().item() / 2, rel=1e-4)
    plain, _ = LMACLoss()(model, mask, x)
    l1_saved = 0.4 * 0.5 * guided.sum().item()  # the recipe's λ_1 · (#unguided) · mean|M|
    assert loss.item() == pytest.approx(plain.item() - l1_saved + parts["guidance"], rel=1e-5)


def test_captum_saliency_and_ig_on_the_band_classifier() -> None:
    model, x = BandClassifier(), band_input()
    sal = gradient_masks("saliency", model, x)  # ∂logit_0/∂X = 1 on band 0, 0 elsewhere
    torch.testing.assert_close(sal, band_mask(0))
    ig = gradient_masks("integrated_gradients", model, x + 0.01 * torch.arange(F_BINS))  # linear: X ⊙ ∂logit/∂X
    assert (ig[..., 3:] == 0).all() and ig[..., :3].max() == 1 and (ig[..., 2] == 1).all()


def test_gradcam_and_smoothgrad_masks_on_the_cnn() -> None:
    clf, sp = small_classifier()
    x = torch.rand(2, 20, sp.n_freqs) * 3
    for method in ("gradcam", "smoothgrad"):
        m = gradient_masks(method, clf, x, smoothgrad_samples=3)
        assert m.shape == x.shape and m.min() >= 0 and m.max() <= 1
    np.testing.assert_allclose(torch.ones(1, sp.n_mels) @ mel_to_linear(sp.fbank), 1.0, rtol=1e-6)


def test_decoder_learns_on_frozen_classifier_and_silent_clip_metrics_are_defined() -> None:
    clf, sp = small_classifier(1)
    x = torch.rand(32, 20, sp.n_freqs) * 3
    decoder = MaskDecoder(clf.cnn.widths, sp.n_mels, sp.n_freqs, hidden=8)
    history = train_decoder(clf, decoder, x, LMACLoss(), epochs=4, batch_size=16, lr=1e-2)
    assert history[-1]["loss"] < history[0]["loss"]
    silent = torch.full((1, 20, sp.n_freqs), float(np.log1p(1e-7)))  # log1p|STFT| of an all-zero clip
    mask = lmac_masks(clf, decoder, silent)
    p, p_in, p_out = (clf.probabilities(t).numpy() for t in (silent, mask * silent, (1 - mask) * silent))
    values = [*faithfulness(p, p_in, p_out).values(), sparseness(mask.numpy()), complexity(mask.numpy()),
              si_sdr(np.zeros((1, 400)), np.zeros((1, 400)))]
    assert all(np.isfinite(v).all() for v in values)
