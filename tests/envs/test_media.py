"""The media-stream world: exact masks, captions, splits, determinism, and its two Gymnasium envs."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.media import VOCAB, ImageTextStream, MediaDataset, MediaWorld, WorldSpec
from envs.media.captions import caption_text, class_prompts
from envs.media.grounding_env import GroundingEnv, patch_iou, sample_query
from envs.media.shapes import COLOURS, RGB, SHAPES, SIZES, class_attributes, class_index, parse_combo
from envs.media.zero_shot_env import ZeroShotEnv

SPEC = WorldSpec()
WORLD = MediaWorld(SPEC)


@pytest.fixture(scope="module")
def batch():
    return WORLD.sample(200, np.random.default_rng(0), "train")


def test_patch_masks_are_exact_coverage(batch) -> None:
    n, k, p, g, ps = len(batch), SPEC.max_objects, SPEC.n_patches, SPEC.grid, SPEC.patch_size
    for j in range(k):
        pixels = batch.object_map == j  # (N, H, W)
        cover = pixels.reshape(n, g, ps, g, ps).mean(axis=(2, 4)).reshape(n, p)
        present = j < batch.n_objects
        np.testing.assert_array_equal(batch.patch_masks[:, j], (cover >= SPEC.min_cover) & present[:, None])
        assert (batch.patch_masks[present, j].sum(1) >= 1).all()  # every present object has a patch
        assert not pixels[~present].any()
    # objects never share a patch (footprints are disjoint), small objects cover exactly one patch
    assert (batch.patch_masks.sum(1) <= 1).all()
    small = (batch.attributes[..., 0] == 0)
    assert (batch.patch_masks[small].sum(-1) == 1).all()


def test_object_pixels_have_their_colour(batch) -> None:
    for i in range(40):
        for j in range(batch.n_objects[i]):
            rgb = batch.images[i][:, batch.object_map[i] == j].mean(axis=1)
            nearest = np.argmin(((RGB / np.linalg.norm(RGB, axis=1, keepdims=True) - rgb / np.linalg.norm(rgb)) ** 2)
                                .sum(1))
            assert nearest == batch.attributes[i, j, 1]
    big = batch.attributes[..., 0] == 1
    assert (batch.object_map >= 0).sum() > 0 and big.any()


def test_labels_and_class_index_roundtrip(batch) -> None:
    present = batch.labels >= 0
    a = batch.attributes[present]
    np.testing.assert_array_equal(batch.labels[present], class_index(a[:, 0], a[:, 1], a[:, 2]))
    assert all(class_index(*class_attributes(c)) == c for c in range(32))
    assert class_prompts()[class_index(1, 0, 1)] == "big red circle"


def test_captions_name_their_objects(batch) -> None:
    for i in range(len(batch)):
        assert VOCAB.decode(batch.tokens[i]) == caption_text(batch.attributes[i])
        for l in np.flatnonzero(batch.token_object[i] >= 0):
            word, (s, c, h) = VOCAB.words[batch.tokens[i, l]], batch.attributes[i, batch.token_object[i, l]]
            assert word in (SIZES[s], COLOURS[c], SHAPES[h])
    masks = batch.token_masks()
    np.testing.assert_array_equal(masks[:, 0], batch.patch_masks[:, 0])  # first word names object 0
    assert not masks[batch.token_object < 0].any()


def test_partial_captions_keep_exact_word_objects() -> None:
    world = MediaWorld(SPEC, caption_detail=0.5)
    b = world.sample(200, np.random.default_rng(3))
    n_words = (b.token_object >= 0).sum(1)
    assert (n_words >= b.n_objects).all() and (n_words < 3 * b.n_objects).any()  # some words were dropped
    for i in range(len(b)):
        owners = b.token_object[i][b.token_object[i] >= 0]
        assert (np.diff(owners) >= 0).all() and set(owners) == set(range(b.n_objects[i]))  # objects in order
        for l in np.flatnonzero(b.token_object[i] >= 0):
            s, c, h = b.attributes[i, b.token_object[i, l]]
            assert VOCAB.words[b.tokens[i, l]] in (SIZES[s], COLOURS[c], SHAPES[h])
    shapes_only = MediaWorld(SPEC, caption_detail=0.0).sample(5, np.random.default_rng(3))
    assert all(VOCAB.decode(t).split()[0] in SHAPES for t in shapes_only.tokens)
    again = MediaWorld(SPEC, caption_detail=0.5).sample(200, np.random.default_rng(3))
    np.testing.assert_array_equal(again.tokens, b.tokens)


def test_distinct_pairs_and_held_out_split() -> None:
    held = {parse_combo(c) for c in SPEC.held_out}
    for split in ("train", "test", "heldout"):
        b = WORLD.sample(300, np.random.default_rng(1), split)
        pairs = [tuple(x) for i in range(len(b)) for x in b.attributes[i, : b.n_objects[i], 1:]]
        assert all((p in held) == (split == "heldout") for p in pairs)
        for i in range(len(b)):
            objects = [tuple(x) for x in b.attributes[i, : b.n_objects[i], 1:]]
            assert len(set(objects)) == len(objects)
    seen = SPEC.combos("train")
    assert set(seen[:, 0]) == {0, 1, 2, 3} and set(seen[:, 1]) == {0, 1, 2, 3}


def test_deterministic_under_a_seed() -> None:
    a = WORLD.sample(16, np.random.default_rng(5), "test")
    b = WORLD.sample(16, np.random.default_rng(5), "test")
    c = WORLD.sample(16, np.random.default_rng(6), "test")
    for name in ("images", "attributes", "object_map", "patch_masks", "tokens", "token_object"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.images, c.images)
    s1, s2 = iter(ImageTextStream(WORLD, 8, seed=3)), iter(ImageTextStream(WORLD, 8, seed=3))
    for _ in range(2):
        x, y = next(s1), next(s2)
        assert all(bool((x[k] == y[k]).all()) for k in x)
    d = MediaDataset(WORLD, 10, seed=2)
    assert len(d) == 10 and d[3]["images"].shape == (3, 32, 32) and d[3]["token_mask"].dtype.is_floating_point is False


def test_vocabulary_and_bad_input() -> None:
    ids = VOCAB.encode("big red circle and small blue cross", 11)
    assert VOCAB.decode(ids) == "big red circle and small blue cross" and ids[-1] == 0
    with pytest.raises(ValueError, match="unknown word"):
        VOCAB.encode("big purple circle")
    with pytest.raises(ValueError, match="more than max_len"):
        VOCAB.encode("big red circle", 2)
    with pytest.raises(ValueError, match="held-out combination"):
        WorldSpec(held_out=("red hexagon",))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        WorldSpec(image_size=30)
    with pytest.raises(ValueError, match="removes every pair"):
        WorldSpec(held_out=("red square", "red circle", "red triangle", "red cross"))


def test_patch_iou_values() -> None:
    mask = np.array([1, 1, 0, 0], dtype=bool)
    assert patch_iou(np.array([1.0, 0.0, 1.0, 0.0]), mask) == pytest.approx(1 / 3)
    assert patch_iou(np.array([0.9, 0.6, 0.1, 0.0]), mask) == 1.0
    assert patch_iou(np.zeros(4), mask) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        patch_iou(np.array([np.nan, 0, 0, 0]), mask)


def test_query_mask_is_union_of_matching_objects(batch) -> None:
    rng = np.random.default_rng(0)
    for i in range(100):
        text, mask = sample_query(batch, i, rng)
        words = text.split()
        expected = np.zeros(SPEC.n_patches, dtype=bool)
        for j in range(batch.n_objects[i]):
            s, c, h = batch.attributes[i, j]
            if all(w in (SIZES[s], COLOURS[c], SHAPES[h]) for w in words):
                expected |= batch.patch_masks[i, j]
        np.testing.assert_array_equal(mask, expected)
        assert mask.any()


@pytest.mark.parametrize("env_id", ["recast/MediaGrounding-v0", "recast/MediaZeroShot-v0"])
def test_check_env(env_id: str) -> None:
    env = gymnasium.make(env_id)
    check_env(env.unwrapped)
    env.close()


def test_grounding_env_reward_is_iou_with_ground_truth() -> None:
    env = GroundingEnv(episode_length=3)
    env.reset(seed=4)
    _, reward_all, _, _, info = env.step(np.ones(16, dtype=np.float32))
    mask = info["mask"]
    assert reward_all == pytest.approx(mask.sum() / 16)
    env.reset(seed=4)  # same scene and query again
    _, reward, _, _, _ = env.step(mask.astype(np.float32))
    assert reward == 1.0
    _, _, terminated, _, _ = env.step(np.zeros(16, dtype=np.float32))
    _, _, terminated, _, _ = env.step(np.zeros(16, dtype=np.float32))
    assert terminated
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(5, dtype=np.float32))


def test_zero_shot_env_rewards_the_true_class() -> None:
    env = ZeroShotEnv(split="heldout", episode_length=5)
    env.reset(seed=2)
    _, _, _, _, info = env.step(0)
    env.reset(seed=2)
    _, reward, _, _, info2 = env.step(info["label"])
    assert reward == 1.0 and info2["correct"]
    s, c, h = class_attributes(info["label"])
    assert (c, h) in {parse_combo(x) for x in SPEC.held_out}
    assert len(env.prompts) == 32 and env.prompt_tokens.shape == (32, 3)
