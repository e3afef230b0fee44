"""The media-stream world: seeded image–caption batches with ground truth, as numpy or torch.

    world = MediaWorld(WorldSpec())
    batch = world.sample(128, np.random.default_rng(0), split="train")   # MediaBatch (numpy)
    stream = ImageTextStream(world, batch_size=128, seed=0)             # endless torch batches
    test = MediaDataset(world, 1000, seed=1, split="test")              # fixed, map-style
    multi = world.sample_object_captions(256, rng)                      # one-object captions (Llip)

Same seed ⇒ same batches (all randomness comes from one ``numpy.random.Generator``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset

from envs.media.captions import (ANY, VOCAB, Vocabulary, captions, class_prompts, describes, max_caption_len,
                                 object_queries, query_tokens)
from envs.media.shapes import Scenes, WorldSpec, sample_scenes


@dataclass
class MediaBatch(Scenes):
    """:class:`~envs.media.shapes.Scenes` plus captions.

    Attributes:
        tokens: (N, L) int64 caption token ids (0 = padding).
        token_object: (N, L) int64 object named by each token, -1 for ``and`` and padding.
    """

    tokens: np.ndarray = None  # type: ignore[assignment]
    token_object: np.ndarray = None  # type: ignore[assignment]

    def token_masks(self) -> np.ndarray:
        """(N, L, P) bool — the ground-truth patch mask of each caption token (empty for ``and``/padding)."""
        owner = np.clip(self.token_object, 0, None)
        masks = np.take_along_axis(self.patch_masks, owner[..., None], axis=1)  # (N, L, P)
        return masks & (self.token_object >= 0)[..., None]

    def subset(self, index: np.ndarray | slice) -> MediaBatch:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def to_torch(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """Tensors for training: images (float32), tokens, token_mask (bool), labels, patch_masks, token_object."""
        out = {f.name: torch.from_numpy(np.ascontiguousarray(getattr(self, f.name))) for f in fields(self)}
        out["token_mask"] = out["tokens"] != VOCAB.pad_id
        return {k: v.to(device) for k, v in out.items()}


@dataclass
class ObjectCaptionBatch(MediaBatch):
    """:class:`MediaBatch` whose caption names *one* object of its scene (Llip's caption diversity).

    Attributes (besides the scenes, ``tokens`` and ``token_object``):
        query: (N, 3) int64 (size, colour, shape) the caption names, ``ANY`` (-1) for an unnamed attribute;
            all ``ANY`` for a row whose caption is the full scene caption (see ``full_caption_prob``).
        caption_object: (N,) int64 index of the object the caption was drawn from, -1 for full captions.
    """

    query: np.ndarray = None  # type: ignore[assignment]
    caption_object: np.ndarray = None  # type: ignore[assignment]

    def validity(self) -> np.ndarray:
        """(N images, N captions) bool: caption j is true of image i — exact, from the attributes."""
        if (self.caption_object < 0).any():
            raise ValueError("validity is defined for single-object captions only (full_caption_prob = 0)")
        return describes(self.query, self.attributes)


class MediaWorld:
    """The generator: scenes (:mod:`envs.media.shapes`) + captions (:mod:`envs.media.captions`).

    ``caption_detail`` < 1 gives partial captions (each size / colour word kept with that probability).
    """

    def __init__(self, spec: WorldSpec | None = None, vocab: Vocabulary = VOCAB, caption_detail: float = 1.0):
        if not 0.0 <= caption_detail <= 1.0:
            raise ValueError(f"caption_detail must be in [0, 1], got {caption_detail}")
        self.spec = spec or WorldSpec()
        self.vocab = vocab
        self.caption_detail = caption_detail  # probability of naming each object's size and colour

    @property
    def max_len(self) -> int:
        return max_caption_len(self.spec.max_objects)

    def sample(self, n: int, rng: np.random.Generator, split: str = "train",
               n_objects: int | None = None) -> MediaBatch:
        """`n` scenes of `split` ("train", "test": seen combinations; "heldout": held-out ones) with captions."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        scenes = sample_scenes(self.spec, n, rng, split, n_objects)
        tokens, owner = captions(scenes.attributes, scenes.n_objects, self.vocab, self.caption_detail, rng)
        return MediaBatch(**vars(scenes), tokens=tokens, token_object=owner)

    def sample_object_captions(self, n: int, rng: np.random.Generator, split: str = "train",
                               n_objects: int | None = None, full_caption_prob: float = 0.0) -> ObjectCaptionBatch:
        """`n` scenes, each with a caption of one random object (``caption_detail`` = P(size/colour word named)).

        With probability ``full_caption_prob`` a row's caption is instead the full scene caption of :meth:`sample`.
        Tokens are padded to :attr:`max_len`.
        """
        if not 0.0 <= full_caption_prob <= 1.0:
            raise ValueError(f"full_caption_prob must be in [0, 1], got {full_caption_prob}")
        batch = self.sample(n, rng, split, n_objects)
        target, query = object_queries(batch.attributes, batch.n_objects, rng, self.caption_detail)
        tokens = query_tokens(query, self.vocab, self.max_len)
        owner = np.where(tokens != self.vocab.pad_id, target[:, None], -1)  # every word names the target object
        full = rng.random(n) < full_caption_prob
        return ObjectCaptionBatch(**{**vars(batch), "tokens": np.where(full[:, None], batch.tokens, tokens),
                                     "token_object": np.where(full[:, None], batch.token_object, owner)},
                                  query=np.where(full[:, None], ANY, query), caption_object=np.where(full, -1, target))

    def class_prompt_tokens(self) -> np.ndarray:
        """(N_CLASSES, 3) token ids of the zero-shot class prompts, in label order."""
        return self.vocab.encode_batch(class_prompts())


class ImageTextStream(IterableDataset):
    """An endless stream of training batches (already batched: use ``DataLoader(stream, batch_size=None)``)."""

    def __init__(self, world: MediaWorld, batch_size: int, seed: int, split: str = "train"):
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 for a contrastive batch, got {batch_size}")
        self.world, self.batch_size, self.seed, self.split = world, batch_size, seed, split

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed)
        while True:
            yield self.world.sample(self.batch_size, rng, self.split).to_torch()


class ObjectCaptionStream(IterableDataset):
    """Endless batches of scenes with single-object captions (:meth:`MediaWorld.sample_object_captions`)."""

    def __init__(self, world: MediaWorld, batch_size: int, seed: int, split: str = "train",
                 full_caption_prob: float = 0.0):
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 for a contrastive batch, got {batch_size}")
        self.world, self.batch_size, self.seed, self.split = world, batch_size, seed, split
        self.full_caption_prob = full_caption_prob

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng(self.seed)
        while True:
            yield self.world.sample_object_captions(self.batch_size, rng, self.split,
                                                    full_caption_prob=self.full_caption_prob).to_torch()


class MediaDataset(Dataset):
    """A fixed, map-style set of `n` scenes (evaluation); items are dicts of tensors for one scene."""

    def __init__(self, world: MediaWorld, n: int, seed: int, split: str = "test", n_objects: int | None = None):
        self.world = world
        self.batch = world.sample(n, np.random.default_rng(seed), split, n_objects)
        self._tensors = self.batch.to_torch()

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self._tensors.items()}
