"""Mean ± 95 % confidence intervals over seeds, and compact text tables."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Sample mean and the half-width of its Student-t confidence interval (0 for one value).

    half-width = t_{(1+c)/2, n−1} · s / √n, with s the sample standard deviation (ddof = 1).
    Non-finite values are dropped; no finite values gives (nan, nan).
    """
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), 0.0
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half)


def aggregate(frame: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per group: n, and for each metric its mean, std and 95 % CI half-width (``<m>_ci95``)."""
    rows = []
    groups = frame.groupby(list(by), sort=False, dropna=False) if by else [((), frame)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key))
        row["n"] = len(group)
        for m in metrics:
            values = pd.to_numeric(group[m], errors="coerce").to_numpy(dtype=float)
            mean, half = mean_ci(values)
            finite = values[np.isfinite(values)]
            row[f"{m}_mean"] = mean
            row[f"{m}_std"] = float(finite.std(ddof=1)) if finite.size > 1 else 0.0 if finite.size else math.nan
            row[f"{m}_ci95"] = half
        rows.append(row)
    return pd.DataFrame(rows)


def ci_table(frame: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], digits: int = 4) -> list[dict[str, Any]]:
    """Rows of ``by`` keys and ``metric: "mean ± ci"`` strings, plus the numbers, for summaries and READMEs."""
    agg = aggregate(frame, by, metrics)
    table = []
    for _, row in agg.iterrows():
        out: dict[str, Any] = {k: _plain(row[k]) for k in by}
        out["n"] = int(row["n"])
        for m in metrics:
            out[m] = f"{row[f'{m}_mean']:.{digits}f} ± {row[f'{m}_ci95']:.{digits}f}"
        table.append(out)
    return table


def format_table(rows: Sequence[dict[str, Any]], max_rows: int = 40) -> str:
    """A compact fixed-width text table of dict rows (the CLI's end-of-run print and README tables)."""
    if not rows:
        return "(no rows)"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows[:max_rows]]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    more = [f"... {len(rows) - max_rows} more rows"] if len(rows) > max_rows else []
    return "\n".join([line, "  ".join("-" * w for w in widths), *body, *more])


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
