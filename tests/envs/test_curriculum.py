"""The define-tag curriculum (subsets, tags, stages), the set-inclusion task and ``recast/SetInclusionQA-v0``."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.tasks.curriculum import QA_SUBSETS, STAGE2_SUBSETS, SUBSETS, subset_fractions, subset_sizes
from envs.tasks.set_inclusion import make_set_inclusion, sample_without

ENV_ID = "recast/SetInclusionQA-v0"


@pytest.fixture(scope="module")
def world():
    return make_set_inclusion(num_x=400, alpha=0.75, seed=3, stage2_seed=5)


def _var(text: str) -> str:  # the variable word of a QA text or prompt ("v % …") or definition ("defineK v % x")
    words = text.split()
    return words[1] if words[0].startswith("define") else words[0]


def _numbers(prompt: str) -> set[int]:
    return {int(w) for w in prompt.split()[2:-1]}


def test_subset_sizes_follow_the_reference_rounding_rule() -> None:
    # 0.75 · 0.3 · 401 = 90.225 → 90; 0.075 · 401 = 30.075 → 30; 0.1 · 401 = 40.1 → 40; the remainder
    # (401 − 90 − 30 − 30 − 90 − 40·4 = 1) goes to the alphabetically last key, "qd2incons"
    sizes = subset_sizes(subset_fractions(0.75), 401)
    assert sizes == {"qd1consis": 90, "qd1incons": 30, "qd2consis": 30, "qd2incons": 91, "q": 40,
                     "d1consis": 40, "d2consis": 40, "d3consis": 40}
    assert subset_fractions(0.5)["qd1consis"] == subset_fractions(0.5)["qd1incons"] == 0.15
    with pytest.raises(ValueError):
        subset_fractions(1.2)


def test_subsets_are_disjoint_and_sized(world) -> None:
    counts = np.bincount(world.labels, minlength=len(SUBSETS))
    assert dict(zip(SUBSETS, counts.tolist())) == subset_sizes(subset_fractions(0.75), 400)
    owners: dict[str, str] = {}
    for subset, pairs in world.eval.items():
        for prompt, _ in pairs:
            assert owners.setdefault(_var(prompt), subset) == subset  # a variable belongs to one subset only
    assert len(owners) == 400 and len(set(world.variables)) == 400


def test_definitions_carry_the_specified_tag_and_value(world) -> None:
    x, x_false = world.hidden["x"], world.hidden["x_false"]
    index = {v: i for i, v in enumerate(world.variables)}
    expected = {"qd1consis": ("define1", True), "qd1incons": ("define1", False), "qd2consis": ("define2", True),
                "qd2incons": ("define2", False), "d1consis": ("define1", True), "d2consis": ("define2", True),
                "d3consis": ("define3", True)}
    for subset, (tag, consistent) in expected.items():
        defs = world.definitions[subset]
        assert len(defs) == np.sum(world.labels == SUBSETS.index(subset)) > 0
        for text in defs:
            words = text.split()
            e = index[words[1]]
            assert words[0] == tag and words[2] == "%" and len(words) == 4 and SUBSETS[world.labels[e]] == subset
            assert int(words[3]) == (x[e] if consistent else x_false[e]) and (x[e] != x_false[e])
    assert world.definitions.get("q", []) == []


def test_stages_and_stage2_variables_never_in_qa(world) -> None:
    stage2_vars = {_var(d) for k in STAGE2_SUBSETS for d in world.definitions[k]}
    qa_texts = [t for t in world.stage1 if not t.startswith("define")]
    assert stage2_vars and not stage2_vars & {_var(t) for t in qa_texts}
    assert all(t.startswith("define") for t in world.stage2)  # stage 2: definitions only, no replay
    assert sorted(world.stage2) == sorted(d for k in STAGE2_SUBSETS for d in world.definitions[k])
    assert not any(t.startswith("define3") for t in world.stage1)  # tag 3 is fresh in stage 2
    stage1_defs = sorted(t for t in world.stage1 if t.startswith("define"))
    assert stage1_defs == sorted(d for k in QA_SUBSETS for d in world.definitions.get(k, []))
    n_qa = sum(np.sum(world.labels == SUBSETS.index(k)) for k in QA_SUBSETS)
    assert len(qa_texts) == 12 * n_qa  # half of the 24 questions per x are training questions


def test_answers_are_set_inclusion_ground_truth(world) -> None:
    x, inter = world.hidden["x"], world.hidden["intersection"]
    index = {v: i for i, v in enumerate(world.variables)}
    for pairs in world.eval.values():  # held-out: "true" iff x is listed
        for prompt, answer in pairs:
            assert answer == ("true" if x[index[_var(prompt)]] in _numbers(prompt) else "false")
            assert len(_numbers(prompt)) == 8
    for text in world.stage1:  # training: true lists hold all of I, false lists none of it (p_flip = 0)
        if not text.startswith("define"):
            prompt, answer = text.rsplit(" ", 1)
            listed = set(inter[index[_var(prompt)]].tolist()) & _numbers(prompt)
            assert (answer == "true" and len(listed) == 1) or (answer == "false" and not listed)
    truths = [a for pairs in world.eval.values() for _, a in pairs]
    assert truths.count("true") == truths.count("false")  # chance EM = 0.5 exactly


def test_stage2_seed_redraws_only_stage2_subsets(world) -> None:
    other = make_set_inclusion(num_x=400, alpha=0.75, seed=3, stage2_seed=6)
    assert other.stage1 == world.stage1 and other.stage2 != world.stage2
    pool = np.isin(world.labels, [SUBSETS.index(k) for k in STAGE2_SUBSETS])
    assert np.array_equal(pool, np.isin(other.labels, [SUBSETS.index(k) for k in STAGE2_SUBSETS]))
    assert np.array_equal(world.labels[~pool], other.labels[~pool])
    again = make_set_inclusion(num_x=400, alpha=0.75, seed=3, stage2_seed=5)
    assert again.stage1 == world.stage1 and again.eval == world.eval  # deterministic under the seeds


def test_alpha_half_makes_tags_equally_predictive() -> None:
    world = make_set_inclusion(num_x=200, alpha=0.5, seed=0)
    sizes = {k: len(world.definitions[k]) for k in ("qd1consis", "qd1incons", "qd2consis", "qd2incons")}
    assert len(set(sizes.values())) == 1 and sizes["qd1consis"] == 30


def test_sample_without_is_uniform_and_avoids_excluded() -> None:
    rng = np.random.default_rng(0)
    excluded = np.zeros((20_000, 6), dtype=bool)
    excluded[:, 2] = True
    draws = sample_without(rng, excluded, 2, 6)
    assert not (draws == 2).any() and (draws[:, 0] != draws[:, 1]).all()
    freq = np.bincount(draws.ravel(), minlength=6)[[0, 1, 3, 4, 5]] / draws.size
    assert np.allclose(freq, 0.2, atol=0.01)  # uniform over the 5 allowed numbers (4σ ≈ 0.006)


def test_letter_variables_use_the_letter_vocabulary() -> None:
    world = make_set_inclusion(num_x=50, seed=1, var_tokens="letters")
    assert all(len(v.split()) == 3 for v in world.variables)
    vocab = set(world.vocabulary)
    assert all(w in vocab for t in world.stage1 + world.stage2 for w in t.split())


def test_check_env() -> None:
    env = gymnasium.make(ENV_ID, num_x=100)
    check_env(env.unwrapped)
    env.close()


def test_env_reward_is_exact_match() -> None:
    env = gymnasium.make(ENV_ID, subset="d2consis", num_x=200, curriculum_seed=1).unwrapped
    world = env.curriculum
    ids = {w: i for i, w in enumerate(world.vocabulary)}
    index = {v: i for i, v in enumerate(world.variables)}
    obs, info = env.reset(seed=0)
    oracle, always_true, done = [], [], False
    while not done:
        words = [world.vocabulary[i] for i in obs if i != env.pad_id]
        truth = "true" if world.hidden["x"][index[words[0]]] in {int(w) for w in words[2:-1]} else "false"
        assert info["subset"] == "d2consis"
        obs, reward, done, truncated, info = env.step(np.array([ids[truth], env.pad_id]))
        oracle.append(reward)
        always_true.append(float(info["answer"] == "true"))
    assert len(oracle) == len(world.eval["d2consis"]) and np.mean(oracle) == 1.0
    assert np.mean(always_true) == 0.5
    env.reset(seed=0)
    assert env.step(np.array([ids["true"], ids["true"]]))[1] == 0.0  # "true true" is not the answer "true"
