"""Streaming localisation env (``recast/VideoLocalization-v0``): box the tagged digit, frame after frame."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.media.video import CLASS_NAMES, SPLITS, VideoSpec, Videos, box_iou, sample_videos


class VideoLocalizationEnv(gymnasium.Env):
    """Localise the object a video is tagged with, one frame at a time (weakly supervised video localisation).

    ## Description
    Each episode is one video of the MovingDigits-in-clutter world (:mod:`envs.media.video`): a digit of the
    tagged class moving over texture among distractor digits of other classes, sometimes partly occluded.
    The agent sees the next frame and the video's tag and answers with a box around the tagged digit.

    ## Observation Space
    ``Dict(frame=Box(0, 255, (H, W, 3), uint8), tag=Discrete(10))``.

    ## Action Space
    ``Box(0, 1, (4,), float32)``: the box ``(x0, y0, x1, y1)`` as fractions of the frame width and height.

    ## Rewards
    IoU of the action's box with the exact box of the visible digit in the frame just observed (in [0, 1]).
    The fraction of steps with reward ≥ 0.5 over an episode is the video's CorLoc.

    ## Episode End
    Terminated after the video's ``n_frames`` frames (the last observation repeats the last frame).

    ## Info
    ``t`` (index of the frame observed after ``reset``, of the frame just answered after ``step``) and
    ``tag_name``; after a step also ``box`` (that frame's true box in pixels) and ``occluded``.

    ## Arguments
    ``split`` (``train`` | ``val`` | ``test``, by source digit image), ``render_mode`` (``rgb_array``) and
    any :class:`~envs.media.video.VideoSpec` field (``frame_size``, ``n_frames``, ``occlusion_prob``, ...).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, split: str = "test", render_mode: str | None = None, **world: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.spec_world = VideoSpec(**world)
        self.spec_world.validate()
        self.split, self.render_mode = split, render_mode
        s = self.spec_world.frame_size
        self.observation_space = spaces.Dict({
            "frame": spaces.Box(0, 255, (s, s, 3), np.uint8),
            "tag": spaces.Discrete(len(CLASS_NAMES)),
        })
        self.action_space = spaces.Box(0.0, 1.0, (4,), np.float32)
        self._video: Videos | None = None
        self._t, self._last_box = 0, None

    def _obs(self) -> dict[str, Any]:
        t = min(self._t, self.spec_world.n_frames - 1)
        return {"frame": self._video.frames[0, t].copy(), "tag": int(self._video.labels[0])}

    def _info(self) -> dict[str, Any]:
        return {"t": min(self._t, self.spec_world.n_frames - 1), "tag_name": CLASS_NAMES[int(self._video.labels[0])]}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self._video = sample_videos(self.spec_world, 1, self.np_random, self.split)
        self._t, self._last_box = 0, None
        return self._obs(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        if self._video is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (4,) or not np.isfinite(action).all():
            raise ValueError(f"action must be 4 finite numbers (x0, y0, x1, y1), got {action}")
        box = np.clip(action, 0.0, 1.0) * self.spec_world.frame_size
        truth = self._video.boxes[0, self._t]
        reward = float(box_iou(box, truth))
        info = {**self._info(), "box": truth.copy(), "occluded": bool(self._video.occluded[0, self._t])}
        self._last_box = (self._t, box)
        self._t += 1
        terminated = self._t >= self.spec_world.n_frames
        return self._obs(), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        """The current frame ×4, with the last answered box in white and the true box in green."""
        if self.render_mode != "rgb_array" or self._video is None:
            return None
        t = self._last_box[0] if self._last_box is not None else 0
        image = np.kron(self._video.frames[0, t], np.ones((4, 4, 1), dtype=np.uint8))
        boxes = [(self._video.boxes[0, t], (0, 255, 0))]
        if self._last_box is not None:
            boxes.append((self._last_box[1], (255, 255, 255)))
        for box, colour in boxes:
            x0, y0, x1, y1 = (np.asarray(box) * 4).astype(int)
            x1, y1 = max(x0, min(x1, image.shape[1]) - 1), max(y0, min(y1, image.shape[0]) - 1)
            image[y0:y1 + 1, [x0, x1]] = colour
            image[[y0, y1], x0:x1 + 1] = colour
        return image
