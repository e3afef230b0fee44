"""Evaluation envs of the multi-object world with single-object captions (Llip's caption diversity).

``recast/MediaObjectRetrieval-v0``: a one-object caption and a gallery of multi-object scenes; pick an image the
caption is true of (text→image per-object retrieval). ``recast/MediaMultiLabel-v0``: one multi-object scene;
score every "<colour> <shape>" label ("is there a red circle?"); the reward is the average precision of the scores
against the exact set of labels present (zero-shot multi-label detection). Ground truth comes from
:func:`envs.media.captions.describes`.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.media.captions import ANY, VOCAB, describes, query_text, query_tokens
from envs.media.datasets import MediaWorld
from envs.media.shapes import COLOURS, SHAPES, WorldSpec

CAPTION_LEN = 3  # "[size] [colour] shape"
DEFAULT_WORLD = {"image_size": 48, "min_objects": 2, "max_objects": 4}  # the spec's MultiObject-OneCaption scenes


def detection_queries() -> np.ndarray:
    """The (16, 3) "<colour> <shape>" detection labels (size ``ANY``), colour-major."""
    colour, shape = np.meshgrid(np.arange(len(COLOURS)), np.arange(len(SHAPES)), indexing="ij")
    return np.stack([np.full(colour.size, ANY), colour.ravel(), shape.ravel()], axis=1).astype(np.int64)


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """AP over the last axis: mean over relevant items of precision@rank (descending scores, stable ties).

    Rows with no relevant item give NaN. Vectorised over leading axes.
    """
    scores, relevant = np.asarray(scores, dtype=float), np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores shape {scores.shape} does not match relevant shape {relevant.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    order = np.argsort(-scores, axis=-1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=-1)
    precision = np.cumsum(hits, axis=-1) / np.arange(1, scores.shape[-1] + 1)
    n_relevant = hits.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, (precision * hits).sum(-1) / n_relevant, np.nan)


def _world(split: str, world: dict[str, Any]) -> MediaWorld:
    w = MediaWorld(WorldSpec(**{**DEFAULT_WORLD, **world}))
    w.spec.combos(split)  # validates the split name
    return w


class ObjectRetrievalEnv(gymnasium.Env):
    """Find, in a gallery of multi-object scenes, an image that a one-object caption is true of.

    ## Description
    Each step draws ``gallery_size`` scenes of the media world (2–4 objects by default) and a full
    ``"<size> <colour> <shape>"`` caption of one object of one of them (the target). Other gallery images may
    also contain such an object; every image the caption is true of counts as a hit (exact ground truth).

    ## Observation Space
    ``Dict(images=Box(0, 1, (G, 3, H, W), float32), caption=MultiDiscrete([V] * 3))``.

    ## Action Space
    ``Discrete(G)``: the chosen gallery image.

    ## Rewards
    1.0 if the caption is true of the chosen image, else 0.0 (mean reward = text→image R@1).

    ## Episode End
    Terminated after ``episode_length`` captions.

    ## Info
    ``caption`` (text) and ``valid`` ((G,) bool, the images the caption is true of); after a step, those of the
    answered caption.

    ## Arguments
    ``split``, ``gallery_size``, ``episode_length``, ``render_mode`` (``rgb_array``) and any
    :class:`~envs.media.shapes.WorldSpec` field (defaults: 48-px images, 2–4 objects).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, split: str = "test", gallery_size: int = 8, episode_length: int = 32,
                 render_mode: str | None = None, **world: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if gallery_size < 2 or episode_length < 1:
            raise ValueError(f"need gallery_size >= 2 and episode_length >= 1, got {gallery_size}, {episode_length}")
        self.world = _world(split, world)
        self.split, self.gallery_size, self.episode_length = split, gallery_size, episode_length
        self.render_mode = render_mode
        s = self.world.spec.image_size
        self.observation_space = spaces.Dict({
            "images": spaces.Box(0.0, 1.0, (gallery_size, 3, s, s), np.float32),
            "caption": spaces.MultiDiscrete(np.full(CAPTION_LEN, len(VOCAB))),
        })
        self.action_space = spaces.Discrete(gallery_size)
        self._t = 0

    def _next(self) -> None:
        self._gallery = self.world.sample(self.gallery_size, self.np_random, self.split)
        target = int(self.np_random.integers(self.gallery_size))
        obj = int(self.np_random.integers(self._gallery.n_objects[target]))
        self._query = self._gallery.attributes[target, obj][None]  # (1, 3), every attribute named
        self._valid = describes(self._query, self._gallery.attributes)[:, 0]

    def _obs(self) -> dict[str, np.ndarray]:
        return {"images": self._gallery.images.copy(), "caption": query_tokens(self._query, max_len=CAPTION_LEN)[0]}

    def _info(self) -> dict[str, Any]:
        return {"caption": query_text(self._query)[0], "valid": self._valid.copy()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._next()
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if not self.action_space.contains(np.int64(action)):
            raise ValueError(f"action must be a gallery index in [0, {self.gallery_size}), got {action!r}")
        reward, info = float(self._valid[int(action)]), self._info()
        self._t += 1
        self._next()
        return self._obs(), reward, self._t >= self.episode_length, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        strip = np.concatenate(list(self._gallery.images.transpose(0, 2, 3, 1)), axis=1)
        return (np.clip(np.kron(strip, np.ones((2, 2, 1))), 0.0, 1.0) * 255).astype(np.uint8)


class MultiLabelDetectionEnv(gymnasium.Env):
    """Zero-shot multi-label detection: which of the 16 "<colour> <shape>" labels are in the scene?

    ## Description
    Each step shows a multi-object scene; a zero-shot agent scores every label (``env.labels`` / ``env.label_tokens``
    are the prompts, e.g. "red circle") and answers the scores.

    ## Observation Space
    ``Box(0, 1, (3, H, W), float32)``: the image.

    ## Action Space
    ``Box(-1, 1, (16,), float32)``: one score per label (e.g. a cosine similarity); only the order matters.

    ## Rewards
    Average precision of the scores against the exact set of labels present (in (0, 1]).

    ## Episode End
    Terminated after ``episode_length`` scenes.

    ## Info
    After a step: ``present`` ((16,) bool) for the scene just answered.

    ## Arguments
    ``split``, ``episode_length``, ``render_mode`` (``rgb_array``) and any :class:`~envs.media.shapes.WorldSpec`
    field (defaults: 48-px images, 2–4 objects).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, split: str = "test", episode_length: int = 32, render_mode: str | None = None, **world: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.world = _world(split, world)
        self.split, self.episode_length, self.render_mode = split, episode_length, render_mode
        self.queries = detection_queries()
        self.labels = query_text(self.queries)
        self.label_tokens = query_tokens(self.queries, max_len=CAPTION_LEN)
        s = self.world.spec.image_size
        self.observation_space = spaces.Box(0.0, 1.0, (3, s, s), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (len(self.queries),), np.float32)
        self._t = 0

    def _next(self) -> None:
        self._scene = self.world.sample(1, self.np_random, self.split)
        self._present = describes(self.queries, self._scene.attributes)[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._next()
        return self._scene.images[0].copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {action.shape}")
        reward = float(average_precision(action, self._present))
        info = {"present": self._present.copy()}
        self._t += 1
        self._next()
        return self._scene.images[0].copy(), reward, self._t >= self.episode_length, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        img = np.kron(self._scene.images[0].transpose(1, 2, 0), np.ones((4, 4, 1)))
        return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
