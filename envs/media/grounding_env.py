"""Grounding env (``recast/MediaGrounding-v0``): point at the patches a word or phrase names.

The reward is the IoU, over patches, of the thresholded heat-map with the exact ground-truth mask.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.media.captions import VOCAB
from envs.media.datasets import MediaBatch, MediaWorld
from envs.media.shapes import COLOURS, SHAPES, SIZES, WorldSpec

QUERY_LEN = 3
QUERY_KINDS = ("colour", "shape", "colour shape", "size colour shape")


def patch_iou(heatmap: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """IoU of {p : heatmap_p ≥ threshold} with the boolean `mask`, over the last axis (vectorised).

    Both sets empty gives 1; shapes must match.
    """
    heatmap, mask = np.asarray(heatmap), np.asarray(mask, dtype=bool)
    if heatmap.shape != mask.shape:
        raise ValueError(f"heat-map shape {heatmap.shape} does not match mask shape {mask.shape}")
    if not np.isfinite(heatmap).all():
        raise ValueError("heat-map contains NaN or inf")
    pred = heatmap >= threshold
    inter = (pred & mask).sum(-1)
    union = (pred | mask).sum(-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def sample_query(batch: MediaBatch, i: int, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """A query about one object of scene `i` and its mask: the union of the objects matching every queried word."""
    j = int(rng.integers(batch.n_objects[i]))
    kind = QUERY_KINDS[int(rng.integers(len(QUERY_KINDS)))]
    size, colour, shape = batch.attributes[i, j]
    words = {"size": SIZES[size], "colour": COLOURS[colour], "shape": SHAPES[shape]}
    text = " ".join(words[w] for w in kind.split())
    attrs = batch.attributes[i, : batch.n_objects[i]]
    match = np.ones(len(attrs), dtype=bool)
    for col, name in enumerate(("size", "colour", "shape")):
        if name in kind:
            match &= attrs[:, col] == batch.attributes[i, j, col]
    return text, batch.patch_masks[i, : batch.n_objects[i]][match].any(axis=0)


class GroundingEnv(gymnasium.Env):
    """Ground a word or phrase in a fresh scene at every step.

    ## Description
    Each step shows a scene of the media-stream world (:mod:`envs.media`) and a query about one of its
    objects — a colour, a shape, "colour shape" or "size colour shape". The agent answers with a heat-map
    over the G × G patches (row-major); the query's ground truth is the union of the patch masks of every
    object that matches all the queried attributes.

    ## Observation Space
    ``Dict(image=Box(0, 1, (3, H, W), float32), query=MultiDiscrete([V] * 3))`` — query token ids, 0-padded.

    ## Action Space
    ``Box(0, 1, (P,), float32)``: a heat-map over the P patches.

    ## Rewards
    IoU of {p : action_p ≥ ``threshold``} with the ground-truth patch mask (in [0, 1]).

    ## Episode End
    Terminated after ``episode_length`` queries.

    ## Info
    ``query`` (text) and, after a step, ``mask`` (the answered query's ground truth, (P,) bool).

    ## Arguments
    ``split`` (``test`` | ``heldout`` | ``train``), ``episode_length``, ``threshold``, ``render_mode``
    (``rgb_array``) and any :class:`~envs.media.shapes.WorldSpec` field (``image_size``, ``patch_size``, ...).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, split: str = "test", episode_length: int = 32, threshold: float = 0.5,
                 render_mode: str | None = None, **world: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if episode_length < 1 or not 0.0 < threshold <= 1.0:
            raise ValueError(f"need episode_length >= 1 and 0 < threshold <= 1, got {episode_length}, {threshold}")
        self.world = MediaWorld(WorldSpec(**world))
        self.world.spec.combos(split)  # validates the split name
        self.split, self.episode_length, self.threshold = split, episode_length, threshold
        self.render_mode = render_mode
        s, p = self.world.spec.image_size, self.world.spec.n_patches
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0.0, 1.0, (3, s, s), np.float32),
            "query": spaces.MultiDiscrete(np.full(QUERY_LEN, len(VOCAB))),
        })
        self.action_space = spaces.Box(0.0, 1.0, (p,), np.float32)
        self._t, self._last_action = 0, None

    def _next(self) -> None:
        self._scene = self.world.sample(1, self.np_random, self.split)
        self._query, self._mask = sample_query(self._scene, 0, self.np_random)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"image": self._scene.images[0].copy(), "query": VOCAB.encode(self._query, QUERY_LEN)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self._t, self._last_action = 0, None
        self._next()
        return self._obs(), {"query": self._query}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {action.shape}")
        reward = float(patch_iou(action, self._mask, self.threshold))
        info = {"query": self._query, "mask": self._mask.copy()}
        self._last_action = (self._scene.images[0], action)
        self._t += 1
        terminated = self._t >= self.episode_length
        self._next()
        return self._obs(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        image, heat = (self._scene.images[0], None) if self._last_action is None else self._last_action
        img = image.transpose(1, 2, 0)
        if heat is not None:  # tint the answered heat-map in white over the image
            g, p = self.world.spec.grid, self.world.spec.patch_size
            up = np.kron(np.clip(heat, 0, 1).reshape(g, g), np.ones((p, p)))[..., None]
            img = 0.5 * img + 0.5 * up
        img = np.kron(img, np.ones((4, 4, 1)))
        return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
