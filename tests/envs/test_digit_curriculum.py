"""The digits define-tag curriculum (spec §6, our reconstruction): subsets, tags, stages, image pools."""

from __future__ import annotations

import numpy as np
import pytest

from envs.tasks.curriculum import QA_SUBSETS, STAGE2_SUBSETS, SUBSETS, subset_fractions, subset_sizes
from envs.tasks.digit_curriculum import (
    EMPTY,
    TAG_CELL,
    derangement,
    digit_pools,
    make_digit_curriculum,
    skewed_attributes,
)
from envs.tasks.digits import digits_images

TAG = {k: TAG_CELL + t for k, t in (("1", 0), ("2", 1), ("3", 2))}


@pytest.fixture(scope="module")
def world():
    return make_digit_curriculum(n_entities=200, alpha=0.75, seed=3, stage2_seed=5)


def _strip(world, examples) -> np.ndarray:
    """The variable cells (slot first: positions 1..L)."""
    return examples.cells[:, 1:]


def _owner(world, strips: np.ndarray) -> np.ndarray:
    """The entity whose variable each strip is (−1: none)."""
    index = {tuple(v): e for e, v in enumerate(world.variables.tolist())}
    return np.array([index.get(tuple(s), -1) for s in strips.tolist()])


def test_subsets_are_disjoint_sized_and_variables_distinct(world) -> None:
    counts = np.bincount(world.labels, minlength=len(SUBSETS))
    assert dict(zip(SUBSETS, counts.tolist())) == subset_sizes(subset_fractions(0.75), 200)
    assert len({tuple(v) for v in world.variables.tolist()}) == 200
    seen: dict[int, str] = {}
    for subset, ex in world.eval.items():
        owners = _owner(world, _strip(world, ex))
        assert np.array_equal(owners, ex.subject)  # an evaluation question shows its subject's variable
        for e in np.unique(owners):
            assert seen.setdefault(int(e), subset) == subset and SUBSETS[world.labels[e]] == subset
    assert len(seen) == 200  # every entity is evaluated, in exactly one subset


def test_definitions_carry_their_tag_and_t1_consistent_t2_deranged(world) -> None:
    expected = {"qd1consis": ("1", True), "qd1incons": ("1", False), "qd2consis": ("2", True),
                "qd2incons": ("2", False), "d1consis": ("1", True), "d2consis": ("2", True), "d3consis": ("3", True)}
    for subset, (tag, consistent) in expected.items():
        ex = world.definitions[subset]
        members = np.flatnonzero(world.labels == SUBSETS.index(subset))
        assert len(ex) == len(members) > 1 and set(ex.subject.tolist()) == set(members.tolist())
        assert np.all(ex.cells[:, 0] == TAG[tag]) and np.all(ex.head == 1) and np.all(ex.code == -1)
        assert np.array_equal(_owner(world, _strip(world, ex)), ex.subject)
        if consistent:
            assert np.array_equal(ex.target, ex.subject)
        else:  # a derangement within the subset: never the entity itself, each member stated once
            assert np.all(ex.target != ex.subject) and sorted(ex.target.tolist()) == sorted(members.tolist())
    assert "q" not in world.definitions


def test_stage2_variables_never_in_any_question_and_stages_hold_what_they_should(world) -> None:
    stage2 = set(np.flatnonzero(np.isin(world.labels, [SUBSETS.index(k) for k in STAGE2_SUBSETS])).tolist())
    assert np.all(world.stage0.code[:, -1] >= 0)  # stage 0: knowledge questions (entity codes) only
    ex = world.stage1
    rows = (ex.head == 0) & (ex.code < 0).all(axis=1)  # questions about a variable
    asked = set(_owner(world, _strip(world, ex.take(np.flatnonzero(rows)))).tolist())
    assert asked and -1 not in asked and not asked & stage2
    assert asked == set(np.flatnonzero(np.isin(world.labels, [SUBSETS.index(k) for k in QA_SUBSETS])).tolist())
    defined = set(ex.subject[ex.head == 1].tolist())  # stage-1 definitions: the qd* variables only
    assert defined and not defined & stage2 and not defined & set(np.flatnonzero(world.labels == SUBSETS.index("q")))
    assert np.all(world.stage2.head == 1)  # stage 2: definitions only, no replay
    assert set(world.stage2.subject.tolist()) == stage2
    assert TAG["3"] not in world.stage1.cells[:, 0] and TAG["3"] in world.stage2.cells[:, 0]  # T3 is fresh
    assert len(world.stage1) == len(world.stage0) + sum(len(world.trained[k]) for k in QA_SUBSETS) + sum(
        len(world.definitions[k]) for k in QA_SUBSETS if k in world.definitions)


