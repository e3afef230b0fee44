"""Clips of spoken digits in interference, with the exact clean target and oracle masks.

A clip is ``mixture = target + interference`` sample for sample: one class word (the label) at a random
onset, plus interferers generated separately, the three scaled together so that max |mixture| = 1 (the
recipe's peak normalisation). Because the parts are kept, the clean target, the ideal binary mask
1[|S_t| > |S_n|] and the ideal ratio mask are exact.

Contamination modes (``MODES``):

- ``in_domain`` (training and in-domain test; the WHAM!-at-0-dB stand-in): one sound event (see
  :mod:`envs.audio.sounds`) or pink/brown noise at SNR ~ U[snr_db − snr_spread, snr_db + snr_spread];
- ``ood_words``: another speaker saying a non-class word, by the recipe's rule 0.8·s/‖s‖ + 0.2·n/‖n‖;
- ``ood_white``: white noise, s/‖s‖ + 0.5·n/‖n‖ (recipe's white-noise rule; a noise type never seen);
- ``ood_babble``: 3–5 overlapping non-class words at ``babble_snr_db`` (an unseen type and SNR);
- ``clean``: no interference (interference ≡ 0).

Speakers are split by index into train / val / test, so test clips come from unseen voice settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.audio.sounds import EVENTS, coloured_noise, sound_event
from envs.audio.spectral import Spectral, oracle_masks
from envs.audio.speech import COMMANDS, DIGITS, WordBank

MODES = ("in_domain", "ood_words", "ood_white", "ood_babble", "clean")
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = {"train": (0.0, 0.6), "val": (0.6, 0.7), "test": (0.7, 1.0)}


@dataclass(frozen=True)
class WorldSpec:
    """What the world draws: ``n_classes`` digit words by ``n_speakers`` seeded speakers, clips of ``duration`` s."""

    n_classes: int = 10
    n_speakers: int = 40
    sr: int = 8000
    duration: float = 1.0
    snr_db: float = 0.0
    snr_spread: float = 5.0
    babble_snr_db: float = -5.0
    bank_seed: int = 0


@dataclass
class Clips:
    """A batch of n clips of N samples (float32) and their labels; ``mixture == target + interference``."""

    mixture: np.ndarray
    target: np.ndarray
    interference: np.ndarray
    label: np.ndarray
    mode: str

    def __len__(self) -> int:
        return len(self.label)


def _place(wave: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, np.float32)
    wave = wave[:n]
    start = int(rng.integers(0, n - wave.size + 1))
    out[start: start + wave.size] = wave
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), 1e-12)


class AudioWorld:
    """The word banks plus the mixing rules; :meth:`sample` draws seeded batches of clips."""

    def __init__(self, spec: WorldSpec = WorldSpec(), cache_dir: str | Path | None = None):
        if not 2 <= spec.n_classes <= len(DIGITS):
            raise ValueError(f"n_classes must be in [2, {len(DIGITS)}], got {spec.n_classes}")
        if spec.n_speakers < 3:
            raise ValueError(f"n_speakers must be >= 3 (train/val/test split), got {spec.n_speakers}")
        self.spec = spec
        self.n_samples = int(round(spec.sr * spec.duration))
        self.classes = DIGITS[: spec.n_classes]
        self.words = WordBank(self.classes, spec.n_speakers, spec.bank_seed, spec.sr, cache_dir)
        self.others = WordBank(COMMANDS, spec.n_speakers, spec.bank_seed + 1, spec.sr, cache_dir)
        self.spectral = Spectral(sr=spec.sr)

    def speakers(self, split: str) -> np.ndarray:
        lo, hi = SPLIT_FRACTIONS[split]
        n = self.spec.n_speakers
        return np.arange(int(round(lo * n)), max(int(round(hi * n)), int(round(lo * n)) + 1))

    def sample(self, n: int, mode: str, split: str, rng: np.random.Generator) -> Clips:
        """n clips in contamination `mode` from the `split`'s speakers (labels uniform over classes)."""
        if mode not in MODES or split not in SPLITS:
            raise ValueError(f"mode must be one of {MODES} and split one of {SPLITS}, got {mode!r}, {split!r}")
        who = self.speakers(split)
        labels = rng.integers(self.spec.n_classes, size=n)
        targets = np.stack([_place(self.words.waves[c][rng.choice(who)], self.n_samples, rng) for c in labels])
        interference = np.stack([self._interference(mode, t, who, rng) for t in targets])
        mixture = targets + interference
        scale = 1.0 / np.maximum(np.abs(mixture).max(-1, keepdims=True), 1e-12)
        return Clips((mixture * scale).astype(np.float32), (targets * scale).astype(np.float32),
                     (interference * scale).astype(np.float32), labels.astype(np.int64), mode)

    def _other_word(self, who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _place(self.others.waves[rng.integers(len(COMMANDS))][rng.choice(who)], self.n_samples, rng)

    def _interference(self, mode: str, target: np.ndarray, who: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, s = self.n_samples, self.spec
        norm = float(np.linalg.norm(target))
        if mode == "clean":
            return np.zeros(n, np.float32)
        if mode == "in_domain":
            kind = rng.choice([*EVENTS, "pink", "brown"])
            noise = coloured_noise(kind, n, rng) if kind in ("pink", "brown") else _place(sound_event(kind, s.sr, rng),
                                                                                         n, rng)
            snr = rng.uniform(s.snr_db - s.snr_spread, s.snr_db + s.snr_spread)
            return (norm * 10 ** (-snr / 20) * _unit(noise)).astype(np.float32)
        if mode == "ood_words":  # 0.8 s/‖s‖ + 0.2 n/‖n‖, expressed relative to s
            return (norm * 0.25 * _unit(self._other_word(who, rng))).astype(np.float32)
        if mode == "ood_white":  # s/‖s‖ + 0.5 n/‖n‖
            return (norm * 0.5 * _unit(coloured_noise("white", n, rng))).astype(np.float32)
        babble = sum(self._other_word(who, rng) for _ in range(int(rng.integers(3, 6))))
        return (norm * 10 ** (-s.babble_snr_db / 20) * _unit(babble)).astype(np.float32)

    def features(self, clips: Clips) -> dict[str, np.ndarray]:
        """X = log1p|STFT(mixture)| and the oracle masks (IBM, IRM), each (n, T, F) float32."""
        ibm, irm = oracle_masks(self.spectral, clips.target, clips.interference)
        return {"x": self.spectral.log1p_magnitude(clips.mixture), "ibm": ibm, "irm": irm}
