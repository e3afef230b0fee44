"""Procedural scenes: a few coloured shapes on a patch grid, with clutter, and their exact ground truth.

A scene is drawn on an ``image_size``² RGB canvas split into a G × G grid of ``patch_size``-pixel patches
(G = image_size / patch_size, patch p = row · G + col, row-major like a ViT's patchify). Each object has a
size (``small`` spans ``small_cells``² cells, ``big`` spans ``big_cells``² cells), a colour and a shape; objects
occupy distinct cells (no occlusion) and, within one image, distinct (colour, shape) pairs. The background is a
random grey level with pixel noise and grey "clutter" specks that no caption mentions.

Ground truth is exact: a per-pixel object map and, per object, a patch mask {p : the object covers at least
``min_cover`` of patch p's pixels} (always containing the object's best-covered patch); class label
``(size · 4 + colour) · 4 + shape`` (32 classes with the default attributes).

Compositional split: some (colour, shape) pairs are *held out* — the ``train``/``test`` splits never contain
them, the ``heldout`` split contains only them (each colour and each shape still appears in training).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

SIZES = ("small", "big")
COLOURS = ("red", "green", "blue", "yellow")
SHAPES = ("square", "circle", "triangle", "cross")
RGB = np.array([[0.92, 0.12, 0.10], [0.10, 0.78, 0.18], [0.15, 0.30, 0.97], [0.96, 0.86, 0.10]], dtype=np.float32)
N_CLASSES = len(SIZES) * len(COLOURS) * len(SHAPES)
SPLITS = ("train", "test", "heldout")
DEFAULT_HELD_OUT = ("red triangle", "green cross", "blue circle", "yellow square")  # a Latin square


def class_index(size: np.ndarray | int, colour: np.ndarray | int, shape: np.ndarray | int) -> np.ndarray | int:
    """Class label of a (size, colour, shape) triple: ``(size · 4 + colour) · 4 + shape``."""
    return (size * len(COLOURS) + colour) * len(SHAPES) + shape


def class_attributes(label: int) -> tuple[int, int, int]:
    """Inverse of :func:`class_index`: (size, colour, shape)."""
    size, rest = divmod(int(label), len(COLOURS) * len(SHAPES))
    colour, shape = divmod(rest, len(SHAPES))
    return size, colour, shape


def parse_combo(text: str) -> tuple[int, int]:
    """``"red triangle"`` → (colour index, shape index); ValueError naming the bad word otherwise."""
    words = text.split()
    if len(words) != 2 or words[0] not in COLOURS or words[1] not in SHAPES:
        raise ValueError(f"held-out combination {text!r} must be '<colour> <shape>' with colour in {COLOURS} "
                         f"and shape in {SHAPES}")
    return COLOURS.index(words[0]), SHAPES.index(words[1])


@dataclass(frozen=True)
class WorldSpec:
    """Geometry and appearance of the world (everything but the random draws).

    Attributes:
        image_size: canvas side in pixels.
        patch_size: patch side in pixels (``image_size`` must be a multiple).
        min_objects, max_objects: number of objects per scene (uniform).
        small_cells, big_cells: side, in grid cells, of a small / big object's footprint.
        noise: standard deviation of the per-pixel Gaussian noise.
        clutter: number of grey specks per image (never in a caption or mask).
        min_cover: fraction of a patch's pixels an object must cover for the patch to be in its mask.
        held_out: (colour, shape) pairs held out of the train/test splits, as ``"<colour> <shape>"``.
    """

    image_size: int = 32
    patch_size: int = 8
    min_objects: int = 1
    max_objects: int = 3
    small_cells: int = 1
    big_cells: int = 2
    noise: float = 0.04
    clutter: int = 4
    min_cover: float = 0.1
    held_out: tuple[str, ...] = field(default=DEFAULT_HELD_OUT)

    def __post_init__(self) -> None:
        object.__setattr__(self, "held_out", tuple(self.held_out))
        self.validate()

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def n_patches(self) -> int:
        return self.grid**2

    def combos(self, split: str) -> np.ndarray:
        """The (colour, shape) pairs a split may draw, shape (n, 2)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        held = {parse_combo(c) for c in self.held_out}
        pairs = [(c, s) for c in range(len(COLOURS)) for s in range(len(SHAPES))]
        allowed = [pair for pair in pairs if (pair in held) == (split == "heldout")]
        return np.array(allowed, dtype=np.int64).reshape(-1, 2)

    def validate(self) -> None:
        if self.image_size <= 0 or self.patch_size <= 0 or self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be a positive multiple of "
                             f"patch_size ({self.patch_size})")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        if not 1 <= self.small_cells <= self.big_cells <= self.grid:
            raise ValueError(f"need 1 <= small_cells <= big_cells <= grid ({self.grid}), "
                             f"got {self.small_cells}, {self.big_cells}")
        if (self.grid // self.big_cells) ** 2 < self.max_objects:
            raise ValueError(f"a {self.grid}x{self.grid} grid cannot surely hold {self.max_objects} big objects of "
                             f"{self.big_cells}x{self.big_cells} cells")
        if self.noise < 0 or self.clutter < 0 or not 0 < self.min_cover <= 1:
            raise ValueError("need noise >= 0, clutter >= 0 and 0 < min_cover <= 1")
        held = [parse_combo(c) for c in self.held_out]
        if len(set(held)) != len(held):
            raise ValueError(f"held_out has duplicates: {self.held_out}")
        seen = self.combos("train")
        if len(seen) < self.max_objects:
            raise ValueError(f"only {len(seen)} seen (colour, shape) pairs for up to {self.max_objects} "
                             "distinct objects")
        if set(seen[:, 0]) != set(range(len(COLOURS))) or set(seen[:, 1]) != set(range(len(SHAPES))):
            raise ValueError(f"held_out {self.held_out} removes every pair of some colour or shape from training")


@dataclass
class Scenes:
    """A batch of scenes (numpy, fixed shapes; K = max_objects, padding = -1).

    Attributes:
        images: (N, 3, H, W) float32 in [0, 1].
        n_objects: (N,) int64.
        attributes: (N, K, 3) int64 — (size, colour, shape) per object, -1 for absent objects.
        labels: (N, K) int64 class labels, -1 for absent objects.
        object_map: (N, H, W) int8 — index of the object drawn at each pixel, -1 for background.
        patch_masks: (N, K, P) bool — the patches each object covers (all False for absent objects).
    """

    images: np.ndarray
    n_objects: np.ndarray
    attributes: np.ndarray
    labels: np.ndarray
    object_map: np.ndarray
    patch_masks: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


@lru_cache(maxsize=None)
def shape_mask(shape: int, extent: int) -> np.ndarray:
    """An ``extent``² boolean mask of a shape, sampled at pixel centres of the square [-1, 1]²."""
    u = (np.arange(extent) + 0.5) / extent * 2.0 - 1.0
    y, x = np.meshgrid(u, u, indexing="ij")  # y grows downwards
    name = SHAPES[shape]
    if name == "square":
        mask = (np.abs(x) <= 0.8) & (np.abs(y) <= 0.8)
    elif name == "circle":
        mask = x**2 + y**2 <= 0.92**2
    elif name == "triangle":  # apex up, base at the bottom
        mask = (y >= -0.9) & (y <= 0.85) & (np.abs(x) <= (y + 0.9) / 1.75 * 0.95)
    else:  # cross
        mask = ((np.abs(x) <= 0.3) & (np.abs(y) <= 0.95)) | ((np.abs(y) <= 0.3) & (np.abs(x) <= 0.95))
    mask.setflags(write=False)
    return mask


def sample_attributes(spec: WorldSpec, n: int, rng: np.random.Generator, split: str,
                      n_objects: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Object counts (N,) and attributes (N, K, 3); distinct (colour, shape) pairs within an image."""
    combos = spec.combos(split)
    k = spec.max_objects
    if n_objects is None:
        counts = rng.integers(spec.min_objects, min(spec.max_objects, len(combos)) + 1, size=n)
    else:
        if not 1 <= n_objects <= min(k, len(combos)):
            raise ValueError(f"n_objects must be in [1, {min(k, len(combos))}] for split {split!r}, got {n_objects}")
        counts = np.full(n, n_objects, dtype=np.int64)
    picks = np.argsort(rng.random((n, len(combos))), axis=1)[:, :k]  # distinct pairs per image
    picks = np.pad(picks, ((0, 0), (0, max(0, k - picks.shape[1]))))
    attrs = np.stack([rng.integers(0, len(SIZES), size=(n, k)), combos[picks, 0], combos[picks, 1]], axis=-1)
    attrs[np.arange(k)[None, :] >= counts[:, None]] = -1
    return counts.astype(np.int64), attrs.astype(np.int64)


@lru_cache(maxsize=None)
def _footprints(grid: int, cells: int) -> np.ndarray:
    """(n_positions, grid²) bool: the grid cells covered by a cells×cells footprint at each top-left position."""
    n = grid - cells + 1
    cover = np.zeros((n, n, grid, grid), dtype=bool)
    for r in range(n):
        for c in range(n):
            cover[r, c, r : r + cells, c : c + cells] = True
    return cover.reshape(n * n, grid * grid)


def _place(spec: WorldSpec, sizes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Top-left cells and footprints (cells) of non-overlapping objects, biggest first; resample if stuck."""
    g = spec.grid
    feet = np.where(sizes == 1, spec.big_cells, spec.small_cells)
    order = np.argsort(-feet, kind="stable")
    for _ in range(50):
        used = np.zeros(g * g, dtype=bool)
        cells = np.zeros((len(sizes), 2), dtype=np.int64)
        for i in order:
            cover = _footprints(g, int(feet[i]))
            options = np.flatnonzero(~(cover & used).any(axis=1))
            if options.size == 0:
                break
            choice = int(options[rng.integers(options.size)])
            cells[i] = divmod(choice, g - feet[i] + 1)
            used |= cover[choice]
        else:
            return cells, feet
    raise ValueError(f"could not place {len(sizes)} objects on a {g}x{g} grid; lower max_objects or big_cells")


def render(spec: WorldSpec, counts: np.ndarray, attrs: np.ndarray, rng: np.random.Generator) -> Scenes:
    """Draw the scenes for the given attributes; all randomness (placement, jitter, noise) from `rng`."""
    n, k = attrs.shape[:2]
    s, p, g = spec.image_size, spec.patch_size, spec.grid
    # Background: a grey level per image, pixel noise, grey specks (clutter).
    base = rng.uniform(0.05, 0.3, size=(n, 1, 1, 1)).astype(np.float32)
    images = np.broadcast_to(base, (n, 3, s, s)).copy()
    if spec.clutter:
        speck = rng.integers(0, s - 1, size=(n, spec.clutter, 2))
        grey = rng.uniform(0.35, 0.65, size=(n, spec.clutter)).astype(np.float32)
        idx = np.repeat(np.arange(n), spec.clutter)
        for dy in (0, 1):
            for dx in (0, 1):
                images[idx, :, speck[..., 0].ravel() + dy, speck[..., 1].ravel() + dx] = grey.ravel()[:, None]
    object_map = np.full((n, s, s), -1, dtype=np.int8)
    brightness = rng.uniform(0.8, 1.0, size=(n, k)).astype(np.float32)
    for i in range(n):
        cells, feet = _place(spec, attrs[i, : counts[i], 0], rng)
        for j in range(counts[i]):
            size_px = feet[j] * p
            extent = int(rng.integers(size_px - max(1, size_px // 4), size_px + 1))  # scale jitter
            oy, ox = rng.integers(0, size_px - extent + 1, size=2)  # position jitter inside the footprint
            y0, x0 = cells[j, 0] * p + oy, cells[j, 1] * p + ox
            mask = shape_mask(int(attrs[i, j, 2]), extent)
            window = images[i, :, y0 : y0 + extent, x0 : x0 + extent]
            window[:, mask] = (RGB[attrs[i, j, 1]] * brightness[i, j])[:, None]
            object_map[i, y0 : y0 + extent, x0 : x0 + extent][mask] = j
    images += spec.noise * rng.standard_normal(size=images.shape, dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)

    # Patch masks: fraction of each patch covered by each object.
    onehot = object_map[:, None, :, :] == np.arange(k, dtype=np.int8)[None, :, None, None]  # (N, K, H, W)
    cover = onehot.reshape(n, k, g, p, g, p).mean(axis=(3, 5)).reshape(n, k, g * g)
    masks = cover >= spec.min_cover
    present = np.arange(k)[None, :] < counts[:, None]
    best = cover.argmax(axis=-1)
    masks[np.arange(n)[:, None], np.arange(k)[None, :], best] |= present  # every object keeps its best patch
    masks &= present[..., None]
    labels = np.where(present, class_index(attrs[..., 0], attrs[..., 1], attrs[..., 2]), -1)
    return Scenes(images, counts, attrs, labels.astype(np.int64), object_map, masks)


def sample_scenes(spec: WorldSpec, n: int, rng: np.random.Generator, split: str = "train",
                  n_objects: int | None = None) -> Scenes:
    """`n` fresh scenes of a split (see the module docstring), all randomness from `rng`."""
    counts, attrs = sample_attributes(spec, n, rng, split, n_objects)
    return render(spec, counts, attrs, rng)
