"""Figures of ``meta_ocl``: EM per subset after each stage (bars, 95 % CI, seeds as dots) and the d1 − d2 gap
per (α, batch size) cell with its paired 95 % CI and the per-seed gaps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from envs.tasks.curriculum import SUBSETS
from scenarios.plotting import save
from scenarios.stats import mean_ci


def em_by_subset(df: pd.DataFrame, path: Path, title: str, lines: dict[str, float] | None = None,
                 ylabel: str = "exact match (held-out QA)") -> Path:
    """One panel per stage: EM per subset (mean over stage-2 seeds per seed); `lines` (label → level, default
    chance 0.5) dashed."""
    per_seed = df.groupby(["stage", "subset", "seed"], as_index=False)["em"].mean()
    stages = sorted(per_seed["stage"].unique())
    fig, axes = plt.subplots(1, len(stages), figsize=(5.6 * len(stages), 4.2), squeeze=False, sharey=True)
    rng = np.random.default_rng(0)  # horizontal jitter of the seed dots only
    for ax, stage in zip(axes[0], stages):
        part = per_seed[per_seed["stage"] == stage]
        names = [k for k in SUBSETS if k in set(part["subset"])]
        for i, name in enumerate(names):
            values = part.loc[part["subset"] == name, "em"].to_numpy()
            mean, half = mean_ci(values)
            ax.bar(i, mean, yerr=half, capsize=3, color=f"C{SUBSETS.index(name)}", alpha=0.75)
            ax.plot(i + rng.uniform(-0.2, 0.2, len(values)), values, "k.", ms=3)
        for k, (label, level) in enumerate((lines or {"chance": 0.5}).items()):
            ax.axhline(level, ls="--" if k == 0 else ":", color="grey", lw=1, label=label)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(f"after stage {stage}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(fontsize="small")
    fig.suptitle(title)
    return save(fig, path)


def gap_by_cell(gaps: pd.DataFrame, path: Path) -> Path:
    """EM(d1consis) − EM(d2consis) after stage 2 per (α, batch size): mean ± paired 95 % CI and each seed."""
    cells = list(gaps.groupby(["alpha", "batch_size"], sort=False))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.4 * len(cells) + 2), 4.2))
    for i, ((alpha, batch), cell) in enumerate(cells):
        mean, half = mean_ci(cell["gap"])
        ax.errorbar(i, mean, yerr=half, fmt="o", capsize=4, color="C0")
        ax.plot(np.full(len(cell), i + 0.15), cell["gap"], "k.", ms=3, alpha=0.6)
    ax.axhline(0.0, ls="--", color="grey", lw=1)
    ax.set_xticks(range(len(cells)), [f"α={a:g}\nbatch {b}" for (a, b), _ in cells])
    ax.set(ylabel="EM(d1consis) − EM(d2consis)", title="Meta-OCL gap after stage 2 (mean ± paired 95% CI)")
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)
