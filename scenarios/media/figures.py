"""Figures of the image–text scenarios: per-word grounding heat-maps, metric bars with CIs, sweep panels (metric
vs K or τ_att) and Llip's attention over its mixture tokens."""

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


def sweep_panels(frame: pd.DataFrame, x: str, metrics: list[str], baselines: pd.DataFrame, path: Path,
                 title: str, log_x: bool = True) -> Path:
    """One panel per metric: mean ± 95 % CI of the swept arm against `x`; each baseline method (rows of
    `baselines`, columns method + metrics, one row per seed) as a horizontal line with its CI band."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        stats = [(value, *mean_ci(part[metric])) for value, part in frame.groupby(x)]
        xs, means, halves = (np.array(v, dtype=float) for v in zip(*stats))
        ax.errorbar(xs, means, yerr=halves, marker="o", capsize=3, color="black", label="swept llip arm")
        for j, (method, part) in enumerate(baselines.groupby("method", sort=False)):
            mean, half = mean_ci(part[metric])
            colour = plt.get_cmap("tab10")(j)
            ax.axhline(mean, ls="--", lw=1, color=colour, label=method)
            ax.axhspan(mean - half, mean + half, color=colour, alpha=0.12)
        if log_x:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        ax.set(xlabel=x, title=metric)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    return save(fig, path)


def attention_grid(images: np.ndarray, captions: list[list[str]], attention: list[np.ndarray], path: Path) -> Path:
    """For each image: the image, then a heat-map of α over the K mixture tokens (rows = its captions)."""
    n = len(images)
    fig, axes = plt.subplots(n, 2, figsize=(7.0, 1.6 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 3]})
    for i in range(n):
        axes[i][0].imshow(np.clip(images[i].transpose(1, 2, 0), 0, 1), interpolation="nearest")
        axes[i][0].set_axis_off()
        im = axes[i][1].imshow(attention[i], vmin=0, vmax=1, cmap="viridis", aspect="auto")
        axes[i][1].set_yticks(range(len(captions[i])), captions[i], fontsize=7)
        axes[i][1].set_xticks(range(attention[i].shape[1]))
        axes[i][1].tick_params(axis="x", labelsize=6)
        if i == n - 1:
            axes[i][1].set_xlabel("mixture token k")
        fig.colorbar(im, ax=axes[i][1], fraction=0.03)
    fig.suptitle("Llip attention α_k(x, y) over the mixture tokens, one row per caption of the image", fontsize=8)
    return save(fig, path)
