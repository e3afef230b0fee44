"""WAV input and output with ``soundfile``: user clips are checked and brought to the world's format.

:func:`read_wav` accepts any rate, channel count and sample type soundfile reads (int16/int32/float WAV,
FLAC, …): channels are averaged to mono, samples become float32 in [-1, 1], the rate is converted with
polyphase resampling. An unreadable, empty or non-finite file raises :class:`AudioFileError` with one line
naming the file.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly


class AudioFileError(ValueError):
    """A user's audio file that cannot be used; the message is one line naming the file."""


def read_wav(path: str | Path, sr: int, duration: float | None = None) -> np.ndarray:
    """Mono float32 at `sr`; with `duration` (s), cropped or zero-padded to that length."""
    import soundfile as sf

    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioFileError(f"{path}: cannot read audio ({str(err).splitlines()[0]})") from None
    if data.size == 0:
        raise AudioFileError(f"{path}: the file holds no samples")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{path}: the file holds NaN or infinite samples")
    wave = data.mean(axis=1)  # (N, channels) → mono
    if rate != sr:
        g = gcd(int(rate), int(sr))
        wave = resample_poly(wave, sr // g, int(rate) // g)
    if duration is not None:
        n = int(round(sr * duration))
        wave = np.pad(wave[:n], (0, max(0, n - wave.size)))
    return wave.astype(np.float32)


def write_wav(path: str | Path, wave: np.ndarray, sr: int, peak: float | None = 0.99) -> Path:
    """16-bit PCM WAV; with `peak`, scaled so that max |x| = peak (a silent clip stays silent)."""
    import soundfile as sf

    wave = np.asarray(wave, dtype=np.float64)
    top = np.abs(wave).max(initial=0.0)
    if peak is not None and top > 0:
        wave = wave * (peak / top)
    sf.write(str(path), np.clip(wave, -1.0, 1.0), int(sr), subtype="PCM_16")
    return Path(path)
