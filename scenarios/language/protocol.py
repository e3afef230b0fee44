"""What the meta-(out-of-context) learning scenarios share: ``meta_ocl`` (set inclusion, text) and
``meta_ocl_vision`` (digits, our reconstruction of the paper's vision setting).

- config pieces: :class:`SubsetFractions` (the entity fractions per subset, split by α) and :class:`SweepFields`
  (α × batch-size cells, stage-1 / stage-2 seeds, executor);
- :class:`Job` (one stage-1 seed of one cell), :func:`jobs_of` and :func:`run_jobs` (the checkpointed map over the
  project's executors: a resumed run skips the finished jobs);
- the outcome: per-seed rows ``(alpha, batch_size, seed, stage2_seed, stage, subset, em)`` → :func:`gap_rows`
  (d1 − d2 per seed after stage 2), :func:`paired_tests`, :func:`gap_summary`, :func:`em_table`,
  :func:`outcome_metrics`, and the claim's :data:`RULES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from envs.tasks.curriculum import subset_fractions
from scenarios.claims import Better
from scenarios.executors import EXECUTORS, map_resumable
from scenarios.rundir import RunContext
from scenarios.stats import ci_table, mean_ci
from scenarios.validation import param


@dataclass
class SubsetFractions:
    """Fractions of the entities per subset (:func:`envs.tasks.curriculum.subset_fractions` splits tag1/tag2 by α)."""

    tag1: float = param(0.3, ge=0, le=1)  # fraction of entities with QA + a tag-1 definition (split by α)
    tag2: float = param(0.3, ge=0, le=1)  # … with QA + a tag-2 definition
    q: float = param(0.1, ge=0, le=1)  # … with QA only
    d1: float = param(0.1, ge=0, le=1)  # … with a stage-2 tag-1 definition only
    d2: float = param(0.1, ge=0, le=1)
    d3: float = param(0.1, ge=0, le=1)

    def fractions(self, alpha: float) -> dict[str, float]:
        return subset_fractions(alpha, self.tag1, self.tag2, self.q, self.d1, self.d2, self.d3)

    def fraction_checks(self) -> list[tuple[bool, str]]:
        total = self.tag1 + self.tag2 + self.q + self.d1 + self.d2 + self.d3
        return [(abs(total - 1.0) < 1e-6, f"data fractions tag1+tag2+q+d1+d2+d3 must sum to 1, got {total:g}"),
                (self.d1 > 0 and self.d2 > 0, "data.d1 and data.d2 must be > 0 (the gap compares them)")]


@dataclass
class SweepFields:
    """The cells (α × batch size), the seeds and the executor of a meta-OCL run."""

    alphas: list[float] = param([1.0], ge=0, le=1, nonempty=True)  # the first is the primary (pre-registered) cell
    batch_sizes: list[int] = param([64], ge=1, le=1_000_000_000, nonempty=True)  # ≥ #sequences: full batch
    n_seeds: int = param(10, ge=1, le=10_000)  # stage-1 seeds (pre-registration: ≥ 10)
    n_stage2_seeds: int = param(1, ge=1, le=1000)
    executor: str = param("process", choices=EXECUTORS)  # serial | process | ray
    workers: int = param(2, ge=1, le=4096)  # process executor: parallel jobs
    torch_threads: int = param(1, ge=0, le=1024)  # per job on CPU (0: leave torch's setting)

    @property
    def primary(self) -> tuple[float, int]:
        return float(self.alphas[0]), int(self.batch_sizes[0])


def raise_failed(checks: list[tuple[bool, str]]) -> None:
    """ValueError with the message of the first failed (ok, message) check."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def common_checks(cfg: Any) -> list[tuple[bool, str]]:
    """The cross-field rules every meta-OCL config has (``cfg.data`` fractions, ``cfg.model`` width/heads, seeds)."""
    return [*cfg.data.fraction_checks(),
            (cfg.model.width % cfg.model.heads == 0, "model.width must be divisible by model.heads"),
            (cfg.n_seeds >= 2, f"n_seeds must be >= 2 for a confidence interval, got {cfg.n_seeds}")]


@dataclass(frozen=True)
class Job:
    """One stage-1 seed of one (α, batch size) cell: picklable, run by any executor."""

    cfg: Any
    alpha: float
    batch_size: int
    seed_index: int
    seed: int
    stage2_seeds: tuple[int, ...]
    device: str
    env_check: bool = False


def jobs_of(cfg: SweepFields, ctx: RunContext, env_check: bool = False) -> list[Job]:
    """Every cell × stage-1 seed; the stage-2 seeds are shared; `env_check` only for the first seed of each cell."""
    seeds = ctx.seeds.replicates(cfg.n_seeds)
    stage2 = tuple(ctx.seeds.replicates(cfg.n_stage2_seeds, "stage2"))
    return [Job(cfg, float(a), int(b), i, s, stage2, ctx.device, env_check and i == 0)
            for a in cfg.alphas for b in cfg.batch_sizes for i, s in enumerate(seeds)]


