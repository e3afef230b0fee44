"""Image completion on scikit-learn's bundled 8×8 digits as neural-process tasks (CMANP §5, EMNIST protocol).

Each image is a function from pixel coordinates to intensity: x ∈ [−1, 1]² (row, column), y = pixel/16 − 0.5
∈ [−0.5, 0.5]. A task draws N_c ~ U{3, …, 64 − 4} context pixels and N_t ~ U{3, …, 64 − N_c} disjoint target
pixels (``data/image.py``: context count uniform in [3, max − 3), then a random number of targets) in a random
order. Seen / unseen classes follow the reference's EMNIST split (train on some classes, evaluate on the
others): by default digits 0–4 are seen, 5–9 unseen. Images of the seen classes are split into train and
test images; unseen classes are test-only.

    sampler = DigitCompletionSampler(classes=(0, 1, 2, 3, 4), split="train", seed=0)
    batch = sampler.sample(np.random.default_rng(0), batch_size=16)   # NPBatch, x (B, N, 2), y (B, N, 1)
"""

from __future__ import annotations

import numpy as np

from envs.tasks.digits import digits_images
from envs.tasks.gp_tasks import NPBatch

SEEN_CLASSES = (0, 1, 2, 3, 4)
UNSEEN_CLASSES = (5, 6, 7, 8, 9)
SIDE = 8
N_PIXELS = SIDE * SIDE


def pixel_coordinates() -> np.ndarray:
    """(64, 2) float32 (row, column) coordinates in [−1, 1], row-major like ``image.reshape(-1)``."""
    axis = np.linspace(-1.0, 1.0, SIDE, dtype=np.float32)
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], axis=-1)


class DigitCompletionSampler:
    """Completion tasks on the digit images of ``classes``; ``split`` = train | test | all (seed-fixed split)."""

    dim_x, dim_y = 2, 1

    def __init__(self, classes: tuple[int, ...] = SEEN_CLASSES, split: str = "train", test_fraction: float = 0.25,
                 seed: int = 0):
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be train, test or all, got {split!r}")
        if not classes or not set(classes) <= set(range(10)):
            raise ValueError(f"classes must be a non-empty subset of 0..9, got {classes}")
        images, labels = digits_images()
        keep = np.isin(labels, classes)
        values = images[keep].reshape(-1, N_PIXELS) - 0.5  # pixel/16 − 0.5
        order = np.random.default_rng(seed).permutation(len(values))
        n_test = int(round(test_fraction * len(values)))
        pick = {"train": order[n_test:], "test": order[:n_test], "all": order}[split]
        self.values = values[np.sort(pick)].astype(np.float32)  # (n_images, 64)
        self.classes, self.split = tuple(classes), split
        self.coords = pixel_coordinates()

    def __len__(self) -> int:
        return len(self.values)

    def sample(self, rng: np.random.Generator, batch_size: int = 16, num_ctx: int | None = None,
               num_tar: int | None = None) -> NPBatch:
        num_ctx = num_ctx or int(rng.integers(3, N_PIXELS - 3))
        num_tar = num_tar or int(rng.integers(3, N_PIXELS - num_ctx + 1))
        images = self.values[rng.integers(0, len(self.values), size=batch_size)]  # (B, 64)
        order = np.argsort(rng.random((batch_size, N_PIXELS)), axis=1)[:, : num_ctx + num_tar]  # random pixels
        x = self.coords[order]  # (B, N, 2)
        y = np.take_along_axis(images, order, axis=1)[..., None]  # (B, N, 1)
        return NPBatch(x[:, :num_ctx], y[:, :num_ctx], x[:, num_ctx:], y[:, num_ctx:])
