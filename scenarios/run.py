"""Run one scenario: ``python -m scenarios.run NAME [--preset P] [--seed S] [--device D] [key=value ...]``.

    python -m scenarios.run --list
    python -m scenarios.run misinformation_performative
    python -m scenarios.run misinformation_single_round --preset smoke game.engagement_weight=0.2
    python -m scenarios.run --resume runs/image_text_pretraining/20261201-101500-cpu-s0

At the end it prints a compact results table and the run directory. Bad input (unknown scenario,
preset, override key, wrong type, a value outside its declared range, an unusable ``--out``) prints
one line on stderr and exits with status 2 before any run directory exists. Ctrl-C exits 130 and
SIGTERM 143 (SIGHUP 129), each after labelling the run directory; a crash exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from scenarios.config import build_config, to_dict
from scenarios.errors import RunAborted, Terminated, UsageError, signal_exit_status
from scenarios.registry import PRESETS, get_scenario, scenario_description, scenario_names
from scenarios.rundir import (
    RunContext, RunRecord, default_runs_root, new_run_dir, read_summary, run_state, to_jsonable,
)
from scenarios.seeding import resolve_device, seed_everything
from scenarios.signals import stop_signals_raise
from scenarios.stats import format_table
from scenarios.tracking import TRACKERS, check_tracker, make_tracker


def execute(
    name: str,
    *,
    preset: str = "cpu",
    seed: int = 0,
    device: str = "cpu",
    overrides: Sequence[str] = (),
    runs_root: Path | None = None,
    run_dir: Path | None = None,
    show_progress: bool = True,
    resume: bool = False,
    tracker: str | None = None,
) -> dict[str, Any]:
    """Run scenario `name` and return its summary (also written to ``<run dir>/summary.json``).

    Bad input raises UsageError before anything is written. Once the run directory exists, a
    KeyboardInterrupt, SIGTERM/SIGHUP or an exception is recorded in summary.json (status
    ``interrupted``, ``terminated`` or ``failed``, traceback in error.txt) and re-raised as RunAborted
    (the cause chained). With ``resume=True`` the config comes from ``run_dir/config.yaml`` (the
    overrides must be empty) and the scenario's :meth:`RunContext.load_checkpoint` returns its state.
    ``tracker`` (``tensorboard`` | ``mlflow``) mirrors the run into that tool (:mod:`scenarios.tracking`).
    """
    scenario = get_scenario(name)
    resolved = _saved_config(run_dir) if resume else None
    cfg = build_config(scenario, preset, overrides, resolved=resolved)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed!r}")
    device = resolve_device(device)
    check_tracker(tracker)
    if run_dir is None:
        run_dir = new_run_dir(check_runs_root(default_runs_root() if runs_root is None else runs_root), name, preset,
                              seed)
    else:
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create run directory {run_dir}: {err.strerror or err}") from None
    ctx = RunContext(name, preset, seed, device, run_dir, show_progress=show_progress, resumed=resume)
    with stop_signals_raise():
        command = " ".join(["python -m scenarios.run", name, "--preset", preset, "--seed", str(seed),
                            *(["--device", device] if device != "cpu" else []), *overrides])
        record = RunRecord(ctx, to_dict(cfg), command=command if not resume else None)
        try:
            ctx.tracker = make_tracker(tracker, run_dir, name)
            seed_everything(ctx.seeds.seed("global"))
            result = scenario.run(cfg, ctx)
            metrics, table = to_jsonable(result.metrics), to_jsonable(result.table)  # a bad result fails the run
        except (KeyboardInterrupt, Terminated) as err:
            status = "terminated" if isinstance(err, Terminated) else "interrupted"
            record.finish(status, error=err)
            raise RunAborted(run_dir, status, err) from err
        except Exception as err:
            record.finish("failed", error=err)
            raise RunAborted(run_dir, "failed", err) from err
        finally:
            ctx.close()
        record.finish("complete", metrics=metrics, table=table)
    return {**record.summary, "run_dir": str(run_dir)}


def resume(run_dir: Path, *, device: str | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Continue the run in `run_dir` (interrupted, terminated, failed or dead) with its saved config and seed.

    Scenarios that checkpoint (:meth:`RunContext.save_checkpoint`) skip the work they saved; the others
    start over in the same directory. A complete or still-running run is a UsageError.
    """
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    if summary is None or "scenario" not in summary:
        raise UsageError(f"--resume {run_dir}: not a run directory (no readable summary.json)")
    state = run_state(run_dir)
    if state == "complete":
        raise UsageError(f"--resume {run_dir}: the run is already complete")
    if state == "running":
        raise UsageError(f"--resume {run_dir}: the run is still running (pid {summary.get('pid')} on "
                         f"{summary.get('host')}); stop it first")
    return execute(summary["scenario"], preset=summary["preset"], seed=summary["seed"],
                   device=device or summary.get("device", "cpu"), run_dir=run_dir,
                   show_progress=show_progress, resume=True)


