"""Matplotlib (Agg) figures shared by scenarios and sweeps: lines with 95 % CI bands, bar charts."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from scenarios.stats import aggregate  # noqa: E402


def line_with_ci(
    frame: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None,
    path: Path,
    *,
    facet: str | None = None,
    title: str = "",
    xlabel: str | None = None,
    ylabel: str | None = None,
    reference: pd.DataFrame | None = None,
) -> Path:
    """Mean of `y` against `x` (one line per `hue` value) with a shaded 95 % CI over the rows (seeds).

    `facet` draws one panel per value of that column. `reference`, if given, has the columns x, hue,
    (facet) and y, drawn as dashed lines in the hue's colour (e.g. analytic values).
    """
    panels = [(None, frame)] if facet is None else list(frame.groupby(facet, sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False, sharey=True)
    for ax, (value, part) in zip(axes[0], panels):
        ref = reference
        if reference is not None and facet is not None:
            ref = reference[reference[facet] == value]
        _draw_mean_ci(ax, part, x, y, hue, ref)
        ax.set_xlabel(wrap(xlabel or x, 42))
        ax.set_title(wrap(f"{facet} = {value}" if facet is not None else title, 42), fontsize="medium")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(wrap(ylabel or y, 35))
    if hue is not None:
        axes[0][-1].legend(fontsize="small")
    if facet is not None and title:
        fig.suptitle(wrap(title, 42 * len(panels)))
    return save(fig, path)


def wrap(text: str, width: int) -> str:
    """Break a long title or axis label (a long metric name, a dotted config key) into lines that fit."""
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _draw_mean_ci(ax: plt.Axes, frame: pd.DataFrame, x: str, y: str, hue: str | None,
                  reference: pd.DataFrame | None) -> None:
    by = [x] if hue is None else [hue, x]
    agg = aggregate(frame, by, [y])
    for label, group in ([(None, agg)] if hue is None else agg.groupby(hue, sort=False)):
        group = group.sort_values(x)
        xs = pd.to_numeric(group[x]) if _numeric(group[x]) else group[x].astype(str)
        mean, half = group[f"{y}_mean"].to_numpy(), group[f"{y}_ci95"].to_numpy()
        (line,) = ax.plot(xs, mean, marker="o", ms=3, label=None if label is None else str(label))
        ax.fill_between(xs, mean - half, mean + half, alpha=0.2, color=line.get_color())
        if reference is not None and label is not None:
            ref = reference[reference[hue] == label].sort_values(x)
            ax.plot(ref[x], ref[y], ls="--", color=line.get_color(), lw=1)


def lines(xs: Sequence[float] | None, series: dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]], path: Path, *,
          title: str = "", xlabel: str = "", ylabel: str = "", bands: dict[str, np.ndarray] | None = None) -> Path:
    """Several named series, over the shared `xs` or each over its own ``(xs, ys)`` pair, with optional ±bands."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, values in series.items():
        x, ys = values if isinstance(values, tuple) else (xs, values)
        (line,) = ax.plot(x, ys, label=name)
        if bands and name in bands:
            ax.fill_between(x, ys - bands[name], ys + bands[name], alpha=0.2, color=line.get_color())
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return save(fig, path)


def save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def _numeric(series: pd.Series) -> bool:
    return pd.to_numeric(series, errors="coerce").notna().all()
