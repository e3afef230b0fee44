"""Figures of the ``neural_processes`` scenario (matplotlib, Agg, via the spine's plotting helpers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from scenarios.plotting import line_with_ci, save
from scenarios.stats import aggregate


def ll_figure(df: pd.DataFrame, path: Path, tasks: dict[str, str], chance: dict[str, float]) -> Path:
    """tar_ll per task and model (mean ± 95 % CI), with the chance level dashed."""
    present = [t for t in tasks if t in set(df.task)]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 4.0), squeeze=False)
    for ax, task in zip(axes[0], present):
        agg = aggregate(df[df.task == task], ["model"], ["tar_ll"])
        ax.bar(agg.model, agg.tar_ll_mean, yerr=agg.tar_ll_ci95, capsize=3, color="tab:blue", alpha=0.8)
        ax.axhline(chance[task], color="k", ls="--", lw=1, label="chance (context Gaussian)")
        ax.set_title(tasks[task])
        ax.tick_params(axis="x", rotation=45)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("target log-likelihood")
    axes[0][0].legend(fontsize="small")
    return save(fig, path)


def env_figure(env: pd.DataFrame, path: Path) -> Path:
    return line_with_ci(env, "context points", "log-likelihood", "model", path,
                        title="recast/NPRegression-v0 (GP RBF): context streamed in blocks (mean ± 95% CI)",
                        xlabel="context points seen", ylabel="mean target log-likelihood (reward)")


def memory_figure(mem: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for model, part in mem.groupby("model", sort=False):
        ax.plot(part.N, part.peak_MB, marker="o", label=model)
    ax.set(xscale="log", yscale="log", xlabel="context points N", ylabel="peak tensor memory (MB, measured)",
           title="Conditioning memory vs N")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return save(fig, path)


def bandit_figure(curves: pd.DataFrame, path: Path) -> Path:
    curves = curves.assign(delta=curves.delta.map(lambda d: f"{d:g}"))
    return line_with_ci(curves, "step", "cumulative regret", "agent", path, facet="delta",
                        title="Wheel bandit: cumulative regret (mean ± 95% CI over seeds)")
