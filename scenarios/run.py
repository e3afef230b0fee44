"""Run one scenario: ``python -m scenarios.run NAME [--preset P] [--seed S] [--device D] [key=value ...]``.

    python -m scenarios.run --list
    python -m scenarios.run misinformation_performative
    python -m scenarios.run misinformation_single_round --preset smoke game.engagement_weight=0.2

At the end it prints a compact results table and the run directory. Bad input (unknown scenario,
preset, override key, wrong type) prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scenarios.config import build_config, to_dict
from scenarios.errors import RunAborted, UsageError
from scenarios.registry import PRESETS, get_scenario, scenario_names
from scenarios.rundir import RunContext, RunRecord, default_runs_root, new_run_dir, to_jsonable
from scenarios.seeding import resolve_device, seed_everything
from scenarios.stats import format_table


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
) -> dict[str, Any]:
    """Run scenario `name` and return its summary (also written to ``<run dir>/summary.json``).

    Bad input raises UsageError before anything is written. Once the run directory exists, a
    KeyboardInterrupt or an exception is recorded in summary.json (status ``interrupted`` or
    ``failed``, traceback in error.txt) and re-raised as RunAborted (the cause chained).
    """
    scenario = get_scenario(name)
    cfg = build_config(scenario, preset, overrides)
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    device = resolve_device(device)
    if run_dir is None:
        run_dir = new_run_dir(runs_root or default_runs_root(), name, preset, seed)
    else:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(name, preset, seed, device, run_dir, show_progress=show_progress)
    record = RunRecord(ctx, to_dict(cfg))
    try:
        seed_everything(ctx.seeds.seed("global"))
        result = scenario.run(cfg, ctx)
        metrics, table = to_jsonable(result.metrics), to_jsonable(result.table)  # a bad result is a failed run
    except KeyboardInterrupt as err:
        record.finish("interrupted", error=err)
        raise RunAborted(run_dir, "interrupted", err) from err
    except Exception as err:
        record.finish("failed", error=err)
        raise RunAborted(run_dir, "failed", err) from err
    finally:
        ctx.close()
    record.finish("complete", metrics=metrics, table=table)
    return {**record.summary, "run_dir": str(run_dir)}


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
    parser.add_argument("--preset", default="cpu", help=f"one of {', '.join(PRESETS)} (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("--out", type=Path, default=None, help="runs root (default ./runs or $RECAST_RUNS)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    args = parser.parse_intermixed_args(argv)  # key=value may follow --options

    if args.list:
        for name in scenario_names():
            try:
                description = get_scenario(name).description
            except ImportError as err:  # an optional extra of that scenario is not installed
                description = f"(unavailable: {err})"
            print(f"{name:32s} {description}")
        return 0
    if not args.name:
        parser.error("a scenario name is required (or --list)")
    try:
        summary = execute(
            args.name, preset=args.preset, seed=args.seed, device=args.device, overrides=args.overrides,
            runs_root=args.out, show_progress=not args.no_progress,
        )
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RunAborted as err:
        print(f"error: run {err}; see error.txt there", file=sys.stderr)
        return 130 if err.status == "interrupted" else 1
    except KeyboardInterrupt:  # before the run directory existed: nothing to label
        print("interrupted", file=sys.stderr)
        return 130
    print(format_table(summary["table"] or [summary["metrics"]]))
    print(f"\nrun directory: {summary['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