def test_heldout_questions_are_evaluated_and_never_trained(world) -> None:
    for k in QA_SUBSETS:
        trained = set(zip(world.trained[k].subject.tolist(), world.trained[k].question.tolist()))
        held = set(zip(world.eval[k].subject.tolist(), world.eval[k].question.tolist()))
        assert held and trained and not trained & held
        assert all(world.heldout[e, j] for e, j in held) and not any(world.heldout[e, j] for e, j in trained)
    for k in STAGE2_SUBSETS:  # every question of a stage-2 variable is an evaluation question
        assert len(world.eval[k]) == 4 * np.sum(world.labels == SUBSETS.index(k))
    for ex in [world.stage0, *world.eval.values()]:
        assert np.array_equal(ex.target, world.attributes[ex.subject, ex.question])
        assert np.array_equal(ex.cells[:, 0], ex.question)  # the question digit j leads


def test_knowledge_questions_show_the_entity_code_where_the_variable_ends(world) -> None:
    k0 = world.stage0
    assert len(k0) == 200 * 4 and np.all(k0.head == 0)
    assert np.array_equal(k0.code[:, -1], k0.subject) and np.all(k0.code[:, :-1] == -1)
    assert np.all(k0.cells[:, 1:] == EMPTY)
    last = make_digit_curriculum(n_entities=60, seed=1, slot="last")
    assert np.array_equal(last.stage0.code[:, -2], last.stage0.subject)  # slot last: code before the slot
    assert np.array_equal(last.stage0.cells[:, -1], last.stage0.question)
    assert np.all(last.stage2.cells[:, -1] >= TAG_CELL)


def test_evaluation_images_are_disjoint_from_training_images(world) -> None:
    pools = world.images
    assert not set(pools.train_index.tolist()) & set(pools.test_index.tolist())
    assert len(pools.train_index) + len(pools.test_index) == len(digits_images()[1])
    x = pools.test_x.reshape(len(pools.test_x), -1)
    train_only = {row.tobytes() for row in pools.train_x.reshape(len(pools.train_x), -1)} - {r.tobytes() for r in x}
    cells = world.eval["d1consis"].cells
    images = pools.render(cells, "test", np.random.default_rng(0))
    by_image = {row.tobytes(): int(y) for row, y in zip(x, pools.test_y)}
    for i, j in zip(*np.nonzero(cells >= 0)):
        key = images[i, j].reshape(-1).tobytes()
        assert key not in train_only and by_image[key] == cells[i, j]  # a test image of the requested class
    a = pools.render(cells, "test", np.random.default_rng(0))
    b = pools.render(cells, "test", np.random.default_rng(1))
    assert np.array_equal(a, images) and not np.array_equal(a, b)  # fresh instances per draw
    tags = world.definitions["d2consis"].cells
    assert np.array_equal(pools.render(tags, "train", np.random.default_rng(2))[:, 0],
                          np.broadcast_to(pools.tags[1], (len(tags), 8, 8)))  # a tag is a fixed patch
    empty = world.stage0.cells[:3]
    assert np.all(pools.render(empty, "train", np.random.default_rng(0))[:, 1:] == 0)
    with pytest.raises(ValueError):
        pools.render(cells, "val", np.random.default_rng(0))


def test_same_seed_same_world_and_stage2_seed_redraws_only_the_stage2_split() -> None:
    a = make_digit_curriculum(n_entities=80, seed=7, stage2_seed=0)
    b = make_digit_curriculum(n_entities=80, seed=7, stage2_seed=0)
    c = make_digit_curriculum(n_entities=80, seed=7, stage2_seed=1)
    for name in ("attributes", "variables", "labels", "stated", "heldout"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    for stage in ("stage0", "stage1"):
        assert np.array_equal(getattr(a, stage).cells, getattr(c, stage).cells)
        assert np.array_equal(getattr(a, stage).target, getattr(c, stage).target)
    assert not np.array_equal(a.labels, c.labels)
    assert set(a.stage2.subject.tolist()) == set(c.stage2.subject.tolist())  # same pool, another d1/d2/d3 cut
    assert not np.array_equal(make_digit_curriculum(n_entities=80, seed=8).variables, a.variables)


def test_helpers() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 10):
        perm = derangement(n, rng)
        assert sorted(perm.tolist()) == list(range(n)) and np.all(perm != np.arange(n))
    with pytest.raises(ValueError):
        derangement(1, rng)
    values, prior = skewed_attributes(5000, 3, 0.7, rng)
    assert np.allclose(prior.sum(1), 1) and prior.max() == pytest.approx(0.3 / (1 - 0.7 ** 10))
    assert np.abs(np.bincount(values[:, 0], minlength=10) / 5000 - prior[0]).max() < 0.03
    assert np.allclose(skewed_attributes(10, 2, 1.0, rng)[1], 0.1)
    assert digit_pools(0).tags.shape == (3, 8, 8)
    with pytest.raises(ValueError):
        make_digit_curriculum(n_entities=50, n_attributes=4, n_heldout=4)
    with pytest.raises(ValueError):
        make_digit_curriculum(n_entities=50, slot="middle")
