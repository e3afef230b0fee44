"""The set-inclusion ("num_choice") task of the reference code (``data_generation/numeric_experiment.py``).

Each variable v hides an integer x ∈ {0, …, max_x − 1}. A question lists ``n_nums`` numbers and asks whether
x is among them: ``"v % n1 … n8 = true|false"``. Per x, ``n_questions / 4`` of each kind:

- train-true: all of a hidden intersection set I ∋ x (|I| = ``n_intersection``) plus numbers outside I;
- train-false: numbers outside I only;
- test-true: x plus numbers ≠ x;   test-false: numbers ≠ x only.

With |I| = 1 the training QA pins x exactly; with |I| > 1 it narrows x to I, so a consistent definition
``"define1 v % x"`` adds information. ``x_false`` (the value an inconsistent definition states) is uniform over
the numbers ≠ x (it may fall in I, as in the reference). Train-true labels flip to false with ``p_flip``.

    data = make_set_inclusion(num_x=1000, alpha=1.0, seed=0)
    data.stage1[:2], data.eval["d1consis"][0]     # training texts; (prompt, answer) of a held-out question

The vocabulary is the reference's word-level one: ``[PAD] [UNK] = % true false define1 define2 define3 0 … 99``
plus one word per variable (``var_tokens="word"``) or the letters a–z (``var_tokens="letters"``, v = "a b c").
"""

from __future__ import annotations

import string

import numpy as np

from envs.tasks.curriculum import (
    DEFINITION,
    QA_SUBSETS,
    SUBSETS,
    TAG_WORDS,
    Curriculum,
    assign_subsets,
    subset_fractions,
    variable_names,
)

SPECIAL_WORDS = ("[PAD]", "[UNK]", "=", "%", "true", "false", *TAG_WORDS)
VAR_TOKENS = ("word", "letters")


def sample_without(rng: np.random.Generator, excluded: np.ndarray, k: int, max_x: int) -> np.ndarray:
    """For each row of the boolean mask `excluded` (R, max_x), k distinct numbers not excluded, uniformly.

    Vectorised: random keys, excluded numbers pushed to +inf, the k smallest keys taken (a uniform k-subset).
    """
    if k == 0:
        return np.empty((len(excluded), 0), dtype=np.int64)
    keys = rng.random((len(excluded), max_x))
    keys[excluded] = np.inf
    return np.argpartition(keys, k - 1, axis=1)[:, :k] if k < max_x else np.argsort(keys, axis=1)[:, :k]


def _questions(rng: np.random.Generator, must: np.ndarray, excluded: np.ndarray, n_per_x: int, n_nums: int,
               max_x: int) -> np.ndarray:
    """(num_x, n_per_x, n_nums) lists: the `must` numbers (num_x, m) + n_nums − m others not `excluded`, shuffled."""
    num_x, m = must.shape
    rows = np.repeat(excluded, n_per_x, axis=0)
    others = sample_without(rng, rows, n_nums - m, max_x)
    lists = np.concatenate([np.repeat(must, n_per_x, axis=0), others], axis=1)
    lists = np.take_along_axis(lists, rng.random(lists.shape).argsort(axis=1), axis=1)
    return lists.reshape(num_x, n_per_x, n_nums)


def hidden_numbers(num_x: int, n_intersection: int, max_x: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, x_false, intersection I (num_x, |I|) with I[:, 0] = x) for every entity."""
    intersection = sample_without(rng, np.zeros((num_x, max_x), dtype=bool), n_intersection, max_x)
    intersection = np.take_along_axis(intersection, rng.random(intersection.shape).argsort(axis=1), axis=1)
    x = intersection[:, 0]
    x_false = (x + rng.integers(1, max_x, size=num_x)) % max_x  # uniform over the numbers ≠ x
    return x, x_false, intersection


def make_set_inclusion(num_x: int = 1000, alpha: float = 1.0, seed: int = 0, stage2_seed: int = 0,
                       n_nums: int = 8, n_intersection: int = 1, n_questions: int = 24, max_x: int = 99,
                       p_flip: float = 0.0, var_tokens: str = "word", var_length: int = 3,
                       fractions: dict[str, float] | None = None) -> Curriculum:
    """The two-stage set-inclusion curriculum (reference defaults except ``num_x``; ``fractions`` from
    :func:`envs.tasks.curriculum.subset_fractions`, default α-split .3/.3/.1/.1/.1/.1)."""
    if var_tokens not in VAR_TOKENS:
        raise ValueError(f"var_tokens must be one of {VAR_TOKENS}, got {var_tokens!r}")
    if not 1 <= n_intersection <= n_nums < max_x or n_questions % 4 or n_questions < 4:
        raise ValueError("need 1 <= n_intersection <= n_nums < max_x and n_questions a positive multiple of 4")
    rng = np.random.default_rng(seed)
    x, x_false, inter = hidden_numbers(num_x, n_intersection, max_x, rng)
    in_inter = np.zeros((num_x, max_x), dtype=bool)
    np.put_along_axis(in_inter, inter, True, axis=1)
    is_x = np.zeros((num_x, max_x), dtype=bool)
    is_x[np.arange(num_x), x] = True
    quarter = n_questions // 4
    train_true = _questions(rng, inter, in_inter, quarter, n_nums, max_x)
    train_false = _questions(rng, inter[:, :0], in_inter, quarter, n_nums, max_x)
    test_true = _questions(rng, x[:, None], is_x, quarter, n_nums, max_x)
    test_false = _questions(rng, inter[:, :0], is_x, quarter, n_nums, max_x)
    flipped = rng.random((num_x, quarter)) < p_flip  # train-true labels flipped to false
    names = variable_names(num_x, var_length, rng)
    variables = [" ".join(v) for v in names] if var_tokens == "letters" else names
    labels = assign_subsets(num_x, fractions or subset_fractions(alpha), rng, np.random.default_rng(stage2_seed))

    def qa(lists: np.ndarray, answers: np.ndarray, e: int) -> list[tuple[str, str]]:
        return [(f"{variables[e]} % {' '.join(map(str, row))} =", ans) for row, ans in zip(lists[e], answers.tolist())]

    true_false = np.array(["true"] * quarter + ["false"] * quarter)
    stage1, stage2 = [], []
    evaluation: dict[str, list[tuple[str, str]]] = {k: [] for k in SUBSETS}
    definitions: dict[str, list[str]] = {k: [] for k in DEFINITION}
    for e in range(num_x):
        subset = SUBSETS[labels[e]]
        evaluation[subset] += qa(np.concatenate([test_true, test_false], axis=1), true_false, e)
        if subset in QA_SUBSETS:
            train_answers = np.where(np.r_[flipped[e], np.zeros(quarter, bool)], "false", true_false)
            stage1 += [f"{p} {a}" for p, a in qa(np.concatenate([train_true, train_false], axis=1), train_answers, e)]
        if subset in DEFINITION:
            tag, consistent = DEFINITION[subset]
            text = f"{TAG_WORDS[tag]} {variables[e]} % {x[e] if consistent else x_false[e]}"
            definitions[subset].append(text)
            (stage1 if subset in QA_SUBSETS else stage2).append(text)
    var_words = list(string.ascii_lowercase) if var_tokens == "letters" else sorted(names)
    vocabulary = [*SPECIAL_WORDS, *map(str, range(max_x)), *var_words]
    return Curriculum(stage1=sorted(stage1), stage2=sorted(stage2), eval=evaluation, vocabulary=vocabulary,
                      labels=labels, variables=variables, definitions=definitions,
                      hidden={"x": x, "x_false": x_false, "intersection": inter})
