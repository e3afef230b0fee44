"""Zero-shot classification env (``recast/MediaZeroShot-v0``): name the single object in a scene."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.media.captions import VOCAB, class_prompts
from envs.media.datasets import MediaWorld
from envs.media.shapes import N_CLASSES, WorldSpec


class ZeroShotEnv(gymnasium.Env):
    """Classify a one-object scene among the 32 ``"<size> <colour> <shape>"`` prompts.

    ## Description
    Each step shows a fresh one-object scene (with clutter) of the media-stream world. A zero-shot agent
    scores the image against every class prompt (``env.prompts`` / ``env.prompt_tokens``) and answers the
    best. With ``split="heldout"`` every object is a (colour, shape) pair never seen in training.

    ## Observation Space
    ``Box(0, 1, (3, H, W), float32)``: the image.

    ## Action Space
    ``Discrete(32)``: the class label ``(size · 4 + colour) · 4 + shape``.

    ## Rewards
    1.0 if the action is the object's class, else 0.0 (mean reward = accuracy).

    ## Episode End
    Terminated after ``episode_length`` scenes.

    ## Info
    After a step: ``label`` and ``correct`` for the scene just answered.

    ## Arguments
    ``split`` (``test`` | ``heldout`` | ``train``), ``episode_length``, ``render_mode`` (``rgb_array``) and
    any :class:`~envs.media.shapes.WorldSpec` field.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, split: str = "test", episode_length: int = 32, render_mode: str | None = None, **world: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.world = MediaWorld(WorldSpec(**world))
        self.world.spec.combos(split)  # validates the split name
        self.split, self.episode_length, self.render_mode = split, episode_length, render_mode
        s = self.world.spec.image_size
        self.observation_space = spaces.Box(0.0, 1.0, (3, s, s), np.float32)
        self.action_space = spaces.Discrete(N_CLASSES)
        self.prompts = class_prompts()
        self.prompt_tokens = VOCAB.encode_batch(self.prompts)
        self._t = 0

    def _next(self) -> None:
        self._scene = self.world.sample(1, self.np_random, self.split, n_objects=1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._next()
        return self._scene.images[0].copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(np.int64(action)):
            raise ValueError(f"action must be a class in [0, {N_CLASSES}), got {action!r}")
        label = int(self._scene.labels[0, 0])
        correct = int(action) == label
        self._t += 1
        self._next()
        info = {"label": label, "correct": correct}
        return self._scene.images[0].copy(), float(correct), self._t >= self.episode_length, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        img = np.kron(self._scene.images[0].transpose(1, 2, 0), np.ones((4, 4, 1)))
        return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
