"""A Gymnasium env that poses held-out set-inclusion questions of the define-tag curriculum
(``recast/SetInclusionQA-v0``).

## Description
The world is one curriculum built by :func:`envs.tasks.set_inclusion.make_set_inclusion` (fixed by
``curriculum_seed`` / ``stage2_seed``; a scenario passes the curriculum it trains on). An episode asks
``episode_length`` held-out questions about the variables of one subset (e.g. ``d1consis``), or of all subsets
with ``subset=None``, in an order drawn at ``reset``. The training texts of both stages are
``env.unwrapped.curriculum.stage1`` / ``.stage2``.

## Observation Space
``MultiDiscrete([V] * P)``: the question's word ids (``"v % n1 … n8 ="``), right-padded with ``[PAD]`` (id 0);
V = vocabulary size (``curriculum.vocabulary``), P = the longest prompt.

## Action Space
``MultiDiscrete([V] * answer_tokens)``: the answer's word ids; words after the first ``[PAD]`` are ignored.

## Rewards
1.0 if the answer (words before the first ``[PAD]``) is exactly the gold answer (``true`` / ``false``), else 0.0:
the episode mean is the subset's exact match (chance 0.5).

## Episode End
Terminated after ``episode_length`` questions (default: every question of the subset once).

## Info
``subset`` of the current question; after a step also ``answer`` (gold) and ``correct``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.tasks.curriculum import SUBSETS, Curriculum, subset_fractions
from envs.tasks.set_inclusion import make_set_inclusion


class SetInclusionQAEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, subset: str | None = "d1consis", num_x: int = 200, alpha: float = 1.0,
                 curriculum_seed: int = 0, stage2_seed: int = 0, n_nums: int = 8, answer_tokens: int = 2,
                 episode_length: int | None = None, render_mode: str | None = None,
                 curriculum: Curriculum | None = None):
        if subset is not None and subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS} or None, got {subset!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        if answer_tokens < 1:
            raise ValueError("answer_tokens must be >= 1")
        self.curriculum = curriculum or make_set_inclusion(num_x=num_x, seed=curriculum_seed, n_nums=n_nums,
                                                           stage2_seed=stage2_seed, fractions=subset_fractions(alpha))
        names = [subset] if subset is not None else self.curriculum.eval_subsets
        self.questions = [(p, a, k) for k in names for p, a in self.curriculum.eval.get(k, [])]
        if not self.questions:
            raise ValueError(f"subset {subset!r} has no held-out questions in this curriculum")
        self.words = self.curriculum.vocabulary
        self._ids = {w: i for i, w in enumerate(self.words)}
        self.pad_id = self._ids["[PAD]"]
        self._prompts = self._encode([p for p, _, _ in self.questions])
        self.episode_length = min(episode_length or len(self.questions), len(self.questions))
        self.render_mode = render_mode
        v = len(self.words)
        self.observation_space = spaces.MultiDiscrete(np.full(self._prompts.shape[1], v, dtype=np.int64))
        self.action_space = spaces.MultiDiscrete(np.full(answer_tokens, v, dtype=np.int64))
        self._order = np.arange(len(self.questions))
        self._t = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        rows = [[self._ids.get(w, self._ids["[UNK]"]) for w in t.split()] for t in texts]
        out = np.full((len(rows), max(map(len, rows))), self.pad_id, dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    def _current(self) -> int:
        return int(self._order[min(self._t, self.episode_length - 1)])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._order = self.np_random.permutation(len(self.questions))[: self.episode_length]
        self._t = 0
        return self._prompts[self._current()].copy(), {"subset": self.questions[self._current()][2]}

    def decode_answer(self, action: np.ndarray) -> str:
        """The words of an action before its first ``[PAD]``."""
        words = []
        for i in np.asarray(action, dtype=np.int64).tolist():
            if i == self.pad_id:
                break
            words.append(self.words[i])
        return " ".join(words)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._t >= self.episode_length:
            raise RuntimeError("episode is over; call reset()")
        _, gold, subset = self.questions[self._current()]
        correct = self.decode_answer(action) == gold
        self._t += 1
        terminated = self._t >= self.episode_length
        obs = self._prompts[self._current()].copy()
        info = {"subset": self.questions[self._current()][2], "answered_subset": subset, "answer": gold,
                "correct": correct}
        return obs, float(correct), terminated, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            prompt, gold, subset = self.questions[self._current()]
            return f"[{subset}] {prompt} ({gold})"
        return None
