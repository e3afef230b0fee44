"""Classification task streams: train/validation/test splits, label noise, lifelong sequences.

``make_tasks(source, stream, ...)`` returns a list of :class:`TaskData`:

* ``stream=None``: one task with every class;
* ``stream="split"``: the classes cut into ``n_tasks`` consecutive groups (digits: {0,1}, {2,3}, ...);
* ``stream="permuted"``: ``n_tasks`` tasks with every class, task t seeing the images through a fixed
  random pixel permutation (task 0: identity).

Splits are stratified and fixed by ``seed``; label noise (symmetric: a label is replaced, with
probability ``label_noise``, by a uniformly drawn *other* class of the same task) touches only the
training labels. Arrays are NumPy (envs never import torch); the scenario moves them to a device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import train_test_split

from envs.tasks.digits import digits_images
from envs.tasks.synthetic import synthetic_cifar

SOURCES = ("digits", "synthetic_cifar")
STREAMS = (None, "split", "permuted")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TaskData:
    """One task: images ``x_*`` (N, C, H, W) float32 in [0, 1], labels ``y_*`` int64.

    ``classes`` are the labels this task uses (the label space has ``n_classes`` entries);
    ``y_train_clean`` are the training labels before label noise.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[int, ...]
    n_classes: int
    y_train_clean: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def split_arrays(x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                 name: str = "task", n_classes: int | None = None) -> TaskData:
    """Stratified train / validation / test split (fractions of the whole set)."""
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"bad fractions: val={val_fraction}, test={test_fraction}")
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
    if val_fraction > 0:
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest, random_state=seed + 1)
    else:
        x_train, y_train, x_val, y_val = x_rest, y_rest, x_rest[:0], y_rest[:0]
    classes = tuple(int(c) for c in np.unique(y))
    return TaskData(name, x_train, y_train, x_val, y_val, x_test, y_test, classes,
                    n_classes or len(classes), y_train.copy())


def with_label_noise(task: TaskData, rate: float, rng: np.random.Generator) -> TaskData:
    """Symmetric noise on the training labels within ``task.classes``."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {rate}")
    if rate == 0.0 or len(task.classes) < 2:
        return task
    y, classes = task.y_train_clean.copy(), np.asarray(task.classes)
    flip = rng.random(y.size) < rate
    # draw an offset 1..C-1 in class-index space: always a different class, uniformly
    idx = np.searchsorted(classes, y[flip])
    y[flip] = classes[(idx + rng.integers(1, classes.size, size=idx.size)) % classes.size]
    return replace(task, y_train=y)


def _subset(task: TaskData, classes: tuple[int, ...], name: str) -> TaskData:
    parts = {}
    for s in SPLITS:
        x, y = task.split(s)
        keep = np.isin(task.y_train_clean if s == "train" else y, classes)
        parts[f"x_{s}"], parts[f"y_{s}"] = x[keep], y[keep]
    clean = task.y_train_clean[np.isin(task.y_train_clean, classes)]
    return TaskData(name=name, classes=classes, n_classes=task.n_classes, y_train_clean=clean, **parts)


def _permuted(task: TaskData, perm: np.ndarray, name: str) -> TaskData:
    shape = task.image_shape
    def apply(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), shape[0], -1)[:, :, perm].reshape(len(x), *shape)
    return replace(task, name=name, x_train=apply(task.x_train), x_val=apply(task.x_val), x_test=apply(task.x_test))


def load_source(source: str, seed: int, n_synthetic: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    if source == "digits":
        return digits_images()
    if source == "synthetic_cifar":
        return synthetic_cifar(n_synthetic, seed)
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def make_tasks(source: str = "digits", stream: str | None = None, n_tasks: int = 5, seed: int = 0,
               val_fraction: float = 0.15, test_fraction: float = 0.25, label_noise: float = 0.0,
               n_synthetic: int = 20_000) -> list[TaskData]:
    """The task list of a stream (see the module docstring). Everything is fixed by ``seed``."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
    x, y = load_source(source, seed, n_synthetic)
    base = split_arrays(x, y, val_fraction, test_fraction, seed, name=source)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    if stream is None:
        tasks = [base]
    elif stream == "split":
        if not 1 <= n_tasks <= len(base.classes):
            raise ValueError(f"n_tasks must be in [1, {len(base.classes)}] for a split stream, got {n_tasks}")
        groups = np.array_split(np.asarray(base.classes), n_tasks)
        tasks = [_subset(base, tuple(int(c) for c in g), f"{source}-split{t}") for t, g in enumerate(groups)]
    else:
        n_pix = int(np.prod(base.image_shape[1:]))
        perms = [np.arange(n_pix)] + [rng.permutation(n_pix) for _ in range(n_tasks - 1)]
        tasks = [_permuted(base, p, f"{source}-perm{t}") for t, p in enumerate(perms)]
    return [with_label_noise(t, label_noise, rng) for t in tasks]


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of shuffled index batches (the last may be smaller)."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
