"""Sweep a scenario over a grid × seeds: ``python -m scenarios.sweep NAME --grid k=v1,v2 --seeds N``.

    python -m scenarios.sweep misinformation_single_round --preset smoke \\
        --grid game.engagement_weight=0,0.1,0.3 --seeds 3 --executor process
    python -m scenarios.sweep misinformation_single_round --grid n_seeds=2,4 --executor ray --address auto
    python -m scenarios.sweep --resume runs/sweeps/misinformation_single_round/20261201-101500-cpu-s0

Runs the Cartesian product of the grids, each cell with N replicate seeds derived from ``--seed``,
and writes into ``runs/sweeps/<scenario>/<id>/``: ``results.csv`` (one row per job: cell, seed,
status — complete, failed, interrupted, terminated, dead or cancelled — and the error), ``results.jsonl``
(rows as jobs finish), ``aggregate.csv`` (mean, std, 95 % CI per cell over complete jobs), a PNG of the
scenario's main metric against the first grid key, ``sweep.json`` (the spec and a final status), and each
job's own run directory under ``cells/``. A dead worker fails its cell and the sweep goes on; Ctrl-C or
SIGTERM starts no queued job and labels the running ones; ``--resume`` runs only the jobs not complete.
Exit status: 0 when some job completed, 1 when every job failed, 130/143 when stopped by a signal.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from scenarios.config import build_config
from scenarios.errors import RunAborted, Terminated, UsageError, signal_exit_status
from scenarios.executors import EXECUTORS, map_jobs
from scenarios.plotting import line_with_ci
from scenarios.registry import PRESETS, get_scenario
from scenarios.rundir import (
    default_runs_root, new_run_dir, pid_alive, read_summary, run_state, to_jsonable, write_json,
)
from scenarios.run import _OneLineParser, check_runs_root, execute
from scenarios.seeding import SeedFlow
from scenarios.signals import stop_signals_raise
from scenarios.tracking import TRACKERS, check_tracker
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
    tracker: str | None = None  # --tracker, mirrored per job


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM during a sweep; finished jobs are in results.csv and sweep.json says why it stopped."""

    def __init__(self, out: Path, status: str, counts: dict[str, int], cause: BaseException):
        self.out, self.status, self.counts, self.cause = out, status, counts, cause
        n_done = counts.get("complete", 0) + counts.get("failed", 0)
        super().__init__(f"sweep {status} after {n_done}/{sum(counts.values())} jobs; partial results in {out}")


STOPPED = ("interrupted", "terminated")


def run_job(job: SweepJob) -> dict[str, Any]:
    """Run one job; never raises — a failure or a stop is returned as a row with its status and error."""
    row = _row(job, "complete")
    start = time.time()
    overrides = [*job.fixed, *(f"{k}={v}" for k, v in job.cell)]
    _set_aside_earlier_attempt(Path(job.run_dir))
    try:
        summary = execute(job.scenario, preset=job.preset, seed=job.seed, device=job.device,
                          overrides=overrides, run_dir=Path(job.run_dir), show_progress=False, tracker=job.tracker)
        row.update({k: _metric(v) for k, v in summary["metrics"].items()})
    except RunAborted as err:
        row.update(status=err.status, error=f"{type(err.cause).__name__}: {err.cause}")
    except (KeyboardInterrupt, Terminated) as err:  # outside the run itself (before or after it)
        row.update(status="terminated" if isinstance(err, Terminated) else "interrupted", error=type(err).__name__)
    except Exception as err:  # noqa: BLE001 - recorded, the other cells go on
        row.update(status="failed", error=f"{type(err).__name__}: {err}")
    row["duration_s"] = round(time.time() - start, 3)
    return row


