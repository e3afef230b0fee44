"""A Gymnasium env for neural-process prediction with streamed context (CMANP §8 ``StreamingContextEnv``).

An episode is one task (a GP function or a digit image). Step k reveals the k-th block of ``block_size``
context points; the agent sees the context so far and the target inputs, acts with a predictive mean and
log-variance per target, and is rewarded with the mean Gaussian log-likelihood of the true targets

    r_k = (1/N_t) Σ_t log N(y_t; μ_t, exp(v_t))

(CMANP's ``tar_ll``). The episode terminates after the prediction made on the whole context. Arrays are
padded to fixed sizes with masks (1 = a real point) so the spaces are fixed:

    obs = {"context_x": (C, d_x), "context_y": (C, 1), "context_mask": (C,),
           "target_x": (T, d_x), "target_mask": (T,)}      action = (T, 2): [μ, log σ²] per target
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.tasks.gp_tasks import CODE_LENGTHSCALE_RANGE, KERNELS, GPSampler, NPBatch
from envs.tasks.image_completion import N_PIXELS, SEEN_CLASSES, UNSEEN_CLASSES, DigitCompletionSampler

ACTION_LIMIT = 20.0  # |μ| and |log σ²| bound of the action box


def gaussian_log_likelihood(y: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """log N(y; μ, exp(v)) elementwise."""
    return -0.5 * (math.log(2 * math.pi) + log_var + (y - mean) ** 2 * np.exp(-log_var))


class NeuralProcessEnv(gymnasium.Env):
    """Streamed-context prediction on GP functions (``task="gp"``) or digit images (``task="digits"``)."""

    metadata = {"render_modes": []}

    def __init__(self, task: str = "gp", kernel: str = "rbf", classes: str = "seen", split: str = "test",
                 block_size: int = 5, max_num_points: int = 50, render_mode: str | None = None):
        if task not in ("gp", "digits"):
            raise ValueError(f"task must be gp or digits, got {task!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        if task == "gp":
            if kernel not in KERNELS:
                raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
            self.sampler = GPSampler(kernel, CODE_LENGTHSCALE_RANGE, max_num_points)
            max_ctx = max_tar = max_num_points - 4
            x_low, x_high = -2.0, 2.0
        else:
            if classes not in ("seen", "unseen"):
                raise ValueError(f"classes must be seen or unseen, got {classes!r}")
            self.sampler = DigitCompletionSampler(SEEN_CLASSES if classes == "seen" else UNSEEN_CLASSES, split)
            max_ctx, max_tar = N_PIXELS - 4, N_PIXELS - 3
            x_low, x_high = -1.0, 1.0
        self.task, self.block_size, self.render_mode = task, block_size, render_mode
        self.max_ctx, self.max_tar = max_ctx, max_tar
        dx = self.sampler.dim_x
        self.observation_space = spaces.Dict({
            "context_x": spaces.Box(x_low, x_high, (max_ctx, dx), np.float32),
            "context_y": spaces.Box(-np.inf, np.inf, (max_ctx, 1), np.float32),
            "context_mask": spaces.MultiBinary(max_ctx),
            "target_x": spaces.Box(x_low, x_high, (max_tar, dx), np.float32),
            "target_mask": spaces.MultiBinary(max_tar),
        })
        self.action_space = spaces.Box(-ACTION_LIMIT, ACTION_LIMIT, (max_tar, 2), np.float32)
        self._task: NPBatch | None = None
        self._revealed = 0

    @property
    def task_batch(self) -> NPBatch:
        """The current task (batch of one), for evaluation code that wants the ground truth."""
        if self._task is None:
            raise RuntimeError("call reset() first")
        return self._task

    def _observe(self) -> dict[str, np.ndarray]:
        b, n_ctx, n_tar = self._task, self._revealed, self._task.xt.shape[1]
        obs = {k: np.zeros(s.shape, s.dtype) for k, s in self.observation_space.spaces.items()}
        obs["context_x"][:n_ctx], obs["context_y"][:n_ctx] = b.xc[0, :n_ctx], b.yc[0, :n_ctx]
        obs["context_mask"][:n_ctx] = 1
        obs["target_x"][:n_tar], obs["target_mask"][:n_tar] = b.xt[0], 1
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self._task = self.sampler.sample(self.np_random, batch_size=1)
        self._revealed = min(self.block_size, self._task.xc.shape[1])
        return self._observe(), {"num_context": self._task.xc.shape[1], "num_target": self._task.xt.shape[1]}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape}, got {action.shape}")
        n_tar = self._task.xt.shape[1]
        mean, log_var = np.clip(action[:n_tar, 0], -ACTION_LIMIT, ACTION_LIMIT), \
            np.clip(action[:n_tar, 1], -ACTION_LIMIT, ACTION_LIMIT)
        reward = float(gaussian_log_likelihood(self._task.yt[0, :, 0], mean, log_var).mean())
        info = {"num_context_seen": self._revealed}
        total = self._task.xc.shape[1]
        terminated = self._revealed >= total
        if not terminated:
            self._revealed = min(self._revealed + self.block_size, total)
        return self._observe(), reward, terminated, False, info