def run_jobs(cfg: SweepFields, ctx: RunContext, jobs: list[Job], run_job: Callable[[Job], dict]) -> list[dict]:
    """Every job's result (its ``log`` to metrics.jsonl as training records) in job order, through the executor;
    each finished job is checkpointed (without its log), so ``--resume`` runs only the others."""
    return map_resumable(run_job, jobs, [str(i) for i in range(len(jobs))], ctx, cfg.executor,
                         max_workers=cfg.workers, log_fields={"phase": "train"})


def gap_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell and stage-1 seed, after stage 2: EM(d1), EM(d2), EM(d3) (mean over stage-2 seeds) and d1 − d2."""
    stage2 = df[df["stage"] == 2].pivot_table(index=["alpha", "batch_size", "seed"], columns="subset", values="em",
                                              aggfunc="mean").reset_index()
    stage2["gap"] = stage2["d1consis"] - stage2["d2consis"]
    return stage2


def paired_tests(gap: np.ndarray) -> tuple[float, float]:
    """One-sided paired t-test p (H₀: mean gap ≤ 0) and two-sided Wilcoxon signed-rank p (nan when undefined)."""
    gap = gap[np.isfinite(gap)]
    if len(gap) < 2 or np.all(gap == gap[0]):
        return math.nan, math.nan
    t_p = float(stats.ttest_1samp(gap, 0.0, alternative="greater").pvalue)
    w_p = float(stats.wilcoxon(gap).pvalue) if np.any(gap != 0) else math.nan
    return t_p, w_p


def gap_summary(gaps: pd.DataFrame) -> list[dict]:
    rows = []
    for (alpha, batch), cell in gaps.groupby(["alpha", "batch_size"], sort=False):
        mean, half = mean_ci(cell["gap"])
        t_p, w_p = paired_tests(cell["gap"].to_numpy(dtype=float))
        row = {"alpha": alpha, "batch_size": batch, "n": len(cell), "d1 − d2 gap": f"{mean:+.3f} ± {half:.3f}",
               "p (t, one-sided)": round(t_p, 4), "p (Wilcoxon)": round(w_p, 4)}
        for k in ("d1consis", "d2consis", "d3consis"):
            if k in cell:
                m, h = mean_ci(cell[k])
                row[f"EM {k}"] = f"{m:.3f} ± {h:.3f}"
        rows.append(row)
    return rows


def with_primary(df: pd.DataFrame, primary: tuple[float, int]) -> pd.DataFrame:
    """`df` with a ``primary`` column: the row belongs to the primary (α, batch size) cell."""
    df["primary"] = [(a, b) == primary for a, b in zip(df["alpha"], df["batch_size"])]
    return df


def em_table(df: pd.DataFrame) -> list[dict]:
    """EM per (cell, stage, subset): mean ± 95 % CI over stage-1 seeds (stage-2 seeds averaged first)."""
    per_seed = df.groupby(["alpha", "batch_size", "stage", "subset", "seed"], as_index=False, sort=False)["em"].mean()
    return ci_table(per_seed, ["alpha", "batch_size", "stage", "subset"], ["em"], digits=3)


def outcome_metrics(df: pd.DataFrame, gaps: pd.DataFrame, primary: tuple[float, int]) -> dict[str, float]:
    """``stage{s}_em_{subset}`` of the primary cell, and per cell the gap, its 95 % CI and the t-test p."""
    main = df[df["primary"]].groupby(["stage", "subset"])["em"].mean()
    metrics = {f"stage{s}_em_{k}": float(v) for (s, k), v in main.items()}
    for (alpha, batch), cell in gaps.groupby(["alpha", "batch_size"], sort=False):
        mean, half = mean_ci(cell["gap"])
        name = "" if (alpha, batch) == primary else f"_alpha{alpha:g}_bs{batch}"
        metrics[f"gap{name}"], metrics[f"gap_ci95{name}"] = mean, half
        metrics[f"gap_p_ttest{name}"] = paired_tests(cell["gap"].to_numpy(dtype=float))[0]
    return metrics


# after stage 2, d1consis > d2consis (IML); after stage 1, qd1consis > q > qd2incons (out-of-context learning)
RULES = (Better("em", "d1consis", "d2consis", key="subset", where=(("primary", True), ("stage", 2))),
         Better("em", "qd1consis", "q", key="subset", where=(("primary", True), ("stage", 1))),
         Better("em", "q", "qd2incons", key="subset", where=(("primary", True), ("stage", 1))))
