"""Multi-object scenes with one-object captions (Llip): exact caption validity, tokens, determinism, the two envs."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.media import ANY, VOCAB, MediaWorld, ObjectCaptionStream, WorldSpec, all_object_queries, describes
from envs.media.captions import query_text, query_tokens
from envs.media.object_envs import average_precision, detection_queries
from envs.media.shapes import COLOURS, SHAPES, SIZES

WORLD = MediaWorld(WorldSpec(image_size=48, min_objects=2, max_objects=4), caption_detail=0.5)


@pytest.fixture(scope="module")
def batch():
    return WORLD.sample_object_captions(300, np.random.default_rng(0), "train")


def test_validity_matches_a_brute_force_reading_of_the_scenes(batch) -> None:
    valid = batch.validity()  # (images, captions)
    for i in range(0, 300, 7):
        for j in range(0, 300, 11):
            size, colour, shape = batch.query[j]
            objects = batch.attributes[i, : batch.n_objects[i]]
            truth = any((size in (ANY, o[0])) and (colour in (ANY, o[1])) and shape == o[2] for o in objects)
            assert valid[i, j] == truth
    assert valid.diagonal().all()  # a caption is always true of its own image
    assert 0.05 < valid.mean() < 0.6  # partial captions are true of many images, not of all


def test_captions_name_one_object_with_partial_detail(batch) -> None:
    named = batch.attributes[np.arange(300), batch.caption_object]
    for tokens, query, obj in zip(batch.tokens, batch.query, named):
        words = VOCAB.decode(tokens).split()
        assert words[-1] == SHAPES[obj[2]] and query[2] == obj[2]
        assert (SIZES[obj[0]] in words) == (query[0] != ANY) and (COLOURS[obj[1]] in words) == (query[1] != ANY)
        assert ((query == obj) | (query == ANY)).all()
    assert (batch.caption_object < batch.n_objects).all()
    content = batch.tokens != VOCAB.pad_id  # every word names the described object (exact token masks follow)
    assert np.array_equal(batch.token_object, np.where(content, batch.caption_object[:, None], -1))
    assert np.array_equal(batch.token_masks()[:, 0], batch.patch_masks[np.arange(300), batch.caption_object])
    dropped = (batch.query[:, :2] == ANY).mean()
    assert 0.4 < dropped < 0.6  # each size / colour word kept with probability caption_detail = 0.5
    counts = np.bincount(batch.caption_object, minlength=4)
    assert (counts[:2] > 50).all()  # the described object is spread over the scene's objects


def test_query_round_trip_and_the_caption_set() -> None:
    queries = all_object_queries()
    assert len(queries) == 60 and len({tuple(q) for q in queries}) == 60
    texts = query_text(queries)
    np.testing.assert_array_equal(query_tokens(queries, max_len=5), VOCAB.encode_batch(texts, max_len=5))
    assert "red circle" in texts and "big circle" in texts and "circle" in texts
    with pytest.raises(ValueError, match="shape must be named"):
        query_tokens(np.array([[0, 0, ANY]]))
    scenes = np.array([[[1, 0, 1], [0, 2, 3], [-1, -1, -1]]])  # big red circle, small blue cross
    expected = {"circle", "big circle", "red circle", "big red circle", "cross", "small cross", "blue cross",
                "small blue cross"}
    assert {t for t, ok in zip(texts, describes(queries, scenes)[0]) if ok} == expected


def test_full_captions_mix_in_and_streams_are_deterministic() -> None:
    mixed = WORLD.sample_object_captions(400, np.random.default_rng(1), full_caption_prob=0.5)
    full = mixed.caption_object < 0
    assert 0.4 < full.mean() < 0.6 and (mixed.query[full] == ANY).all()
    assert ((mixed.tokens[full] == VOCAB.index["and"]).any(1)).mean() > 0.5  # multi-object scene captions
    with pytest.raises(ValueError, match="single-object"):
        mixed.validity()
    a, b = (next(iter(ObjectCaptionStream(WORLD, 8, seed=3))) for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    old = MediaWorld(WORLD.spec).sample(4, np.random.default_rng(0))  # the SPARC sampler is unchanged
    assert old.tokens.shape == (4, WORLD.max_len)


def test_average_precision_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    relevant = np.array([[True, False, True, False], [False, False, False, False]])
    ap = average_precision(scores, relevant)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2) and np.isnan(ap[1])


@pytest.mark.parametrize("env_id", ["recast/MediaObjectRetrieval-v0", "recast/MediaMultiLabel-v0"])
def test_envs_pass_check_env(env_id: str) -> None:
    env = gymnasium.make(env_id, episode_length=4)
    check_env(env.unwrapped)
    env.close()


def test_retrieval_env_rewards_exact_validity() -> None:
    env = gymnasium.make("recast/MediaObjectRetrieval-v0", gallery_size=6, episode_length=12)
    obs, info = env.reset(seed=0)
    for t in range(12):
        assert VOCAB.decode(obs["caption"]) == info["caption"] and len(info["caption"].split()) == 3
        gallery = env.unwrapped._gallery
        assert np.array_equal(info["valid"], describes(env.unwrapped._query, gallery.attributes)[:, 0])
        assert info["valid"].any()  # the caption's own image is in the gallery
        obs, reward, terminated, _, step_info = env.step(t % 6)
        assert reward == float(info["valid"][t % 6]) and step_info["caption"] == info["caption"]
        assert terminated == (t == 11)
        info = env.unwrapped._info()


def test_detection_env_reward_is_the_scene_ap() -> None:
    env = gymnasium.make("recast/MediaMultiLabel-v0", episode_length=2)
    env.reset(seed=0)
    present = describes(detection_queries(), env.unwrapped._scene.attributes)[0]
    _, reward, _, _, info = env.step(present.astype(np.float32))  # oracle scores: AP 1
    assert reward == 1.0 and np.array_equal(info["present"], present)
    present = env.unwrapped._present
    _, reward, _, _, _ = env.step((~present).astype(np.float32))  # every absent label first
    assert reward < 1.0
    assert env.unwrapped.labels[:2] == ["red square", "red circle"]
