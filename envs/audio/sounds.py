"""Interferers: parametric sound events and coloured noise (NumPy, seeded by the caller's Generator).

Events (the spec's SynthESC families): harmonic tone, up-chirp, down-chirp, band-limited AM noise burst,
click train, FM vibrato tone — each with random parameters, a random duration and a Hann-tapered envelope.
Noise: white, pink (1/f power) and brown (1/f²) by spectral shaping of white Gaussian noise.
"""

from __future__ import annotations

import numpy as np

EVENTS = ("harmonic", "up_chirp", "down_chirp", "am_noise", "clicks", "vibrato")
NOISES = ("white", "pink", "brown")


def coloured_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with power spectrum ∝ 1/f^α, α = 0 (white), 1 (pink), 2 (brown)."""
    alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    noise = np.fft.irfft(spectrum / f ** (alpha / 2), n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def sound_event(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One event of 0.15–0.6 s, peak 1."""
    n = int(sr * rng.uniform(0.15, 0.6))
    t = np.arange(n) / sr
    nyq = sr / 2
    if kind == "harmonic":
        f0 = rng.uniform(150, 600)
        harmonics = np.arange(1, rng.integers(2, 7) + 1)
        harmonics = harmonics[harmonics * f0 < 0.9 * nyq]
        x = np.sin(2 * np.pi * f0 * t[:, None] * harmonics + rng.uniform(0, 2 * np.pi, harmonics.size)).sum(1)
    elif kind in ("up_chirp", "down_chirp"):
        f_lo, f_hi = rng.uniform(200, 800), rng.uniform(1500, 0.85 * nyq)
        f_a, f_b = (f_lo, f_hi) if kind == "up_chirp" else (f_hi, f_lo)
        x = np.sin(2 * np.pi * (f_a * t + (f_b - f_a) * t**2 / (2 * t[-1])))
    elif kind == "am_noise":
        lo = rng.uniform(100, 0.6 * nyq)
        band = (lo, min(lo * rng.uniform(1.3, 2.5), 0.95 * nyq))
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / sr)
        x = np.fft.irfft(spectrum * ((freqs >= band[0]) & (freqs <= band[1])), n)
        x *= 1 + 0.9 * np.sin(2 * np.pi * rng.uniform(4, 16) * t)
    elif kind == "clicks":
        period = max(1, int(sr / rng.uniform(8, 40)))
        x = np.zeros(n)
        x[::period] = 1.0
        x = np.convolve(x, np.exp(-np.arange(int(0.003 * sr)) / (0.0005 * sr)), mode="same")
    elif kind == "vibrato":
        f0, depth, rate = rng.uniform(300, 1500), rng.uniform(20, 120), rng.uniform(4, 9)
        x = np.sin(2 * np.pi * f0 * t + depth / rate * np.sin(2 * np.pi * rate * t))
    else:
        raise ValueError(f"unknown sound event '{kind}'; choose one of {EVENTS}")
    x = x * np.hanning(n)
    return (x / max(np.abs(x).max(), 1e-12)).astype(np.float32)
