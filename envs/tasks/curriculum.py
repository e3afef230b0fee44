"""The staged define-tag curriculum of Krasheninnikov et al. (2023/2024): subsets, tags, stage datasets.

Every entity (here: a hidden number) gets a variable name and one subset label. The subsets decide what the
training data says about the variable (reference code ``data_generation/define_experiment.py``):

=============  =========================  ===========================================================
subset         stage-1 training data      definition
=============  =========================  ===========================================================
``qd1consis``  QA (train half)            ``define1 v % x``       (tag 1, consistent with the QA)
``qd1incons``  QA                         ``define1 v % x_false`` (tag 1, inconsistent) — α < 1 only
``qd2consis``  QA                         ``define2 v % x``       (tag 2, consistent)   — α < 1 only
``qd2incons``  QA                         ``define2 v % x_false`` (tag 2, inconsistent)
``q``          QA                         none
``d1consis``   — (stage 2: definition)    ``define1 v % x``
``d2consis``   — (stage 2: definition)    ``define2 v % x``
``d3consis``   — (stage 2: definition)    ``define3 v % x`` (tag 3 never appears in stage 1)
=============  =========================  ===========================================================

Stage 1 = train QA of the QA subsets + their definitions; stage 2 = the d* definitions only (no replay). The
held-out QA of every subset is the evaluation set; d* variables never appear in any training QA.

Predictiveness α = P(definition consistent | tag 1) = P(definition inconsistent | tag 2): the tag-1 entities
split α : 1 − α into qd1consis : qd1incons, the tag-2 entities α : 1 − α into qd2incons : qd2consis (the CVDB
configs' 0.175/0.075 split at α = 0.7). α = 1 is the reference's numeric setting; α = 0.5 makes the tags
uninformative (the negative control). The numeric reference code raises NotImplementedError for qd1incons; the
α < 1 numeric curriculum is our extension of the CVDB construction [design].
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

QA_SUBSETS = ("qd1consis", "qd1incons", "qd2consis", "qd2incons", "q")
STAGE2_SUBSETS = ("d1consis", "d2consis", "d3consis")
SUBSETS = QA_SUBSETS + STAGE2_SUBSETS
TAG_WORDS = ("define1", "define2", "define3")
# subset → (tag index into TAG_WORDS, definition consistent with the QA?); "q" has no definition
DEFINITION = {"qd1consis": (0, True), "qd1incons": (0, False), "qd2consis": (1, True), "qd2incons": (1, False),
              "d1consis": (0, True), "d2consis": (1, True), "d3consis": (2, True)}


def subset_fractions(alpha: float, tag1: float = 0.3, tag2: float = 0.3, q: float = 0.1, d1: float = 0.1,
                     d2: float = 0.1, d3: float = 0.1) -> dict[str, float]:
    """Fraction of entities per subset; tag-1 (tag-2) QA entities split by α into consistent (inconsistent).

    The defaults are the reference numeric generator's (``make_num_selection_dataset``: .3/.3/.1/.1/.1/.1).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    fractions = {"qd1consis": alpha * tag1, "qd1incons": (1 - alpha) * tag1, "qd2consis": (1 - alpha) * tag2,
                 "qd2incons": alpha * tag2, "q": q, "d1consis": d1, "d2consis": d2, "d3consis": d3}
    if min(fractions.values()) < 0 or abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"subset fractions must be >= 0 and sum to 1, got {fractions}")
    return fractions


def subset_sizes(fractions: dict[str, float], n: int) -> dict[str, int]:
    """round(fraction · n) per subset; the rounding remainder goes to the alphabetically last key (reference rule)."""
    sizes = {k: round(n * f) for k, f in fractions.items()}
    last = sorted(fractions)[-1]
    sizes[last] += n - sum(sizes.values())
    if sizes[last] < 0:
        raise ValueError(f"cannot split {n} entities into {fractions}")
    return sizes


def assign_subsets(n: int, fractions: dict[str, float], rng: np.random.Generator,
                   rng_stage2: np.random.Generator) -> np.ndarray:
    """Subset label (index into :data:`SUBSETS`) per entity.

    As in the reference: a random order of the entities is cut into the stage-1 subsets and one combined stage-2
    pool; the stage-2 seed alone re-orders the pool before it is cut into d1/d2/d3, so stage-1 data do not depend
    on the stage-2 seed.
    """
    stage1 = {k: fractions[k] for k in QA_SUBSETS}
    pool = sum(fractions[k] for k in STAGE2_SUBSETS)
    sizes = subset_sizes({**stage1, "stage2_pool": pool}, n)  # "stage2_pool" sorts last, as "stage2_combined"
    order = rng.permutation(n)
    labels = np.empty(n, dtype=np.int64)
    start = 0
    for k in QA_SUBSETS:
        labels[order[start:start + sizes[k]]] = SUBSETS.index(k)
        start += sizes[k]
    pool_entities = rng_stage2.permutation(np.sort(order[start:]))
    shares = {k: fractions[k] / pool if pool > 0 else 0.0 for k in STAGE2_SUBSETS}
    start = 0
    for k, size in subset_sizes(shares, len(pool_entities)).items():
        labels[pool_entities[start:start + size]] = SUBSETS.index(k)
        start += size
    return labels


def variable_names(n: int, length: int, rng: np.random.Generator) -> list[str]:
    """n distinct random lower-case names of `length` letters (the reference's ``generate_variable_names``)."""
    if n > 26 ** length:
        raise ValueError(f"cannot draw {n} distinct names of {length} letters")
    codes = rng.choice(26 ** length, size=n, replace=False)
    digits = (codes[:, None] // 26 ** np.arange(length - 1, -1, -1)) % 26
    letters = np.array(list(string.ascii_lowercase))
    return ["".join(row) for row in letters[digits]]


@dataclass
class Curriculum:
    """Two training stages and held-out QA per subset, as whitespace-separated word sequences.

    ``stage1`` / ``stage2``: training texts (full sequences); ``eval[subset]``: (prompt, answer) pairs of
    held-out questions; ``vocabulary``: every word the texts use (special tokens first); ``labels``: subset index
    per entity; ``variables``: the variable word(s) per entity.
    """

    stage1: list[str]
    stage2: list[str]
    eval: dict[str, list[tuple[str, str]]]
    vocabulary: list[str]
    labels: np.ndarray
    variables: list[str]
    definitions: dict[str, list[str]] = field(default_factory=dict)  # subset → its definition texts
    hidden: dict[str, np.ndarray] = field(default_factory=dict)  # ground truth per entity (e.g. x, x_false)

    @property
    def eval_subsets(self) -> list[str]:
        """The subsets with held-out questions, in :data:`SUBSETS` order."""
        return [k for k in SUBSETS if self.eval.get(k)]
