"""A paper's claim and the rule that turns a run's results into a verdict: holds / does not hold / inconclusive.

A scenario declares one :class:`Claim` next to its config (``Scenario(claim=...)``); ``python -m
scenarios.report`` applies it to the scenario's run directory. The rules are small and explicit:

- :class:`Better`: method A beats method B on a metric. With per-seed rows (a CSV in the run directory with
  the method column and a pairing column such as ``seed``) the verdict comes from the paired differences
  d_i = A_i − B_i: mean ± t_{0.975, n−1}·s/√n; it *holds* when that interval lies on the claimed side of 0
  (beyond ``margin``), *does not hold* when it lies on the other side, and is *inconclusive* otherwise.
  Without per-seed rows it falls back to the results table's "mean ± CI" cells, with the difference's
  half-width √(h_A² + h_B²) (unpaired, conservative).
- :class:`Flat`: a measured quantity of one arm does not grow with a size (e.g. peak memory against the context
  size N): value at the largest size / value at the smallest ≤ ``max_ratio``.
- :class:`AtMost`: a measured error never exceeds a bound (its maximum over the CSV's rows).

``Flat`` and ``AtMost`` judge deterministic measurements (no seeds): they hold or fail, and are inconclusive only
when the run directory lacks the numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
_CELL = re.compile(r"^\s*(-?[\d.eE+-]+|nan)\s*±\s*([\d.eE+-]+|nan)(\s.*)?$")  # "0.17 ± 0.02 (round 25)"


@dataclass(frozen=True)
class Verdict:
    verdict: str  # holds | does not hold | inconclusive
    rule: str  # the rule in words
    evidence: str  # the numbers it was decided on


@dataclass(frozen=True)
class Better:
    """``better`` beats ``worse`` on ``metric`` (higher is better unless ``higher_is_better=False``)."""

    metric: str
    better: str
    worse: str
    key: str = "method"  # the column naming the compared arms, in the table and the per-seed CSV
    higher_is_better: bool = True
    margin: float = 0.0  # the difference must clear this, in the metric's units
    per_seed: str | None = "results.csv"  # per-seed rows in the run directory (None: use the table)
    pair_on: str = "seed"
    where: tuple[tuple[str, Any], ...] = ()  # only rows with these column values (e.g. (("task", "point_rooms"),))

    def describe(self) -> str:
        op = (">" if self.higher_is_better else "<") + ("=" if self.margin < 0 else "")
        sign = "+" if self.higher_is_better == (self.margin > 0) else "−"
        margin = f" {sign} {abs(self.margin):g}" if self.margin else ""
        cell = f" [{', '.join(f'{k}={v}' for k, v in self.where)}]" if self.where else ""
        return f"{self.metric}{cell}: {self.better} {op} {self.worse}{margin}"

    def _keep(self, row: Mapping[str, Any]) -> bool:
        return all(str(row.get(k)) == str(v) for k, v in self.where)

    def judge(self, table: Sequence[Mapping[str, Any]], run_dir: Path | None = None) -> Verdict:
        sign = 1.0 if self.higher_is_better else -1.0
        rows = self._per_seed(run_dir)
        if rows is not None:
            diff = sign * (rows[self.better] - rows[self.worse]).to_numpy(dtype=float)
            diff = diff[np.isfinite(diff)]
            if len(diff) < 2:
                return Verdict(INCONCLUSIVE, self.describe(), f"{len(diff)} paired seed(s): too few for an interval")
            mean, half = float(diff.mean()), float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1)
                                                   / math.sqrt(len(diff)))
            how = f"paired over {len(diff)} seeds"
        else:
            cells = {row.get(self.key): row.get(self.metric) for row in table if self._keep(row)}
            try:
                (ma, ha), (mb, hb) = _cell(cells[self.better]), _cell(cells[self.worse])
            except (KeyError, ValueError):
                return Verdict(INCONCLUSIVE, self.describe(), f"no '{self.metric}' for both arms in the table")
            mean, half, how = sign * (ma - mb), math.hypot(ha, hb), "unpaired, from the table"
        evidence = f"{self.better}'s advantage = {mean:+.4g} ± {half:.3g} (95 % CI, {how})"
        if not math.isfinite(mean) or not math.isfinite(half):
            return Verdict(INCONCLUSIVE, self.describe(), evidence)
        if mean - half > self.margin:
            return Verdict(HOLDS, self.describe(), evidence)
        if mean + half < self.margin:
            return Verdict(FAILS, self.describe(), evidence)
        return Verdict(INCONCLUSIVE, self.describe(), evidence)

    def _per_seed(self, run_dir: Path | None) -> pd.DataFrame | None:
        """A (pair_on × arm) frame of the metric from the run's per-seed CSV, or None when there is none."""
        if self.per_seed is None or run_dir is None or not (Path(run_dir) / self.per_seed).exists():
            return None
        frame = pd.read_csv(Path(run_dir) / self.per_seed)
        if not {self.key, self.pair_on, self.metric, *(k for k, _ in self.where)} <= set(frame.columns):
            return None
        for column, value in self.where:
            frame = frame[frame[column].astype(str) == str(value)]
        wide = frame.pivot_table(index=self.pair_on, columns=self.key, values=self.metric, aggfunc="mean")
        if self.better not in wide or self.worse not in wide:
            return None
        return wide[[self.better, self.worse]].dropna()


