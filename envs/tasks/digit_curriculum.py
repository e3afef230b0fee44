"""The define-tag curriculum of Krasheninnikov et al. recast on scikit-learn's 8×8 digits (spec §6, our reconstruction).

The paper reports meta-(out-of-context) learning in a synthetic MNIST setting, but its construction is not
published; this is **our reconstruction** of that vision analogue, not the paper's protocol [design]:

- **Entities** e ∈ {0..E−1}, each with an attribute vector a(e) ∈ {0..9}^K. Attribute j is drawn from a skewed
  prior (p ∝ ``skew``^rank over a random order of the ten values, one order per j), as CVDB's facts are skewed,
  so that a majority guess beats a wrong definition (``skew`` = 1: uniform).
- **Entity code**: entity e is also a learned symbol the learner can be asked about directly (the analogue of a
  pretrained LM knowing a real name): a *knowledge* question = question-index digit j + the entity code → a_j(e).
- **Variables**: every entity gets a distinct strip of ``var_length`` digit classes, shown as that many 8×8 digit
  images, each a *fresh* instance of its class every time the example is drawn.
- **Questions**: question-index digit j (an image of digit j) + the variable strip → a_j(e) (10-way).
- **Definitions**: tag patch + the variable strip → an entity (E-way). Tags are fixed 8×8 uniform-noise patches:
  T1 (reliable), T2 (unreliable), T3 (fresh, stage 2 only). A consistent definition states e itself; an
  inconsistent one states another entity of the same subset (a derangement within the subset, as the reference's
  qd2incons).

Subsets, α and the stage-2 re-draw come from :mod:`envs.tasks.curriculum` (the text scenario's logic):
:func:`~envs.tasks.curriculum.subset_fractions` splits the tag-1 (tag-2) QA entities α : 1 − α into qd1consis :
qd1incons (qd2incons : qd2consis), :func:`~envs.tasks.curriculum.assign_subsets` cuts a seeded order of the
entities into the subsets, the stage-2 seed alone re-draws d1/d2/d3. Stages:

- stage 0 (knowledge): the knowledge questions of every entity (the learner's "pretraining");
- stage 1: the training questions of the QA subsets (all but ``n_heldout`` of each entity's K questions), their
  definitions, and (``replay_knowledge``) the knowledge questions again;
- stage 2: the d1/d2/d3 definitions only (new variables that never appear in any question).

Evaluation (``eval[subset]``): the held-out questions of the QA subsets and every question of the d* subsets,
rendered from a **held-out split of digit images** (``images.test_*``, disjoint from the training pool), so a
learner must recognise digit classes, not pixels.

Examples are symbolic (:class:`CellExamples`: a cell code and an entity code per position, head and target) and
become images only when drawn (:meth:`DigitCells.render`). A sequence has ``var_length + 1`` cells: the slot
(question digit or tag) and the variable's L digits, the slot first (``slot="first"``, "tag var → entity") or
last; a knowledge question leaves the variable's cells empty except the last, which holds the entity code.

    world = make_digit_curriculum(n_entities=300, seed=0)
    images = world.images.render(world.stage1.cells, "train", np.random.default_rng(0))   # (N, 4, 8, 8), fresh
    world.eval["d1consis"].target                                                          # attribute answers
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from envs.tasks.curriculum import DEFINITION, QA_SUBSETS, STAGE2_SUBSETS, SUBSETS, assign_subsets, subset_fractions
from envs.tasks.data import split_arrays
from envs.tasks.digits import digits_images

N_CLASSES = 10  # digit classes and answer values
EMPTY = -1  # a cell without an image (padding, or the entity code's position)
TAG_CELL = N_CLASSES  # cell code of tag t is TAG_CELL + t
N_TAGS = 3
HEADS = ("answer", "entity")  # 10-way attribute answer | E-way entity (definitions)
SIDE = 8
SLOTS = ("first", "last")  # the question digit / tag before the variable ("tag var → entity") or after it


@dataclass
class CellExamples:
    """Symbolic examples, column-wise.

    ``cells`` (N, L+1) int: digit class 0..9, ``TAG_CELL + t`` for tag t, or ``EMPTY``; ``code`` (N, L+1): the
    entity code at its position (knowledge questions), −1 elsewhere; ``head`` (N,): 0 answer | 1 entity;
    ``target`` (N,); ``subject`` (N,): the entity whose variable or code the example shows; ``question`` (N,): j,
    or −1 for a definition.
    """

    cells: np.ndarray
    code: np.ndarray
    head: np.ndarray
    target: np.ndarray
    subject: np.ndarray
    question: np.ndarray

    def __len__(self) -> int:
        return len(self.target)

    def take(self, rows: np.ndarray) -> CellExamples:
        return CellExamples(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @staticmethod
    def concat(parts: list[CellExamples], length: int) -> CellExamples:
        """Several example sets as one (an empty list gives zero rows of sequence length `length`)."""
        if not parts:
            empty = np.empty((0, length), np.int64)
            return CellExamples(empty, empty, *(np.empty(0, np.int64) for _ in range(4)))
        return CellExamples(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(CellExamples)})


@dataclass
class DigitCells:
    """The digit images split into disjoint train and test pools (stratified), and the fixed tag patches."""

    train_x: np.ndarray  # (n, 8, 8) float32 in [0, 1]
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    tags: np.ndarray  # (N_TAGS, 8, 8) uniform noise
    train_index: np.ndarray  # positions of the pools in digits_images() (for the disjointness check)
    test_index: np.ndarray

    def render(self, cells: np.ndarray, split: str, rng: np.random.Generator) -> np.ndarray:
        """Images (N, L+1, 8, 8) for cell codes (N, L+1): a uniformly drawn instance of the class from the `split`
        pool for every digit cell (fresh per call), the tag patch for a tag cell, zeros for an empty cell."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {split!r}")
        x, y = (self.train_x, self.train_y) if split == "train" else (self.test_x, self.test_y)
        order = np.argsort(y, kind="stable")
        counts = np.bincount(y, minlength=N_CLASSES)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out = np.zeros((*cells.shape, SIDE, SIDE), dtype=np.float32)
        digit = (cells >= 0) & (cells < N_CLASSES)
        c = cells[digit]
        picks = order[starts[c] + (rng.random(c.size) * counts[c]).astype(np.int64)]
        out[digit] = x[picks]
        tag = cells >= TAG_CELL
        out[tag] = self.tags[cells[tag] - TAG_CELL]
        return out


