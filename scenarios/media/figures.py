"""Figures of the image–text scenario: per-word grounding heat-maps of every method, metric bars with CIs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from envs.media.captions import VOCAB
from envs.media.datasets import MediaBatch
from envs.media.grounding_env import patch_iou
from scenarios.plotting import save
from scenarios.stats import mean_ci


def _upsample(values: np.ndarray, grid: int, size: int) -> np.ndarray:
    return np.kron(values.reshape(grid, grid), np.ones((size // grid, size // grid)))


def grounding_grid(batch: MediaBatch, heat: dict[str, np.ndarray], path: Path, threshold: float = 0.5) -> Path:
    """For each image: a ground-truth row, then one row per method, one column per content word of its caption.

    `heat[method]` is (N, L, P): min–max normalised token–patch similarities min–max_p(t_l · v_p); labels give
    each word's IoU (heat ≥ `threshold` vs the word's exact mask). Drawn as one mosaic (fast even when large).
    """
    n, size = len(batch), batch.images.shape[-1]
    grid = int(round(np.sqrt(batch.patch_masks.shape[-1])))
    words = [np.flatnonzero(batch.token_object[i] >= 0) for i in range(n)]
    n_cols, rows_per_image = 1 + max(len(w) for w in words), 1 + len(heat)
    cell, pad = size + 4, 2
    canvas = np.ones((n * rows_per_image * cell, n_cols * cell, 3))
    labels = []  # (x, y, text) for the titles of each cell
    masks = batch.token_masks()
    for i in range(n):
        image = batch.images[i].transpose(1, 2, 0)
        rows = [("ground truth", masks[i].astype(float))] + [(m, h[i]) for m, h in heat.items()]
        for r, (label, maps) in enumerate(rows):
            y = (i * rows_per_image + r) * cell + pad
            canvas[y : y + size, pad : pad + size] = image
            labels.append((pad, y, label if r else f"image {i + 1}: {label}"))
            for c, l in enumerate(words[i], start=1):
                x = c * cell + pad
                colour = plt.get_cmap("inferno")(_upsample(maps[l], grid, size))[..., :3]
                canvas[y : y + size, x : x + size] = 0.35 * image + 0.65 * colour
                word = VOCAB.words[batch.tokens[i, l]]
                text = word if r == 0 else f"{float(patch_iou(maps[l], masks[i, l], threshold)):.2f}"
                labels.append((x, y, text))
    fig, ax = plt.subplots(figsize=(1.0 * n_cols, 1.0 * n * rows_per_image))
    ax.imshow(np.clip(canvas, 0, 1), interpolation="nearest")
    for x, y, text in labels:
        ax.text(x + 1, y + 1, text, fontsize=5, color="white", va="top", ha="left",
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5, "linewidth": 0})
    ax.set_axis_off()
    ax.set_title("per-word grounding heat-maps min–max(t_l · v_p); numbers: IoU at 0.5", fontsize=7)
    return save(fig, path)


def metric_bars(frame: pd.DataFrame, metrics: list[str], path: Path) -> Path:
    """Grouped bars: one group per metric, one bar per method, error bars = 95 % CI over seeds."""
    methods = list(dict.fromkeys(frame["method"]))
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(1.1 * len(metrics) + 2, 4.0))
    x = np.arange(len(metrics))
    for j, method in enumerate(methods):
        part = frame[frame["method"] == method]
        stats = [mean_ci(part[m]) for m in metrics]
        ax.bar(x + (j - (len(methods) - 1) / 2) * width, [s[0] for s in stats], width,
               yerr=[s[1] for s in stats], capsize=2, label=method)
    ax.set_xticks(x, metrics, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (mean ± 95% CI over seeds)")
    ax.legend(fontsize="small", ncol=len(methods))
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)
