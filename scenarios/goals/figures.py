"""Figures of the ``goal_reaching`` scenario: grouped bars with 95 % CIs and four-rooms trajectories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.plotting import plt, save


def bar_figure(agg: pd.DataFrame, agents: Sequence[str], path: Path) -> Path:
    """Success rate and discounted return per task/dataset cell, one bar per agent (mean ± 95 % CI)."""
    cells = list(dict.fromkeys(zip(agg["task"], agg["dataset"])))
    width = 0.8 / len(agents)
    x = np.arange(len(cells))
    fig, axes = plt.subplots(2, 1, figsize=(max(7.0, 1.3 * len(cells) * len(agents) / 2.5), 7.0), sharex=True)
    for ax, metric, label in zip(axes, ("success", "return"), ("success rate (step 50)", "discounted return")):
        for j, agent in enumerate(agents):
            rows = agg[agg.agent == agent].set_index(["task", "dataset"])
            mean = [rows.loc[c, f"{metric}_mean"] if c in rows.index else np.nan for c in cells]
            half = [rows.loc[c, f"{metric}_ci95"] if c in rows.index else np.nan for c in cells]
            ax.bar(x + (j - (len(agents) - 1) / 2) * width, mean, width, yerr=half, capsize=2, label=agent)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0.0, top=1.05 if metric == "success" else None)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(x, [f"{t}\n{d}" for t, d in cells])
    axes[0].legend(ncol=len(agents), fontsize="small", loc="lower center", bbox_to_anchor=(0.5, 1.0))
    axes[0].set_title("Offline goal reaching (mean ± 95% CI over seeds)", pad=24)
    return save(fig, path)


def rooms_figure(shown: dict[tuple[str, str], dict[str, Any]], env: Any, datasets: Sequence[str],
                 agents: Sequence[str], path: Path) -> Path:
    """Evaluated four-rooms episodes (seed 0): rows = datasets, columns = agents; ○ start, ★ goal."""
    fig, axes = plt.subplots(len(datasets), len(agents), figsize=(2.6 * len(agents), 2.7 * len(datasets)),
                             squeeze=False)
    size = env.size
    for i, kind in enumerate(datasets):
        for j, agent in enumerate(agents):
            ax = axes[i][j]
            for (x0, y0), (x1, y1) in env.wall_segments():
                ax.plot([x0, x1], [y0, y1], color="0.3", lw=2)
            rec = shown.get((kind, agent))
            if rec is not None:
                for n, (path_xy, goal) in enumerate(zip(rec["path"], rec["goal"])):
                    color = plt.cm.tab10(n % 10)
                    ax.plot(path_xy[:, 0], path_xy[:, 1], color=color, lw=1)
                    ax.plot(*path_xy[0], "o", color=color, ms=4, mfc="none")
                    ax.plot(*goal, "*", color=color, ms=9)
                    ax.add_patch(plt.Circle(goal, env.distance_threshold, color=color, alpha=0.15))
                rate = float(np.mean(rec["episode_success"]))
                ax.set_title(f"{agent} · {kind} · {rate:.0%} shown reached", fontsize="small")
            ax.set(xlim=(-size, size), ylim=(-size, size), xticks=[], yticks=[], aspect="equal")
    fig.suptitle("Four rooms: evaluated episodes (seed 0, last checkpoint)")
    return save(fig, path)
