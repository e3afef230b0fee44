"""scikit-learn's bundled digits (UCI optical digits): 1,797 grey 8×8 images of 10 classes, no download."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """Images ``(1797, 1, 8, 8)`` float32 in [0, 1] (pixel counts 0..16 divided by 16) and int64 labels."""
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]
    return x, bunch.target.astype(np.int64)
