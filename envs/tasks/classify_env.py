"""A Gymnasium env that poses one classification example per step (``recast/DigitsClassify-v0``)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.tasks.data import SPLITS, TaskData, make_tasks


class ClassifyEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Classify images of one task of a task stream, one example per step.

    ## Description
    An episode is one pass, in a random order, over a split (``test`` by default) of one task of a
    stream built by :func:`envs.tasks.data.make_tasks` (digits by default). The data and splits are
    fixed by ``data_seed``; ``reset(seed=...)`` only draws the order of the examples.

    ## Observation Space
    ``Box(0, 1, (C, H, W), float32)``: the image (digits: ``(1, 8, 8)``).

    ## Action Space
    ``Discrete(n_classes)``: the predicted class.

    ## Rewards
    1.0 if the action is the example's label, else 0.0 (the episode return / length is the accuracy).

    ## Episode End
    Terminated after ``episode_length`` examples (default: the whole split).

    ## Info
    ``task`` and ``classes`` (the labels this task uses: a task-aware agent may restrict its
    prediction to them); after a step also ``label`` and ``correct`` for the example just answered.

    ## Arguments
    ``source`` (``digits`` | ``synthetic_cifar``), ``split``, ``stream`` (None | ``split`` |
    ``permuted``), ``task``, ``n_tasks``, ``data_seed``, ``label_noise`` (train labels only),
    ``episode_length``, ``render_mode`` (``rgb_array``); ``tasks`` (a prebuilt task list, which then
    replaces the source/stream arguments: scenarios pass the data they train on).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, source: str = "digits", split: str = "test", stream: str | None = None, task: int = 0,
                 n_tasks: int = 5, data_seed: int = 0, label_noise: float = 0.0, episode_length: int | None = None,
                 render_mode: str | None = None, tasks: list[TaskData] | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        tasks = tasks if tasks is not None else make_tasks(source, stream, n_tasks, data_seed, label_noise=label_noise)
        if not 0 <= task < len(tasks):
            raise ValueError(f"task must be in [0, {len(tasks)}), got {task}")
        self.task_id, self.data = task, tasks[task]
        self.x, self.y = self.data.split(split)
        if len(self.x) == 0:
            raise ValueError(f"split {split!r} of task {task} is empty")
        self.episode_length = min(episode_length or len(self.x), len(self.x))
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, self.data.image_shape, np.float32)
        self.action_space = spaces.Discrete(self.data.n_classes)
        self._order = np.arange(len(self.x))
        self._t = 0

    def _obs(self) -> np.ndarray:
        return self.x[self._order[min(self._t, self.episode_length - 1)]].copy()

    def _info(self) -> dict[str, Any]:
        return {"task": self.task_id, "classes": np.asarray(self.data.classes), "step": self._t}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._order = self.np_random.permutation(len(self.x))[: self.episode_length]
        self._t = 0
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        label = int(self.y[self._order[self._t]])
        correct = int(action) == label
        self._t += 1
        terminated = self._t >= self.episode_length
        info = {**self._info(), "label": label, "correct": correct}
        return self._obs(), float(correct), terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        img = self._obs()
        img = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img[:3]
        scale = max(1, 64 // img.shape[-1])
        img = np.kron(img, np.ones((1, scale, scale), dtype=img.dtype))
        return (np.clip(img.transpose(1, 2, 0), 0.0, 1.0) * 255).astype(np.uint8)
