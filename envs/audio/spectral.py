"""STFT / ISTFT, log1p magnitudes, the mel filterbank and the listenable interpretation (NumPy + SciPy).

Conventions follow the L-MAC recipe (speechbrain ``Fbank``/``STFT``), scaled from 16 kHz to 8 kHz:
Hamming window, zero-padded frames centred on the signal, magnitude ``sqrt(re² + im² + 1e-14)``, the mask
domain ``X = log1p(|STFT|)`` on a (T, F) grid (time first, as in the recipe), and the classifier's input
``log1p(Mel(expm1(X)))`` with triangular HTK-mel filters on the magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hamming

EPS_MAGNITUDE = 1e-14  # speechbrain's spectral_magnitude(power=0.5) floor


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=float) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=float) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sr: int, f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:
    """(F = n_fft//2 + 1, n_mels) triangular filters, equally spaced on the HTK mel scale, peak 1."""
    f_max = sr / 2 if f_max is None else f_max
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)[:, None]
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rising, falling = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


@dataclass(frozen=True)
class Spectral:
    """The time–frequency front end shared by the world, the explainers' inputs and the listenable output.

    Shapes: a waveform batch (..., N) ↔ a complex spectrogram (..., T, F) with F = n_fft // 2 + 1.
    """

    sr: int = 8000
    n_fft: int = 256
    win_length: int = 256
    hop: int = 80
    n_mels: int = 40

    @cached_property
    def _stft(self) -> ShortTimeFFT:
        return ShortTimeFFT(hamming(self.win_length, sym=False), hop=self.hop, fs=self.sr, mfft=self.n_fft)

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        return self._stft.p_max(n_samples) - self._stft.p_min

    @cached_property
    def fbank(self) -> np.ndarray:
        return mel_filterbank(self.n_mels, self.n_fft, self.sr)

    def stft(self, wave: np.ndarray) -> np.ndarray:
        """Complex STFT, (..., N) → (..., T, F)."""
        return np.swapaxes(self._stft.stft(np.asarray(wave, dtype=np.float64)), -1, -2)

    def istft(self, spec: np.ndarray, length: int) -> np.ndarray:
        """Inverse of :meth:`stft` (weighted overlap-add), (..., T, F) → (..., length)."""
        return self._stft.istft(np.swapaxes(spec, -1, -2), k1=length)

    @staticmethod
    def magnitude(spec: np.ndarray) -> np.ndarray:
        return np.sqrt(spec.real**2 + spec.imag**2 + EPS_MAGNITUDE)

    def log1p_magnitude(self, wave: np.ndarray) -> np.ndarray:
        """X = log1p(|STFT(x)|), the domain of the mask, float32 (..., T, F)."""
        return np.log1p(self.magnitude(self.stft(wave))).astype(np.float32)

    def log_mel(self, log1p_mag: np.ndarray) -> np.ndarray:
        """The classifier's features log1p(Mel(expm1(X))), (..., T, n_mels)."""
        return np.log1p(np.expm1(np.clip(log1p_mag, 0.0, None)) @ self.fbank)

    def listenable(self, mask: np.ndarray, wave: np.ndarray) -> np.ndarray:
        """x_int = ISTFT(expm1(M ⊙ X) · e^{j∠STFT(x)}): the explanation as audio, with the input's phase."""
        spec = self.stft(wave)
        magnitude = np.expm1(np.asarray(mask) * np.log1p(self.magnitude(spec)))
        return self.istft(magnitude * np.exp(1j * np.angle(spec)), np.shape(wave)[-1]).astype(np.float32)


def oracle_masks(spectral: Spectral, target: np.ndarray, interference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ideal binary mask 1[|S_t| > |S_n|] and ideal ratio mask |S_t| / (|S_t| + |S_n|), (..., T, F) float32."""
    s_t, s_n = (np.abs(spectral.stft(w)) for w in (target, interference))
    ibm = (s_t > s_n).astype(np.float32)
    irm = (s_t / np.maximum(s_t + s_n, 1e-12)).astype(np.float32)
    return ibm, irm