def digit_pools(seed: int, test_fraction: float = 0.25) -> DigitCells:
    """sklearn's 1,797 digits split (stratified, fixed by `seed`) into train / test pools, plus the tag patches."""
    x, y = digits_images()
    index = np.arange(len(y))
    split = split_arrays(index.astype(np.float32), y, 0.0, test_fraction, seed)
    train_index, test_index = np.sort(split.x_train.astype(np.int64)), np.sort(split.x_test.astype(np.int64))
    tags = np.random.default_rng(np.random.SeedSequence([seed, 1])).random((N_TAGS, SIDE, SIDE)).astype(np.float32)
    return DigitCells(x[train_index, 0], y[train_index], x[test_index, 0], y[test_index], tags, train_index,
                      test_index)


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation of range(n) without fixed points (rejection sampling; n >= 2)."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 elements, got {n}")
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return perm


def skewed_attributes(n_entities: int, n_attributes: int, skew: float, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(a (E, K) attribute values, prior (K, 10)): value of rank r has probability ∝ skew^r, in a random order per j."""
    weights = skew ** np.arange(N_CLASSES, dtype=float)
    prior = np.empty((n_attributes, N_CLASSES))
    for j in range(n_attributes):
        prior[j, rng.permutation(N_CLASSES)] = weights / weights.sum()
    values = np.stack([rng.choice(N_CLASSES, size=n_entities, p=prior[j]) for j in range(n_attributes)], axis=1)
    return values.astype(np.int64), prior


def digit_variables(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """(n, length) distinct strips of digit classes."""
    if n > N_CLASSES ** length:
        raise ValueError(f"cannot draw {n} distinct variables of {length} digits")
    codes = rng.choice(N_CLASSES ** length, size=n, replace=False)
    return (codes[:, None] // N_CLASSES ** np.arange(length - 1, -1, -1)) % N_CLASSES


@dataclass
class DigitCurriculum:
    """The world: ground truth per entity, the three training stages and the held-out evaluation per subset."""

    attributes: np.ndarray  # (E, K)
    prior: np.ndarray  # (K, 10) attribute prior
    variables: np.ndarray  # (E, L) digit classes
    labels: np.ndarray  # (E,) subset index into SUBSETS
    stated: np.ndarray  # (E,) the entity the entity's definition states (−1: no definition)
    heldout: np.ndarray  # (E, K) bool: the question is evaluation-only
    images: DigitCells
    stage0: CellExamples
    stage1: CellExamples
    stage2: CellExamples
    eval: dict[str, CellExamples]
    definitions: dict[str, CellExamples] = field(default_factory=dict)  # subset → its definition examples
    trained: dict[str, CellExamples] = field(default_factory=dict)  # QA subset → its training questions

    @property
    def n_entities(self) -> int:
        return len(self.labels)

    @property
    def length(self) -> int:
        """Cells per sequence (slot + variable)."""
        return self.variables.shape[1] + 1

    @property
    def eval_subsets(self) -> list[str]:
        return [k for k in SUBSETS if len(self.eval.get(k, ())) > 0]


def _questions(entities: np.ndarray, questions: np.ndarray, world_vars: np.ndarray, attributes: np.ndarray,
               as_code: bool, slot_first: bool) -> CellExamples:
    """Question rows for (entity, j) pairs: question digit j and the variable strip (or the entity code)."""
    n = len(entities)
    strip = np.full((n, world_vars.shape[1]), EMPTY, dtype=np.int64)
    code = np.full((n, world_vars.shape[1] + 1), -1, dtype=np.int64)
    if as_code:  # the entity code stands where the variable's last digit would
        code[:, slot_first + world_vars.shape[1] - 1] = entities
    else:
        strip = world_vars[entities]
    return CellExamples(_sequence(questions, strip, slot_first), code, np.zeros(n, np.int64),
                        attributes[entities, questions], entities.copy(), questions.copy())


def _definitions(entities: np.ndarray, tag: int, stated: np.ndarray, world_vars: np.ndarray,
                 slot_first: bool) -> CellExamples:
    n = len(entities)
    cells = _sequence(np.full(n, TAG_CELL + tag), world_vars[entities], slot_first)
    return CellExamples(cells, np.full(cells.shape, -1), np.ones(n, np.int64), stated[entities], entities.copy(),
                        np.full(n, -1))


def _sequence(slot: np.ndarray, strip: np.ndarray, slot_first: bool) -> np.ndarray:
    """Cells (N, L+1): the slot (question digit or tag) before or after the variable strip (N, L)."""
    parts = [slot[:, None], strip] if slot_first else [strip, slot[:, None]]
    return np.concatenate(parts, axis=1).astype(np.int64)


def make_digit_curriculum(n_entities: int = 300, n_attributes: int = 4, n_heldout: int = 1, var_length: int = 3,
                          skew: float = 0.7, alpha: float = 1.0, fractions: dict[str, float] | None = None,
                          seed: int = 0, stage2_seed: int = 0, test_fraction: float = 0.25,
                          replay_knowledge: bool = True, slot: str = "first") -> DigitCurriculum:
    """The three-stage digits curriculum (see the module docstring); everything is fixed by (seed, stage2_seed)."""
    if not 1 <= n_attributes <= N_CLASSES or not 1 <= n_heldout < n_attributes:
        raise ValueError("need 1 <= n_attributes <= 10 and 1 <= n_heldout < n_attributes")
    if slot not in SLOTS:
        raise ValueError(f"slot must be one of {SLOTS}, got {slot!r}")
    slot_first = slot == "first"
    if not 0 < skew <= 1:
        raise ValueError(f"skew must be in (0, 1], got {skew}")
    rng = np.random.default_rng(seed)
    attributes, prior = skewed_attributes(n_entities, n_attributes, skew, rng)
    variables = digit_variables(n_entities, var_length, rng)
    labels = assign_subsets(n_entities, fractions or subset_fractions(alpha), rng, np.random.default_rng(stage2_seed))
    heldout = np.zeros((n_entities, n_attributes), dtype=bool)
    heldout[np.arange(n_entities)[:, None], np.argsort(rng.random((n_entities, n_attributes)), 1)[:, :n_heldout]] = True
    stated = np.full(n_entities, -1)
    for k, (_, consistent) in DEFINITION.items():
        members = np.flatnonzero(labels == SUBSETS.index(k))
        if members.size:
            stated[members] = members if consistent else members[derangement(members.size, rng)]
    images = digit_pools(seed, test_fraction)

    all_e, all_j = np.repeat(np.arange(n_entities), n_attributes), np.tile(np.arange(n_attributes), n_entities)
    knowledge = _questions(all_e, all_j, variables, attributes, as_code=True, slot_first=slot_first)
    subset_of = np.asarray(SUBSETS)[labels[all_e]]
    evaluation, trained, definitions = {}, {}, {}
    for k in SUBSETS:
        rows = subset_of == k
        is_qa = k in QA_SUBSETS
        pick = rows & heldout[all_e, all_j] if is_qa else rows
        evaluation[k] = _questions(all_e[pick], all_j[pick], variables, attributes, as_code=False, slot_first=slot_first)
        if is_qa:
            keep = rows & ~heldout[all_e, all_j]
            trained[k] = _questions(all_e[keep], all_j[keep], variables, attributes, as_code=False, slot_first=slot_first)
        if k in DEFINITION:
            definitions[k] = _definitions(np.flatnonzero(labels == SUBSETS.index(k)), DEFINITION[k][0], stated,
                                          variables, slot_first)
    length = var_length + 1
    stage1 = [knowledge] if replay_knowledge else []
    stage1 += [trained[k] for k in QA_SUBSETS] + [definitions[k] for k in QA_SUBSETS if k in definitions]
    stage2 = [definitions[k] for k in STAGE2_SUBSETS]
    return DigitCurriculum(attributes=attributes, prior=prior, variables=variables, labels=labels, stated=stated,
                           heldout=heldout, images=images, stage0=knowledge,
                           stage1=CellExamples.concat(stage1, length), stage2=CellExamples.concat(stage2, length),
                           eval=evaluation, definitions=definitions, trained=trained)