def _row(job: SweepJob, status: str, error: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {k: _value(v) for k, v in job.cell}
    row.update(seed=job.seed, status=status, error=error, run_dir=job.run_dir)
    return row


def _set_aside_earlier_attempt(run_dir: Path) -> None:
    """A run directory holding an earlier attempt (a Ray retry, a resumed sweep) moves to ``<name>.attemptN``.

    Every attempt then writes a fresh directory: metrics.jsonl never mixes two attempts, and nothing is lost.
    """
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return
    k = 1
    while run_dir.with_name(f"{run_dir.name}.attempt{k}").exists():
        k += 1
    run_dir.rename(run_dir.with_name(f"{run_dir.name}.attempt{k}"))


def crashed_job_row(job: SweepJob, reason: str) -> dict[str, Any]:
    """The row of a job whose worker died; its run directory, left at ``running``, is labelled ``failed``."""
    summary = read_summary(Path(job.run_dir))
    if summary is not None and summary.get("status") == "running":
        summary.update(status="failed", error=reason)
        write_json(Path(job.run_dir) / "summary.json", summary)
    return _row(job, "failed", reason)


def row_from_run_dir(job: SweepJob) -> dict[str, Any]:
    """The row of a job known only from its run directory (resumed, cancelled, or stopped with its worker)."""
    state = run_state(Path(job.run_dir))
    if state == "missing":
        return _row(job, "cancelled", "not started")
    summary = read_summary(Path(job.run_dir)) or {}
    row = _row(job, state, "" if state == "complete" else summary.get("error", state))
    if state == "complete":
        row.update({k: _metric(v) for k, v in summary.get("metrics", {}).items()})
        row["duration_s"] = summary.get("duration_s")
    return row


def grid_cells(grid: dict[str, list[str]]) -> list[tuple[tuple[str, str], ...]]:
    """The Cartesian product of the grid as ((key, value), ...) cells; one empty cell without a grid."""
    return [tuple(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [()]


def make_jobs(name: str, preset: str, grid: dict[str, list[str]], fixed: Sequence[str], replicate_seeds: list[int],
              device: str, out: Path, tracker: str | None = None) -> list[SweepJob]:
    cells = grid_cells(grid)
    return [
        SweepJob(name, preset, cell, tuple(fixed), s, device, str(out / "cells" / f"cell{i:03d}-seed{r}"), tracker)
        for i, cell in enumerate(cells) for r, s in enumerate(replicate_seeds)
    ]


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
    tracker: str | None = None,
) -> Path:
    """Run the sweep and write its tables and figure; returns the sweep directory.

    Raises SweepInterrupted (after writing everything) when a signal stopped it.
    """
    scenario = get_scenario(name)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UsageError(f"--seeds must be an integer >= 1, got {seeds}")
    _check_device(device)
    check_tracker(tracker)
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    for cell in grid_cells(grid):  # validate every cell's config before running anything
        build_config(scenario, preset, [*fixed, *(f"{k}={v}" for k, v in cell)])
    root = check_runs_root(runs_root if runs_root is not None else default_runs_root())
    out = new_run_dir(root / "sweeps", name, preset, root_seed)
    replicate_seeds = SeedFlow(root_seed).replicates(seeds, "sweep")
    jobs = make_jobs(name, preset, grid, fixed, replicate_seeds, device, out, tracker)
    spec = {"scenario": name, "preset": preset, "grid": grid, "fixed": list(fixed), "seeds": replicate_seeds,
            "root_seed": root_seed, "device": device, "executor": executor, "tracker": tracker, "n_jobs": len(jobs)}
    return _run(scenario, out, spec, jobs, executor, address, show_progress, resumed=False)


def resume_sweep(out: Path, *, executor: str | None = None, address: str | None = None,
                 show_progress: bool = True) -> Path:
    """Run the jobs of the sweep in `out` that are not complete (failed, stopped, dead, never started)."""
    out = Path(out)
    try:
        spec = json.loads((out / "sweep.json").read_text())
        name, preset, grid = spec["scenario"], spec["preset"], spec["grid"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"--resume {out}: not a sweep directory (no readable sweep.json)") from None
    if spec.get("status") == "running" and spec.get("host") == socket.gethostname() and \
            isinstance(spec.get("pid"), int) and pid_alive(spec["pid"]):
        raise UsageError(f"--resume {out}: the sweep is still running (pid {spec['pid']}); stop it first")
    executor = executor or spec.get("executor", "serial")
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    scenario = get_scenario(name)
    jobs = make_jobs(name, preset, grid, spec.get("fixed", []), spec["seeds"], spec.get("device", "cpu"), out,
                     spec.get("tracker"))
    spec = {**spec, "executor": executor, "resumes": int(spec.get("resumes", 0)) + 1}
    return _run(scenario, out, spec, jobs, executor, address, show_progress, resumed=True)


def _run(scenario: Any, out: Path, spec: dict[str, Any], jobs: list[SweepJob], executor: str,
         address: str | None, show_progress: bool, *, resumed: bool) -> Path:
    rows: dict[int, dict[str, Any]] = {}
    if resumed:  # jobs complete on disk are kept as they are
        for i, job in enumerate(jobs):
            if run_state(Path(job.run_dir)) == "complete":
                rows[i] = row_from_run_dir(job)
    todo = [i for i in range(len(jobs)) if i not in rows]
    spec = {**spec, "status": "running", "pid": os.getpid(), "host": socket.gethostname()}
    spec.pop("counts", None)
    write_json(out / "sweep.json", spec)

    def record(k: int, row: dict[str, Any]) -> None:  # results.jsonl grows as jobs finish: nothing lost
        rows[todo[k]] = row
        with (out / "results.jsonl").open("a") as f:
            f.write(json.dumps(to_jsonable(row)) + "\n")
        if executor == "serial" and row["status"] in STOPPED:  # the signal hit the job: stop the sweep too
            raise Terminated(signal.SIGTERM) if row["status"] == "terminated" else KeyboardInterrupt

    status, stop = "complete", None
    try:
        with stop_signals_raise():
            map_jobs(run_job, [jobs[i] for i in todo], executor, address=address, show_progress=show_progress,
                     on_result=record, on_crash=crashed_job_row,
                     gpus_per_job=1.0 if str(spec.get("device", "cpu")).startswith("cuda") else 0.0)
    except (KeyboardInterrupt, Terminated) as err:
        status, stop = ("terminated" if isinstance(err, Terminated) else "interrupted"), err
    except Exception as err:  # the executor itself failed (e.g. Ray could not start): label, then re-raise
        status, stop = "failed", err
    finally:
        for i, job in enumerate(jobs):  # cancelled, or stopped with a worker that could not report
            rows.setdefault(i, row_from_run_dir(job))
        results = pd.DataFrame([rows[i] for i in range(len(jobs))])
        results.to_csv(out / "results.csv", index=False)
        counts = results["status"].value_counts().to_dict()
        if status == "complete" and counts.get("complete", 0) == 0:
            status = "failed"  # every job failed
        write_json(out / "sweep.json", {**spec, "status": status, "counts": counts,
                                        "n_finished": counts.get("complete", 0) + counts.get("failed", 0)})
        _aggregate(scenario, results, list(spec["grid"]), len(spec["seeds"]), out)
    if isinstance(stop, (KeyboardInterrupt, Terminated)):
        raise SweepInterrupted(out, status, counts, stop) from stop
    if stop is not None:
        raise stop
    return out


def _aggregate(scenario: Any, results: pd.DataFrame, keys: list[str], seeds: int, out: Path) -> None:
    ok = results[results["status"] == "complete"]
    metrics = [c for c in ok.columns if c not in {*keys, "seed", "status", "error", "run_dir", "duration_s"}
               and pd.api.types.is_numeric_dtype(ok[c])]
    if ok.empty:
        return
    aggregate(ok, keys, metrics).to_csv(out / "aggregate.csv", index=False)
    if keys and scenario.main_metric in ok:
        hue = None
        if len(keys) > 1:
            ok = ok.assign(cell=ok[keys[1:]].astype(str).agg(", ".join, axis=1))
            hue = "cell"
        line_with_ci(ok, keys[0], scenario.main_metric, hue, out / f"{scenario.main_metric}_vs_{keys[0]}.png",
                     title=f"{scenario.name}: {scenario.main_metric} (mean ± 95% CI over {seeds} seeds)")


def _check_device(device: str) -> None:
    if not (device in ("cpu", "auto") or device.startswith("cuda")):  # CUDA itself is checked on the workers
        raise UsageError(f"unknown device '{device}'; choose one of: cpu, cuda, auto")


def _metric(value: Any) -> Any:
    """Non-finite metrics are JSON null (older runs: "nan"/"inf" strings); the results table needs floats."""
    if value is None:
        return float("nan")
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
    parser.add_argument("name", nargs="?", help="scenario name (python -m scenarios.run --list)")
    parser.add_argument("fixed", nargs="*", help="overrides applied to every cell, key=value")
    parser.add_argument("--grid", action="append", default=[], help="key=v1,v2,... (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="replicate seeds per cell (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="root seed the replicate seeds derive from")
    parser.add_argument("--preset", default="cpu", help=f"{', '.join(PRESETS)} or one the scenario adds (default cpu)")
    parser.add_argument("--executor", default=None, help=f"one of {', '.join(EXECUTORS)} (default serial)")
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, ray://host:10001)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (cuda: Ray asks one GPU per job)")
    parser.add_argument("--out", default=None, help="runs root (default ./runs or $RECAST_RUNS)")
    parser.add_argument("--resume", default=None, metavar="SWEEP_DIR", help="run the jobs of SWEEP_DIR not complete")
    parser.add_argument("--tracker", default=None, choices=TRACKERS, help="mirror every job into tensorboard or mlflow")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_intermixed_args(argv)  # key=value may follow --options
    if args.resume and (args.name or args.fixed or args.grid):
        parser.error("--resume takes no scenario, grid or overrides: the sweep directory's spec is used")
    if not args.resume and not args.name:
        parser.error("a scenario name is required (or --resume SWEEP_DIR)")
    try:
        with stop_signals_raise():  # a signal while validating: nothing to label yet
            if args.resume:
                out = resume_sweep(Path(args.resume), executor=args.executor, address=args.address,
                                   show_progress=not args.no_progress)
            else:
                grid = parse_grid(args.grid)
                out = sweep(args.name, grid, seeds=args.seeds, root_seed=args.seed, preset=args.preset,
                            executor=args.executor or "serial", address=args.address, device=args.device,
                            fixed=args.fixed, runs_root=args.out, show_progress=not args.no_progress,
                            tracker=args.tracker)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SweepInterrupted as err:
        print(f"{err.status}: {err}", file=sys.stderr)
        return signal_exit_status(err.cause)
    except (KeyboardInterrupt, Terminated) as err:
        print("interrupted before the sweep started", file=sys.stderr)
        return signal_exit_status(err)
    spec = json.loads((out / "sweep.json").read_text())
    agg = out / "aggregate.csv"
    if agg.exists():
        frame = pd.read_csv(agg)
        main_metric = get_scenario(spec["scenario"]).main_metric
        cols = [*spec["grid"], "n", *(c for c in frame.columns if c.startswith(main_metric + "_"))]
        print(format_table(frame[[c for c in cols if c in frame]].to_dict("records")))
    failed = pd.read_csv(out / "results.csv").query("status != 'complete'")
    if len(failed):
        print(f"{len(failed)} job(s) did not complete; see results.csv", file=sys.stderr)
    print(f"\nsweep directory: {out}")
    return 1 if spec["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
