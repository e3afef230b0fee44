"""Captions, a word-level tokenizer and the token → object ground truth.

A scene's caption lists its objects in index order, ``"<size> <colour> <shape>"`` joined by ``"and"``:
``"big red circle and small blue square"`` (full captions: object j's words at positions 4j..4j+2, ``"and"`` at
4j+3). Partial captions (``detail`` < 1) drop size/colour words at random: ``"red circle and square"``. Every
content token knows its object (``token_object``) and hence its exact patch mask.
Token id 0 is padding; captions are padded to ``max_len = 4 K - 1`` tokens (K = max objects).

Single-object (partial) captions — Llip's caption diversity — name one object: ``"[size] [colour] shape"``. A
caption is a *query* (size, colour, shape) with ``ANY`` (-1) for an unnamed attribute; it is valid for an image
iff some object of the image matches every named attribute (:func:`describes`, exact ground truth).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.media.shapes import COLOURS, N_CLASSES, SHAPES, SIZES, class_attributes

PAD = "<pad>"
WORDS = (PAD, "and", *SIZES, *COLOURS, *SHAPES)
# Word kinds: 0 padding, 1 connective, 2 size, 3 colour, 4 shape.
KIND_PAD, KIND_AND, KIND_SIZE, KIND_COLOUR, KIND_SHAPE = range(5)
KIND_NAMES = ("pad", "and", "size", "colour", "shape")


class Vocabulary:
    """Word-level tokenizer over the world's closed vocabulary (id 0 = padding)."""

    def __init__(self, words: Sequence[str] = WORDS):
        if words[0] != PAD or len(set(words)) != len(words):
            raise ValueError(f"vocabulary must start with {PAD!r} and have unique words, got {words}")
        self.words = tuple(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        kinds = {PAD: KIND_PAD, "and": KIND_AND, **{w: KIND_SIZE for w in SIZES},
                 **{w: KIND_COLOUR for w in COLOURS}, **{w: KIND_SHAPE for w in SHAPES}}
        self.kinds = np.array([kinds.get(w, KIND_AND) for w in self.words], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad_id(self) -> int:
        return 0

    def encode(self, text: str, max_len: int | None = None) -> np.ndarray:
        """Token ids of a whitespace-separated text, padded to `max_len` (ValueError on unknown words / overflow)."""
        words = text.split()
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise ValueError(f"unknown word(s) {unknown} in {text!r}; vocabulary: {self.words[1:]}")
        if not words:
            raise ValueError("cannot encode an empty text")
        max_len = max_len or len(words)
        if len(words) > max_len:
            raise ValueError(f"{text!r} has {len(words)} tokens, more than max_len={max_len}")
        ids = np.zeros(max_len, dtype=np.int64)
        ids[: len(words)] = [self.index[w] for w in words]
        return ids

    def encode_batch(self, texts: Sequence[str], max_len: int | None = None) -> np.ndarray:
        max_len = max_len or max(len(t.split()) for t in texts)
        return np.stack([self.encode(t, max_len) for t in texts])

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        ids = np.asarray(ids)
        if ids.ndim != 1 or ((ids < 0) | (ids >= len(self))).any():
            raise ValueError(f"token ids must be a 1-D array in [0, {len(self)}), got {ids}")
        return " ".join(self.words[i] for i in ids if i != self.pad_id)


VOCAB = Vocabulary()


def max_caption_len(max_objects: int) -> int:
    return 4 * max_objects - 1


def captions(attributes: np.ndarray, n_objects: np.ndarray, vocab: Vocabulary = VOCAB, detail: float = 1.0,
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Caption tokens (N, 4K-1) and the object each token names (N, 4K-1; -1 for ``and`` and padding).

    Object j contributes ``[size] [colour] shape``, objects joined by ``and``. With ``detail`` < 1 each size and
    colour word is kept with probability ``detail`` (drawn from `rng`): partial, more natural captions whose
    words still have exact masks. Vectorised: words are laid out on an (N, K, 4) grid, then compacted.
    """
    n, k = attributes.shape[:2]
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    size_ids = np.array([vocab.index[w] for w in SIZES])
    colour_ids = np.array([vocab.index[w] for w in COLOURS])
    shape_ids = np.array([vocab.index[w] for w in SHAPES])
    present = np.arange(k)[None, :] < n_objects[:, None]
    a = np.where(present[..., None], attributes, 0)
    words = np.stack([size_ids[a[..., 0]], colour_ids[a[..., 1]], shape_ids[a[..., 2]],
                      np.full((n, k), vocab.index["and"])], axis=-1)  # (N, K, 4)
    has_next = np.arange(k)[None, :] < (n_objects[:, None] - 1)
    keep = np.concatenate([np.repeat(present[..., None], 3, -1), has_next[..., None]], axis=-1)
    if detail < 1.0:
        if rng is None:
            raise ValueError("partial captions (detail < 1) need an rng")
        keep[..., :2] &= rng.random((n, k, 2)) < detail
    owner = np.full((n, k, 4), -1)
    owner[..., :3] = np.arange(k)[None, :, None]
    flat_keep, flat_words, flat_owner = keep.reshape(n, 4 * k), words.reshape(n, 4 * k), owner.reshape(n, 4 * k)
    order = np.argsort(~flat_keep, axis=1, kind="stable")[:, : 4 * k - 1]  # kept words first, in order
    kept = np.take_along_axis(flat_keep, order, axis=1)
    tokens = np.where(kept, np.take_along_axis(flat_words, order, axis=1), vocab.pad_id)
    token_object = np.where(kept, np.take_along_axis(flat_owner, order, axis=1), -1)
    return tokens.astype(np.int64), token_object.astype(np.int64)


def caption_text(attributes: np.ndarray) -> str:
    """The caption of one scene's (K, 3) attributes (absent objects = -1 rows)."""
    parts = [f"{SIZES[s]} {COLOURS[c]} {SHAPES[h]}" for s, c, h in attributes if s >= 0]
    return " and ".join(parts)


def class_prompts() -> list[str]:
    """The N_CLASSES single-object prompts ``"<size> <colour> <shape>"`` in label order."""
    out = []
    for label in range(N_CLASSES):
        s, c, h = class_attributes(label)
        out.append(f"{SIZES[s]} {COLOURS[c]} {SHAPES[h]}")
    return out


ANY = -1  # an attribute a single-object caption does not name


def object_queries(attributes: np.ndarray, n_objects: np.ndarray, rng: np.random.Generator, detail: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One object per scene, uniform over its present objects, and the (N, 3) query its partial caption names.

    The shape is always named; size and colour words are each kept with probability ``detail`` (else ``ANY``).
    Returns (target object (N,), query (N, 3)).
    """
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    n = len(n_objects)
    target = np.minimum((rng.random(n) * n_objects).astype(np.int64), n_objects - 1)
    query = attributes[np.arange(n), target].copy()
    if detail < 1.0:
        query[:, :2][rng.random((n, 2)) >= detail] = ANY
    return target, query


def query_tokens(query: np.ndarray, vocab: Vocabulary = VOCAB, max_len: int = 3) -> np.ndarray:
    """Token ids (M, max_len) of ``"[size] [colour] shape"`` captions of (M, 3) queries (``ANY`` words dropped)."""
    query = np.asarray(query, dtype=np.int64)
    if query.ndim != 2 or query.shape[1] != 3 or max_len < 3:
        raise ValueError(f"query must be (M, 3) and max_len >= 3, got {query.shape}, {max_len}")
    limits = np.array([len(SIZES), len(COLOURS), len(SHAPES)])
    if ((query < ANY) | (query >= limits)).any() or (query[:, 2] == ANY).any():
        raise ValueError("query attributes must be ANY (-1) or valid indices, and the shape must be named")
    tables = [np.array([vocab.index[w] for w in names]) for names in (SIZES, COLOURS, SHAPES)]
    words = np.stack([t[np.clip(query[:, c], 0, None)] for c, t in enumerate(tables)], axis=1)
    keep = query >= 0
    order = np.argsort(~keep, axis=1, kind="stable")  # named words first, in order
    tokens = np.zeros((len(query), max_len), dtype=np.int64)
    tokens[:, :3] = np.where(np.take_along_axis(keep, order, 1), np.take_along_axis(words, order, 1), vocab.pad_id)
    return tokens


def query_text(query: np.ndarray) -> list[str]:
    """The caption text of each (M, 3) query."""
    names = (SIZES, COLOURS, SHAPES)
    return [" ".join(names[c][a] for c, a in enumerate(row) if a >= 0) for row in np.asarray(query)]


def describes(query: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """(N, M) bool: query m names some object of scene n (every named attribute matches; ``ANY`` matches all).

    `attributes` is (N, K, 3) with -1 rows for absent objects (which match nothing).
    """
    query, attributes = np.asarray(query), np.asarray(attributes)
    present = attributes[..., 2] >= 0  # (N, K)
    match = (query[None, None] == ANY) | (attributes[:, :, None, :] == query[None, None])  # (N, K, M, 3)
    return (match.all(-1) & present[..., None]).any(axis=1)


def all_object_queries() -> np.ndarray:
    """Every distinct single-object caption, (3 · 5 · 4 = 60, 3): size ∈ {ANY, sizes}, colour ∈ {ANY, colours}."""
    grid = np.meshgrid(np.arange(-1, len(SIZES)), np.arange(-1, len(COLOURS)), np.arange(len(SHAPES)), indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.int64)