def _saved_config(run_dir: Path | None) -> dict[str, Any]:
    if run_dir is None:
        raise UsageError("resume needs the run directory")
    try:
        config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"--resume {run_dir}: unreadable config.yaml ({err})") from None
    if not isinstance(config, dict):
        raise UsageError(f"--resume {run_dir}: config.yaml is not a mapping")
    return config


def check_runs_root(root: Path | str) -> Path:
    """A usable runs root: not empty, a directory (created if missing), writable. UsageError otherwise."""
    if str(root).strip() == "":
        raise UsageError("--out must name a directory, got an empty string")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"--out {root}: exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {root}: cannot create it ({err.strerror or err})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise UsageError(f"--out {root}: not writable")
    return root


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _OneLineParser(prog="python -m scenarios.run", description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", help="scenario name (see --list)")
    parser.add_argument("overrides", nargs="*", help="dotted config overrides key=value")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--preset", default="cpu", help=f"{', '.join(PRESETS)} or one the scenario adds (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--device", default=None, help="cpu | cuda | auto (default cpu; with --resume the run's)")
    parser.add_argument("--out", default=None, help="runs root (default ./runs or $RECAST_RUNS)")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue an interrupted, terminated or failed run in RUN_DIR")
    parser.add_argument("--tracker", default=None, choices=TRACKERS,
                        help="mirror metrics and figures into tensorboard or mlflow (the tracking extra)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_intermixed_args(argv)  # key=value may follow --options

    if args.list:  # reads each scenario's description without importing it (no torch start-up)
        for name in scenario_names():
            print(f"{name:32s} {scenario_description(name)}")
        return 0
    if not args.name and not args.resume:
        parser.error("a scenario name is required (or --list, or --resume RUN_DIR)")
    if args.resume and (args.name or args.overrides):
        parser.error("--resume takes no scenario name or overrides: the run directory's config is used")
    try:
        with stop_signals_raise():  # a signal before the run directory exists: nothing to label
            if args.resume:
                summary = resume(Path(args.resume), device=args.device,
                                 show_progress=not args.no_progress)
            else:
                summary = execute(
                    args.name, preset=args.preset, seed=args.seed, device=args.device or "cpu", overrides=args.overrides,
                    runs_root=args.out, show_progress=not args.no_progress, tracker=args.tracker,
                )
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RunAborted as err:
        print(f"error: run {err}; see error.txt there", file=sys.stderr)
        return 1 if err.status == "failed" else signal_exit_status(err.cause)
    except (KeyboardInterrupt, Terminated) as err:
        print("interrupted" if isinstance(err, KeyboardInterrupt) else f"terminated ({err})", file=sys.stderr)
        return signal_exit_status(err)
    print(format_table(summary["table"] or [summary["metrics"]]))
    print(f"\nrun directory: {summary['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
