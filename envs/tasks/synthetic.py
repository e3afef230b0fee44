"""A synthetic image set of CIFAR shape (3×32×32, 10 classes) for GPU-scale runs without a download.

Each class c has a smooth random colour template T_c (Gaussian noise at 4×4 and 8×8, upsampled); an
image of class c is

    x = clip(0.5 + 0.2 (T_c + 0.5 T_c' + σ ξ), 0, 1),   c' ~ U(classes), ξ ~ N(0, I),

then shifted by up to ±4 pixels (circularly) and flipped horizontally with probability ½. The
distractor template T_c' and the pixel noise σ make the task non-trivial; nothing here is CIFAR data.
"""

from __future__ import annotations

import numpy as np


def _upsample(a: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour then a 3-tap box blur along both axes: a cheap smooth upsampling."""
    r = size // a.shape[-1]
    up = np.repeat(np.repeat(a, r, axis=-2), r, axis=-1)
    for axis in (-2, -1):
        up = (np.roll(up, 1, axis) + up + np.roll(up, -1, axis)) / 3.0
    return up


def synthetic_cifar(n: int, seed: int, n_classes: int = 10, size: int = 32, noise: float = 1.0,
                    chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, 3, size, size)`` float32 in [0, 1] and balanced int64 labels (seeded)."""
    rng = np.random.default_rng(seed)
    templates = _upsample(rng.normal(size=(n_classes, 3, 4, 4)), size) + 0.5 * _upsample(
        rng.normal(size=(n_classes, 3, 8, 8)), size)
    templates /= templates.std(axis=(1, 2, 3), keepdims=True)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    x = np.empty((n, 3, size, size), dtype=np.float32)
    for start in range(0, n, chunk):
        yc = y[start:start + chunk]
        m = yc.size
        distract = templates[rng.integers(n_classes, size=m)]
        img = templates[yc] + 0.5 * distract + noise * rng.normal(size=(m, 3, size, size))
        shifts = rng.integers(-4, 5, size=(m, 2))
        flips = rng.random(m) < 0.5
        for i in range(m):  # per-image shift/flip: cheap relative to the noise draw
            img[i] = np.roll(img[i], tuple(shifts[i]), axis=(1, 2))
            if flips[i]:
                img[i] = img[i][:, :, ::-1]
        x[start:start + m] = np.clip(0.5 + 0.2 * img, 0.0, 1.0)
    return x, y
