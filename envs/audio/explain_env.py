"""``recast/AudioExplain-v0``: explain a classifier's decision on a stream of noisy spoken-digit clips.

## Description
Each step shows one clip's log-magnitude spectrogram X = log1p|STFT(x)| and asks for a time–frequency mask
M ∈ [0, 1]^{T×F} that explains the decision (L-MAC, Paissan et al. 2024). The next clip follows.

## Observation Space
``Box(0, log1p(Σ window), (T, F), float32)`` — 103 frames × 129 bins for 1 s at 8 kHz.

## Action Space
``Box(0, 1, (T, F), float32)``: the mask.

## Rewards
With a ``classifier`` (a callable mapping a (B, T, F) batch of X to class probabilities (B, C); the
scenario passes the frozen CNN), the reward is the faithfulness p_c(M ⊙ X) − p_c((1 − M) ⊙ X) for the
classifier's own decision c = argmax p(X) (masked-in keeps it, masked-out removes it; in [−1, 1]).
Without one, it is the soft IoU of M with the oracle ideal binary mask, Σ min(M, IBM) / Σ max(M, IBM)
(1 when both are empty).

## Episode End
Terminates after ``episode_length`` clips.

## Arguments
``mode`` (contamination, see :mod:`envs.audio.mixtures`), ``split`` (train | val | test speakers),
``n_classes``, ``n_speakers``, ``episode_length``, ``classifier``, ``cache_dir`` (word-bank cache; None: memory),
``snr_db`` and ``snr_spread`` (in-domain SNR ~ U[snr_db ± snr_spread]).
``info`` holds the label, the IBM, the clean target's and the mixture's waveforms.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.audio.mixtures import AudioWorld, WorldSpec


def soft_iou(mask: np.ndarray, reference: np.ndarray) -> float:
    union = float(np.maximum(mask, reference).sum())
    return 1.0 if union == 0 else float(np.minimum(mask, reference).sum()) / union


class AudioExplainEnv(gymnasium.Env):
    metadata = {"render_modes": []}

    def __init__(self, mode: str = "in_domain", split: str = "test", n_classes: int = 10, n_speakers: int = 20,
                 episode_length: int = 8, classifier: Callable[[np.ndarray], np.ndarray] | None = None,
                 cache_dir: str | Path | None = None, snr_db: float = 0.0, snr_spread: float = 5.0,
                 render_mode: str | None = None):
        spec = WorldSpec(n_classes=n_classes, n_speakers=n_speakers, snr_db=snr_db, snr_spread=snr_spread)
        self.world = AudioWorld(spec, cache_dir)
        self.mode, self.split, self.episode_length, self.classifier = mode, split, int(episode_length), classifier
        self.world.sample(1, mode, split, np.random.default_rng(0))  # fail early on a bad mode/split
        sp = self.world.spectral
        shape = (sp.n_frames(self.world.n_samples), sp.n_freqs)
        high = float(np.log1p(np.hamming(sp.win_length).sum() * 1.01))
        self.observation_space = spaces.Box(0.0, high, shape, np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape, np.float32)
        self.render_mode = render_mode
        self._clip: dict[str, Any] = {}
        self._t = 0

    def _next_clip(self) -> np.ndarray:
        clips = self.world.sample(1, self.mode, self.split, self.np_random)
        feats = self.world.features(clips)
        self._clip = {"x": feats["x"][0], "ibm": feats["ibm"][0], "label": int(clips.label[0]),
                      "target": clips.target[0], "mixture": clips.mixture[0]}
        return self._clip["x"]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._next_clip(), {"label": self._clip["label"]}

    def _reward(self, mask: np.ndarray) -> float:
        if self.classifier is None:
            return soft_iou(mask, self._clip["ibm"])
        x = self._clip["x"]
        probs = np.asarray(self.classifier(np.stack([x, mask * x, (1 - mask) * x])))
        c = int(np.argmax(probs[0]))
        return float(probs[1, c] - probs[2, c])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        mask = np.clip(np.asarray(action, dtype=np.float32), 0.0, 1.0)
        reward = self._reward(mask)
        info = {"label": self._clip["label"], "ibm": self._clip["ibm"], "target": self._clip["target"],
                "mixture": self._clip["mixture"], "mask_iou": soft_iou(mask, self._clip["ibm"])}
        self._t += 1
        terminated = self._t >= self.episode_length
        return self._next_clip(), reward, terminated, False, info