@dataclass(frozen=True)
class Flat:
    """``metric`` of arm ``arm`` (rows with ``key == arm`` in the run's CSV ``source``) is flat in ``over``:
    mean value at the largest ``over`` / mean value at the smallest ≤ ``max_ratio``."""

    metric: str
    arm: str
    source: str
    over: str = "N"
    key: str = "model"
    max_ratio: float = 1.5

    def describe(self) -> str:
        return f"{self.metric} of {self.arm} flat in {self.over}: ratio largest/smallest {self.over} <= {self.max_ratio:g}"

    def judge(self, table: Sequence[Mapping[str, Any]], run_dir: Path | None = None) -> Verdict:
        frame = _read(run_dir, self.source, {self.metric, self.key, self.over})
        if frame is None or not (frame[self.key] == self.arm).any():
            return Verdict(INCONCLUSIVE, self.describe(), f"no {self.arm} rows with '{self.metric}' in {self.source}")
        by_size = frame[frame[self.key] == self.arm].groupby(self.over)[self.metric].mean().sort_index()
        if len(by_size) < 2 or by_size.iloc[0] <= 0:
            return Verdict(INCONCLUSIVE, self.describe(), f"{len(by_size)} size(s) measured: need two, first > 0")
        ratio = float(by_size.iloc[-1] / by_size.iloc[0])
        evidence = (f"{self.metric} {by_size.iloc[0]:.4g} at {self.over}={by_size.index[0]} → {by_size.iloc[-1]:.4g} "
                    f"at {self.over}={by_size.index[-1]}: ratio {ratio:.3g}")
        return Verdict(HOLDS if ratio <= self.max_ratio else FAILS, self.describe(), evidence)


@dataclass(frozen=True)
class AtMost:
    """Every row of the run's CSV ``source`` has all ``metrics`` ≤ ``bound`` (e.g. a streamed-vs-full error)."""

    metrics: tuple[str, ...]
    bound: float
    source: str

    def describe(self) -> str:
        return f"max of {', '.join(self.metrics)} <= {self.bound:g}"

    def judge(self, table: Sequence[Mapping[str, Any]], run_dir: Path | None = None) -> Verdict:
        frame = _read(run_dir, self.source, set(self.metrics))
        if frame is None or frame.empty:
            return Verdict(INCONCLUSIVE, self.describe(), f"no rows with {', '.join(self.metrics)} in {self.source}")
        worst = float(frame[list(self.metrics)].to_numpy(dtype=float).max())
        if not math.isfinite(worst):
            return Verdict(FAILS, self.describe(), f"a non-finite value in {self.source}")
        return Verdict(HOLDS if worst <= self.bound else FAILS, self.describe(),
                       f"max = {worst:.3g} over {len(frame)} rows")


def _read(run_dir: Path | None, name: str, columns: set[str]) -> pd.DataFrame | None:
    """The run's CSV ``name`` when it exists and has ``columns``; else None."""
    if run_dir is None or not (Path(run_dir) / name).exists():
        return None
    frame = pd.read_csv(Path(run_dir) / name)
    return frame if columns <= set(frame.columns) else None


def _cell(text: Any) -> tuple[float, float]:
    """"0.204 ± 0.068" → (0.204, 0.068); a bare number → (x, 0)."""
    if isinstance(text, (int, float)):
        return float(text), 0.0
    match = _CELL.match(str(text))
    if not match:
        raise ValueError(f"not a 'mean ± ci' cell: {text!r}")
    return float(match.group(1)), float(match.group(2))


@dataclass(frozen=True)
class Claim:
    """The paper's claim in one line, the rules that decide it (all must hold), and chance levels to show."""

    statement: str
    source: str
    rules: tuple[Better | Flat | AtMost, ...]
    chance: Mapping[str, str] = field(default_factory=dict)  # metric → the chance level or trivial baseline

    def judge(self, table: Sequence[Mapping[str, Any]], run_dir: Path | None = None) -> tuple[str, list[Verdict]]:
        """The overall verdict (holds only if every rule holds; fails if any fails) and each rule's."""
        verdicts = [rule.judge(table, run_dir) for rule in self.rules]
        outcomes = {v.verdict for v in verdicts}
        overall = FAILS if FAILS in outcomes else HOLDS if outcomes == {HOLDS} else INCONCLUSIVE
        return overall, verdicts
