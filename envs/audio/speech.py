"""Spoken words synthesised offline by eSpeak NG, driven through ctypes, with a seeded on-disk cache.

The registry package ``espeakng-loader`` ships ``libespeak-ng`` and its voice data and exposes only their
paths (``get_library_path``, ``get_data_path``); ``_espeak_child.py`` calls its C API (``speak_lib.h``)
through ctypes. eSpeak NG draws noise from its own generator and libc ``rand()`` (both seeded per word)
and also keeps hidden state from one utterance to the next, so the words are synthesised by a fresh
interpreter, always in the same order: that makes synthesis deterministic.

:class:`WordBank` draws ``n_variants`` speakers (variant, pitch, range, rate) per word from a seed,
synthesises each word once, resamples it to the world's rate and stores the set as one ``.npz`` under
``cache_dir`` keyed by a hash of everything that determines it; a second build reads the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
VARIANTS = ("", "f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "klatt", "klatt2",
            "klatt3", "croak", "whisper")
LANGUAGES = ("en", "en-us", "en-gb-scotland", "en-029")


@dataclass(frozen=True)
class Speaker:
    """One eSpeak NG voice setting: ``language+variant``, rate (words/min), pitch and pitch range (0–100)."""

    voice: str
    rate: int
    pitch: int
    pitch_range: int


def draw_speakers(n: int, rng: np.random.Generator) -> list[Speaker]:
    """n speakers: random language and variant, rate 120–220 wpm, pitch 15–85, range 20–90."""
    lang, var = rng.integers(len(LANGUAGES), size=n), rng.integers(len(VARIANTS), size=n)
    rate, pitch, span = rng.integers(120, 221, n), rng.integers(15, 86, n), rng.integers(20, 91, n)
    return [Speaker(LANGUAGES[a] + (f"+{VARIANTS[b]}" if VARIANTS[b] else ""), int(r), int(p), int(s))
            for a, b, r, p, s in zip(lang, var, rate, pitch, span)]


def _resample(wave: np.ndarray, native: int, sr: int) -> np.ndarray:
    """Trim leading/trailing silence, then polyphase-resample from eSpeak's rate to `sr`."""
    loud = np.flatnonzero(np.abs(wave) > 1e-3 * max(np.abs(wave).max(initial=0.0), 1e-12))
    wave = wave[loud[0]: loud[-1] + 1] if loud.size else wave
    g = gcd(sr, native)
    return resample_poly(wave, sr // g, native // g).astype(np.float32)


def synthesize_many(requests: list[tuple[str, Speaker]], sr: int) -> list[np.ndarray]:
    """Every (word, speaker) as float32 at `sr`, synthesised in order by one fresh process.

    eSpeak NG keeps hidden state from one utterance to the next (neither re-initialising the library nor
    seeding its noise resets it), so the same request gives different samples after different histories.
    A fresh interpreter running ``_espeak_child.py`` (NumPy and ctypes only, so it starts fast) on the same
    list is deterministic; it returns int16 samples at 22 050 Hz through an ``.npz`` on stdout.
    """
    try:
        import espeakng_loader
    except ImportError as err:
        raise ImportError("speech synthesis needs espeakng-loader: pip install -e '.[audio]'") from err
    payload = json.dumps({"library": espeakng_loader.get_library_path(), "data": espeakng_loader.get_data_path(),
                          "requests": [[w, s.voice, s.rate, s.pitch, s.pitch_range] for w, s in requests]})
    child = subprocess.run([sys.executable, str(Path(__file__).with_name("_espeak_child.py"))], input=payload.encode(),
                           capture_output=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"eSpeak NG synthesis failed: {child.stderr.decode().strip().splitlines()[-1:]}")
    with np.load(io.BytesIO(child.stdout)) as out:
        native = int(out["sample_rate"])
        return [_resample(out[f"w{i}"].astype(np.float32) / 32768.0, native, sr) for i in range(len(requests))]


def synthesize(word: str, speaker: Speaker, sr: int) -> np.ndarray:
    """One spoken word at `sr` (leading/trailing silence trimmed)."""
    return synthesize_many([(word, speaker)], sr)[0]


def default_cache_dir() -> Path:
    return Path(os.environ.get("RECAST_AUDIO_CACHE", Path.home() / ".cache" / "recast" / "audio"))


class WordBank:
    """``waves[w][k]``: word ``words[w]`` spoken by speaker k of ``n_variants`` seeded speakers, at rate `sr`.

    With ``cache_dir`` (None: in memory only) the bank is stored once as ``words-<hash>.npz``; the hash covers
    words, n_variants, seed, sr and the synthesis settings, so a different request never reads a stale file.
    """

    VERSION = 1

    def __init__(self, words: tuple[str, ...], n_variants: int, seed: int, sr: int,
                 cache_dir: str | Path | None = None):
        self.words, self.n_variants, self.seed, self.sr = tuple(words), int(n_variants), int(seed), int(sr)
        self.speakers = draw_speakers(self.n_variants, np.random.default_rng([self.seed, 17]))
        key = json.dumps([self.VERSION, self.words, self.n_variants, self.seed, self.sr, VARIANTS, LANGUAGES])
        self.cache_path = (Path(cache_dir) / f"words-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
                           if cache_dir is not None else None)
        self.waves = self._load() if self.cache_path is not None and self.cache_path.exists() else None
        if self.waves is None:
            flat = synthesize_many([(w, s) for w in self.words for s in self.speakers], self.sr)
            self.waves = [flat[i * self.n_variants: (i + 1) * self.n_variants] for i in range(len(self.words))]
            self._store()

    def _load(self) -> list[list[np.ndarray]] | None:
        try:
            with np.load(self.cache_path) as data:
                return [[data[f"{w}_{k}"] for k in range(self.n_variants)] for w in range(len(self.words))]
        except (OSError, KeyError, ValueError):  # a torn or foreign file: synthesise again
            return None

    def _store(self) -> None:
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **{f"{w}_{k}": wave for w, row in enumerate(self.waves) for k, wave in enumerate(row)})
        tmp.replace(self.cache_path)  # atomic: concurrent builders never read half a file
