"""TrCAM-V agent parts against hand-derived values: sampler, CRF loss, partial CE, CorLoc, maps → boxes, CAMs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agents.localization import (
    IGNORE,
    FrozenViT,
    LocalisationDecoder,
    PseudoPixelSampler,
    corloc,
    corrupt_cams,
    dense_crf_loss,
    largest_component,
    otsu_thresholds,
    partial_cross_entropy,
    seed_precision,
    temporal_cams,
)
from agents.perception import ViT, ViTConfig


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _disc_masks(n: int, size: int = 16) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centres = torch.randint(4, size - 4, (n, 2), generator=_gen(1))
    return ((yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2) <= 9


# ---- pseudo-pixel sampler --------------------------------------------------------------------------------------

def test_seeds_from_a_perfect_cam_are_all_correct_and_never_overlap() -> None:
    masks = _disc_masks(64)
    seeds = PseudoPixelSampler(n_fg=3, n_bg=3)(masks.double(), _gen())
    assert seeds.fg_points.sum(1).eq(3).all() and seeds.bg_points.sum(1).eq(3).all()
    assert seed_precision(seeds.fg_points.numpy(), seeds.bg_points.numpy(), masks.numpy()) == (1.0, 1.0)
    assert torch.equal(seeds.roi, masks.flatten(1))  # Otsu on a binary map recovers it
    labelled = seeds.labels != IGNORE
    # each seed grows to its 3×3 neighbourhood; pixels claimed by both sides are dropped
    fg_area = F.max_pool2d(seeds.fg_points.view(64, 1, 16, 16).float(), 3, 1, 1)[:, 0] > 0
    bg_area = F.max_pool2d(seeds.bg_points.view(64, 1, 16, 16).float(), 3, 1, 1)[:, 0] > 0
    assert torch.equal(seeds.labels == 1, fg_area & ~bg_area) and torch.equal(seeds.labels == 0, bg_area & ~fg_area)
    assert torch.equal(labelled, fg_area ^ bg_area)


def test_candidate_pools_have_the_declared_proportions_and_places() -> None:
    cam = torch.rand(5, 20, 20, generator=_gen(2)) ** 2
    seeds = PseudoPixelSampler(max_p=0.6, min_p=0.1)(cam, _gen())
    flat = cam.flatten(1).double()
    for b in range(5):
        roi = seeds.roi[b]
        k = int(0.6 * roi.sum())
        assert seeds.fg_candidates[b].sum() == k
        assert flat[b][seeds.fg_candidates[b]].min() >= flat[b][roi & ~seeds.fg_candidates[b]].max()  # top of ROI
        assert seeds.bg_candidates[b].sum() == int(0.1 * 400)
        assert flat[b][seeds.bg_candidates[b]].max() <= flat[b][~seeds.bg_candidates[b]].min()  # bottom of frame
        assert not (seeds.fg_points[b] & ~seeds.fg_candidates[b]).any()
        assert not (seeds.bg_points[b] & ~seeds.bg_candidates[b]).any()


def test_otsu_matches_a_brute_force_search() -> None:
    levels = torch.randint(0, 256, (3, 500), generator=_gen(3)).double()
    levels[0, :250] = torch.randint(20, 60, (250,), generator=_gen(4)).double()  # a bimodal row
    for row, t in zip(levels, otsu_thresholds(levels)):
        def between(th: int) -> float:
            lo, hi = row[row < th], row[row >= th]
            if len(lo) == 0 or len(hi) == 0:
                return -1.0
            return float(len(lo) * len(hi) / len(row) ** 2 * (lo.mean() - hi.mean()) ** 2)
        assert between(int(t)) == pytest.approx(max(between(th) for th in range(1, 256)))


def test_weighted_foreground_draws_follow_the_cam_and_uniform_ones_do_not() -> None:
    # 1 × 10 frame: Otsu puts the 4 high pixels (values 0.4, 0.6, 0.8, 1.0) in the ROI; max_p = 1 keeps all 4.
    cam = torch.tensor([0.0] * 6 + [0.4, 0.6, 0.8, 1.0]).view(1, 1, 10).expand(8000, 1, 10).contiguous()
    for weighted, expected in ((True, np.array([0.4, 0.6, 0.8, 1.0]) / 2.8), (False, np.full(4, 0.25))):
        seeds = PseudoPixelSampler(max_p=1.0, min_p=0.2, weighted_fg=weighted, ksz=1)(cam, _gen())
        assert seeds.roi[0].tolist() == [False] * 6 + [True] * 4
        freq = seeds.fg_points.double().mean(0)[6:].numpy()
        assert np.abs(freq - expected).max() < 0.025  # 8,000 draws: ≥ 4.5 standard errors
        # min_p = 0.2: the background pool is 2 of the 6 zero pixels (stable ties: the first two), drawn uniformly
        assert seeds.bg_candidates[0].tolist() == [True, True] + [False] * 8
        assert np.abs(seeds.bg_points.double().mean(0)[:2].numpy() - 0.5).max() < 0.025


def test_constant_cam_gives_no_seeds() -> None:
    seeds = PseudoPixelSampler()(torch.full((2, 8, 8), 0.3), _gen())
    assert (seeds.labels == IGNORE).all() and not seeds.fg_points.any() and not seeds.bg_points.any()


# ---- losses -----------------------------------------------------------------------------------------------------

def _hard(labels: torch.Tensor) -> torch.Tensor:
    return F.one_hot(labels, 2).permute(0, 3, 1, 2).double()


def test_crf_loss_is_zero_for_constant_and_for_colour_aligned_piecewise_labels() -> None:
    uniform = torch.full((1, 3, 6, 6), 120.0, dtype=torch.float64)
    assert dense_crf_loss(_hard(torch.zeros(1, 6, 6, dtype=torch.long)), uniform) == 0.0
    assert dense_crf_loss(_hard(torch.ones(1, 6, 6, dtype=torch.long)), uniform) == 0.0
    # two uniform halves 255 grey levels apart, labelled by half: every cross pair has W ≈ e^{−3·255²/450} = 0
    image = torch.zeros(1, 3, 6, 6, dtype=torch.float64)
    image[..., 3:] = 255.0
    labels = torch.zeros(1, 6, 6, dtype=torch.long)
    labels[..., 3:] = 1
    assert dense_crf_loss(_hard(labels), image) == pytest.approx(0.0, abs=1e-100)
    # the same labels on a uniform image cut through the spatial kernel: positive
    assert dense_crf_loss(_hard(labels), uniform) > 1.0


def test_crf_loss_hand_value_on_two_pixels() -> None:
    # 1 × 2 image, colours 30 apart in one channel: W12 = exp(−1/(2·σ_xy²) − 30²/(2·σ_rgb²)); cut = 2 W12.
    image = torch.tensor([[[[0.0, 30.0]], [[0.0, 0.0]], [[0.0, 0.0]]]], dtype=torch.float64)
    labels = torch.tensor([[[0, 1]]])
    w12 = math.exp(-1 / (2 * 100.0 ** 2) - 30.0 ** 2 / (2 * 15.0 ** 2))
    assert dense_crf_loss(_hard(labels), image) == pytest.approx(2 * w12, rel=1e-12)
    soft = torch.tensor([[[[0.3, 0.9]], [[0.7, 0.1]]]], dtype=torch.float64)  # S_bg, S_fg of two pixels
    # Σ_k S_kᵀ W (1 − S_k) with W = [[1, w],[w, 1]]:
    by_hand = sum(s[0] * (1 - s[0]) + s[1] * (1 - s[1]) + w12 * (s[0] * (1 - s[1]) + s[1] * (1 - s[0]))
                  for s in ([0.3, 0.9], [0.7, 0.1]))
    assert dense_crf_loss(soft, image) == pytest.approx(by_hand, rel=1e-12)


def test_crf_loss_matches_a_brute_force_double_sum_and_its_gradient() -> None:
    g = _gen(5)
    image = torch.rand(2, 3, 3, 4, generator=g, dtype=torch.float64) * 255
    probs = torch.softmax(torch.randn(2, 2, 3, 4, generator=g, dtype=torch.float64), 1)
    total = 0.0
    for b in range(2):
        pix = [(i, j) for i in range(3) for j in range(4)]
        for (i, j) in pix:
            for (k, m) in pix:
                w = math.exp(-((i - k) ** 2 + (j - m) ** 2) / (2 * 4.0 ** 2)
                             - float(((image[b, :, i, j] - image[b, :, k, m]) ** 2).sum()) / (2 * 40.0 ** 2))
                total += w * float(sum(probs[b, c, i, j] * (1 - probs[b, c, k, m]) for c in range(2)))
    assert dense_crf_loss(probs, image, sigma_rgb=40.0, sigma_xy=4.0) == pytest.approx(total / 2, rel=1e-10)
    logits = torch.randn(2, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: dense_crf_loss(torch.softmax(z, 1), image, 40.0, 4.0), (logits,))


def test_partial_cross_entropy_averages_over_labelled_pixels_only() -> None:
    logits = torch.randn(2, 2, 3, 3, generator=_gen(6))
    labels = torch.full((2, 3, 3), IGNORE)
    labels[0, 0, 0], labels[1, 2, 1] = 1, 0
    log_p = torch.log_softmax(logits, 1)
    expected = -(log_p[0, 1, 0, 0] + log_p[1, 0, 2, 1]) / 2
    assert partial_cross_entropy(logits, labels) == pytest.approx(float(expected))
    assert partial_cross_entropy(logits, torch.full((2, 3, 3), IGNORE)) == 0.0


# ---- metrics ----------------------------------------------------------------------------------------------------

def test_corloc_is_per_class_then_averaged_on_hand_made_boxes() -> None:
    from envs.media.video import box_iou  # the world's IoU (tests may cross layers)

    truth = np.array([[0, 0, 10, 10]] * 3 + [[5, 5, 15, 15]])
    pred = np.array([[0, 0, 10, 10],  # class 0: IoU 1 → hit
                     [0, 0, 10, 5],  # class 0: IoU 0.5 → hit (≥ 0.5)
                     [0, 0, 10, 4],  # class 0: IoU 0.4 → miss
                     [5, 5, 15, 15]])  # class 1: hit
    ious = box_iou(pred, truth)
    assert ious.tolist() == pytest.approx([1.0, 0.5, 0.4, 1.0])
    classes = np.array([0, 0, 0, 1])
    assert corloc(ious, classes) == pytest.approx((2 / 3 + 1) / 2)  # per class, then mean — not 3/4
    assert corloc(ious, classes, threshold=0.3) == 1.0


def test_largest_component_keeps_each_frames_biggest_blob_without_crossing_frames() -> None:
    maps = np.zeros((3, 8, 8))
    maps[0, 0:2, 0:2] = 1.0  # 4 px
    maps[0, 4:7, 4:7] = 0.8  # 9 px: larger, lower peak
    maps[1, 0:3, 0:3] = 1.0  # frame 1's blob lies where frame 0's small one is: frames must not merge
    maps[1, 5, 5] = 0.9
    keep = largest_component(maps, 0.5)
    assert keep[0].sum() == 9 and keep[0, 5, 5] and not keep[0, 0, 0]
    assert keep[1].sum() == 9 and keep[1, 0, 0] and not keep[1, 5, 5]
    assert not keep[2].any()  # an all-zero map has no box
    assert largest_component(maps, 0.85)[0].sum() == 4  # τ·max above 0.8 drops the big blob


# ---- CAMs and backbone ------------------------------------------------------------------------------------------

def test_temporal_cam_hand_weights() -> None:
    cams = torch.zeros(1, 3, 1, 2)
    cams[0, :, 0, 1] = torch.tensor([1.0, 0.0, 0.0])  # pixel 1 on in frame 0 only; pixel 0 always 0
    out = temporal_cams(cams + torch.tensor([0.0, 0.0]), knn=1)
    # frame 1 = (1/2 · 1 + 1 · 0 + 1/2 · 0) / 2 → after min-max: 1 on pixel 1, 0 on pixel 0
    assert out[0, :, 0, 1].tolist() == [1.0, 1.0, 0.0]
    raw = torch.tensor([[0.2, 0.8], [0.4, 0.4], [1.0, 0.0]]).view(1, 3, 1, 2)
    frame1 = (0.5 * raw[0, 0] + raw[0, 1] + 0.5 * raw[0, 2]) / 2  # [0.5, 0.4]
    assert frame1.flatten().tolist() == pytest.approx([0.5, 0.4])
    assert temporal_cams(raw, knn=1)[0, 1].flatten().tolist() == [1.0, 0.0]


def test_corrupt_cams_zero_noise_is_identity_and_noise_moves_the_peak() -> None:
    cams = torch.zeros(200, 16, 16)
    cams[:, 8, 8] = 1.0
    assert torch.equal(corrupt_cams(cams, 0.0, _gen()), cams)
    a, b = corrupt_cams(cams, 0.6, _gen(1)), corrupt_cams(cams, 0.6, _gen(1))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert (a.flatten(1).argmax(1) != 8 * 16 + 8).float().mean() > 0.5


def test_frozen_vit_attention_maps_reproduce_the_last_block() -> None:
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=16, patch_size=4, width=16, depth=2, heads=2))
    backbone = FrozenViT(vit, features="both", n_last=4)
    images = torch.rand(3, 3, 16, 16)
    out = backbone(images)
    assert out.maps.shape == (3, 2 * 16 + 16, 4, 4) and out.pooled.shape == (3, 2 * 16)
    attn = out.maps[:, :32].reshape(3, 2, 16, 16)  # (B, heads, queries, keys)
    assert torch.allclose(attn.sum(-1), torch.ones(3, 2, 16))
    # attention-weighted values through the block's own layers give the block's output
    x = vit.patchify(images).flatten(2).transpose(1, 2) + vit.pos
    x = vit.blocks[0](x)
    block = vit.blocks[1]
    v = block.qkv(block.ln1(x)).view(3, 16, 3, 2, 8)[:, :, 2].transpose(1, 2)
    y = x + block.proj((attn @ v).transpose(1, 2).reshape(3, 16, 16))
    assert torch.allclose(y + block.mlp(block.ln2(y)), block(x), atol=1e-5)
    assert not any(p.requires_grad for p in backbone.parameters())


def test_decoder_upsamples_the_grid_to_the_frame() -> None:
    decoder = LocalisationDecoder(in_channels=12, upsample=8, widths=(16, 8)).eval()
    logits = decoder(torch.rand(2, 12, 8, 8))
    assert logits.shape == (2, 2, 64, 64) and (logits >= 0).all()  # TrCAM's last block ends in ReLU
    assert decoder.foreground(torch.rand(2, 12, 8, 8)).shape == (2, 64, 64)
    with pytest.raises(ValueError):
        LocalisationDecoder(12, upsample=6)
