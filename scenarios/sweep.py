"""Sweep a scenario over a grid × seeds: ``python -m scenarios.sweep NAME --grid k=v1,v2 --seeds N``.

    python -m scenarios.sweep misinformation_single_round --preset smoke \\
        --grid game.engagement_weight=0,0.1,0.3 --seeds 3 --executor process
    python -m scenarios.sweep misinformation_single_round --grid n_seeds=2,4 --executor ray --address auto

Runs the Cartesian product of the grids, each cell with N replicate seeds derived from ``--seed``,
and writes into ``runs/sweeps/<scenario>/<id>/``: ``results.csv`` (one row per cell and seed, with
the error of a failing cell), ``aggregate.csv`` (mean, std, 95 % CI per cell), a PNG of the
scenario's main metric against the first grid key, and each job's own run directory under ``cells/``.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from scenarios.config import build_config
from scenarios.errors import RunAborted, UsageError
from scenarios.executors import EXECUTORS, map_jobs
from scenarios.plotting import line_with_ci
from scenarios.registry import PRESETS, get_scenario
from scenarios.rundir import default_runs_root, new_run_dir, to_jsonable, write_json
from scenarios.run import _OneLineParser, execute
from scenarios.seeding import SeedFlow
from scenarios.stats import aggregate, format_table


def parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    """``["a=1,2", "b.c=[1,2],[3]"]`` → ``{"a": ["1", "2"], "b.c": ["[1,2]", "[3]"]}`` (commas inside brackets kept)."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise UsageError(f"bad grid '{spec}': expected key=v1,v2,...")
        items = _split_top_level(values)
        if any(not v.strip() for v in items):
            raise UsageError(f"bad grid '{spec}': empty value")
        if key in grid:
            raise UsageError(f"bad grid: key '{key}' given twice")
        grid[key] = [v.strip() for v in items]
    return grid


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{("
        depth -= ch in "]})"
        if depth < 0:
            raise UsageError(f"bad grid values '{text}': unbalanced brackets")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if depth != 0:
        raise UsageError(f"bad grid values '{text}': unbalanced brackets")
    return [*parts, current]


@dataclass(frozen=True)
class SweepJob:
    """One (cell, seed) run; a plain picklable record so any executor can ship it."""

    scenario: str
    preset: str
    cell: tuple[tuple[str, str], ...]
    fixed: tuple[str, ...]
    seed: int
    device: str
    run_dir: str


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep; the finished jobs are in results.csv and sweep.json says ``interrupted``."""

    def __init__(self, out: Path, n_finished: int, n_jobs: int):
        self.out = out
        super().__init__(f"sweep interrupted after {n_finished}/{n_jobs} jobs; partial results in {out}")


def run_job(job: SweepJob) -> dict[str, Any]:
    """Run one job; never raises — a failure is returned as a row with its error."""
    row: dict[str, Any] = {k: _value(v) for k, v in job.cell}
    row.update(seed=job.seed, status="complete", error="", run_dir=job.run_dir)
    start = time.time()
    overrides = [*job.fixed, *(f"{k}={v}" for k, v in job.cell)]
    try:
        summary = execute(job.scenario, preset=job.preset, seed=job.seed, device=job.device,
                          overrides=overrides, run_dir=Path(job.run_dir), show_progress=False)
        row.update({k: _metric(v) for k, v in summary["metrics"].items()})
    except RunAborted as err:
        if err.status == "interrupted":  # Ctrl-C stops the sweep, not just this job
            raise KeyboardInterrupt from err
        row.update(status=err.status, error=f"{type(err.cause).__name__}: {err.cause}")
    except Exception as err:  # noqa: BLE001 - recorded, the other cells go on
        row.update(status="failed", error=f"{type(err).__name__}: {err}")
    row["duration_s"] = round(time.time() - start, 3)
    return row


def sweep(
    name: str,
    grid: dict[str, list[str]],
    *,
    seeds: int = 3,
    root_seed: int = 0,
    preset: str = "cpu",
    executor: str = "serial",
    address: str | None = None,
    device: str = "cpu",
    fixed: Sequence[str] = (),
    runs_root: Path | None = None,
    show_progress: bool = True,
) -> Path:
    """Run the sweep and write its tables and figure; returns the sweep directory."""
    scenario = get_scenario(name)
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if not (device in ("cpu", "auto") or device.startswith("cuda")):  # CUDA itself is checked on the workers
        raise UsageError(f"unknown device '{device}'; choose one of: cpu, cuda, auto")
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    cells = [tuple(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [()]
    for cell in cells:  # validate every cell's config before running anything
        build_config(scenario, preset, [*fixed, *(f"{k}={v}" for k, v in cell)])
    out = new_run_dir(Path(runs_root or default_runs_root()) / "sweeps", name, preset, root_seed)
    replicate_seeds = SeedFlow(root_seed).replicates(seeds, "sweep")
    jobs = [
        SweepJob(name, preset, cell, tuple(fixed), s, device, str(out / "cells" / f"cell{i:03d}-seed{r}"))
        for i, cell in enumerate(cells) for r, s in enumerate(replicate_seeds)
    ]
    spec = {"scenario": name, "preset": preset, "grid": grid, "fixed": list(fixed), "seeds": replicate_seeds,
            "executor": executor, "n_jobs": len(jobs), "status": "running"}
    write_json(out / "sweep.json", spec)
    finished: dict[int, dict[str, Any]] = {}

    def record(index: int, row: dict[str, Any]) -> None:  # results.jsonl grows as jobs finish: nothing lost
        finished[index] = row
        with (out / "results.jsonl").open("a") as f:
            f.write(json.dumps(to_jsonable(row)) + "\n")

    try:
        map_jobs(run_job, jobs, executor, address=address, show_progress=show_progress, on_result=record)
    except KeyboardInterrupt as err:
        pd.DataFrame([finished[i] for i in sorted(finished)]).to_csv(out / "results.csv", index=False)
        write_json(out / "sweep.json", {**spec, "status": "interrupted", "n_finished": len(finished)})
        raise SweepInterrupted(out, len(finished), len(jobs)) from err
    results = pd.DataFrame([finished[i] for i in range(len(jobs))])
    results.to_csv(out / "results.csv", index=False)
    write_json(out / "sweep.json", {**spec, "status": "complete"})

    ok = results[results["status"] == "complete"]
    keys = list(grid)
    metrics = [c for c in ok.columns if c not in {*keys, "seed", "status", "error", "run_dir", "duration_s"}
               and pd.api.types.is_numeric_dtype(ok[c])]
    if not ok.empty:
        aggregate(ok, keys, metrics).to_csv(out / "aggregate.csv", index=False)
        if keys and scenario.main_metric in ok:
            hue = None
            if len(keys) > 1:
                ok = ok.assign(cell=ok[keys[1:]].astype(str).agg(", ".join, axis=1))
                hue = "cell"
            line_with_ci(ok, keys[0], scenario.main_metric, hue, out / f"{scenario.main_metric}_vs_{keys[0]}.png",
                         title=f"{name}: {scenario.main_metric} (mean ± 95% CI over {seeds} seeds)")
    return out


def _metric(value: Any) -> Any:
    """summary.json writes non-finite floats as "nan"/"inf"/"-inf"; the results table needs them as floats."""
    return float(value) if isinstance(value, str) and value in ("nan", "inf", "-inf") else value


def _value(text: str) -> Any:
    """A grid value for the results table: a scalar parsed, a list or mapping kept as its text (hashable)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, (list, dict)) else value


def main(argv: Sequence[str] | None = None) -> int:
    parser = _OneLineParser(prog="python -m scenarios.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="scenario name (python -m scenarios.run --list)")
    parser.add_argument("fixed", nargs="*", help="overrides applied to every cell, key=value")
    parser.add_argument("--grid", action="append", default=[], help="key=v1,v2,... (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="replicate seeds per cell (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="root seed the replicate seeds derive from")
    parser.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default cpu)")
    parser.add_argument("--executor", default="serial", help=f"one of {', '.join(EXECUTORS)} (default serial)")
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, ray://host:10001)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    parser.add_argument("--out", type=Path, default=None, help="runs root (default ./runs or $RECAST_RUNS)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_intermixed_args(argv)  # key=value may follow --options
    try:
        grid = parse_grid(args.grid)
        out = sweep(args.name, grid, seeds=args.seeds, root_seed=args.seed, preset=args.preset,
                    executor=args.executor, address=args.address, device=args.device, fixed=args.fixed,
                    runs_root=args.out, show_progress=not args.no_progress)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SweepInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 130
    agg = out / "aggregate.csv"
    if agg.exists():
        frame = pd.read_csv(agg)
        main_metric = get_scenario(args.name).main_metric
        cols = [*parse_grid(args.grid), "n", *(c for c in frame.columns if c.startswith(main_metric + "_"))]
        print(format_table(frame[[c for c in cols if c in frame]].to_dict("records")))
    failed = pd.read_csv(out / "results.csv").query("status != 'complete'")
    if len(failed):
        print(f"{len(failed)} job(s) did not complete; see results.csv", file=sys.stderr)
    print(f"\nsweep directory: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
