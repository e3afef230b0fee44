"""Run directories: ``runs/<scenario>/<run-id>/`` with config, metrics.jsonl, summary.json and figures.

``summary.json`` is written when the run starts (status ``running``) and rewritten when it ends, so
an interrupted or crashed run leaves a readable directory whose status says ``interrupted`` or
``failed``.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import subprocess
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm.auto import tqdm

from scenarios.seeding import SeedFlow

RUNS_ROOT_ENV = "RECAST_RUNS"
TRACKED_PACKAGES = ("recast", "numpy", "scipy", "torch", "gymnasium", "pettingzoo", "mesa", "stable-baselines3")


def default_runs_root() -> Path:
    return Path(os.environ.get(RUNS_ROOT_ENV, "runs"))


def new_run_dir(root: Path, scenario: str, preset: str, seed: int) -> Path:
    """A fresh ``root/<scenario>/<UTC time>-<preset>-s<seed>[-n]`` directory."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / scenario / f"{stamp}-{preset}-s{seed}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def to_jsonable(value: Any) -> Any:
    """NumPy scalars/arrays → Python; non-finite floats → None-free strings JSON accepts ("nan", "inf")."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2, default=str) + "\n")  # str(): never fail a summary
    tmp.replace(path)  # atomic: a reader never sees half a summary


@dataclass
class RunContext:
    """What a scenario's ``run(cfg, ctx)`` gets from the spine: seeds, device, run directory, logging."""

    scenario: str
    preset: str
    seed: int
    device: str
    run_dir: Path
    show_progress: bool = True
    seeds: SeedFlow = field(init=False)

    def __post_init__(self) -> None:
        self.seeds = SeedFlow(self.seed)
        self._metrics = (self.run_dir / "metrics.jsonl").open("a", buffering=1)

    def log(self, record: dict[str, Any]) -> None:
        """Append one record (one step, round or epoch) to metrics.jsonl, flushed line by line."""
        self._metrics.write(json.dumps(to_jsonable(record)) + "\n")

    def progress(self, iterable: Iterable | None = None, **kwargs: Any) -> Iterator:
        """A tqdm progress bar (silent when the context was made with ``show_progress=False``)."""
        return tqdm(iterable, disable=not self.show_progress, leave=False, dynamic_ncols=True, **kwargs)

    def path(self, name: str) -> Path:
        """A path for an artefact (figure, table, checkpoint) inside the run directory."""
        return self.run_dir / name

    def close(self) -> None:
        self._metrics.close()


class RunRecord:
    """Writes config.yaml and summary.json and keeps the summary's status true to what happened."""

    def __init__(self, ctx: RunContext, config: dict[str, Any]):
        self.ctx = ctx
        self.started = time.time()
        (ctx.run_dir / "config.yaml").write_text(yaml.safe_dump(to_jsonable(config), sort_keys=False))
        self.summary: dict[str, Any] = {
            "scenario": ctx.scenario,
            "status": "running",
            "preset": ctx.preset,
            "seed": ctx.seed,
            "device": ctx.device,
            "metrics": {},
            "table": [],
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "finished_utc": None,
            "duration_s": None,
            "git_commit": git_commit(),
            "versions": package_versions(),
            "config": config,
        }
        self._write()

    def finish(self, status: str, metrics: dict | None = None, table: list | None = None,
               error: BaseException | None = None) -> None:
        self.summary.update(
            status=status,
            finished_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            duration_s=round(time.time() - self.started, 3),
        )
        if metrics is not None:
            self.summary["metrics"] = metrics
        if table is not None:
            self.summary["table"] = table
        if error is not None:
            self.summary["error"] = f"{type(error).__name__}: {error}"
            (self.ctx.run_dir / "error.txt").write_text(
                "".join(traceback.format_exception(type(error), error, error.__traceback__))
            )
        self._write()

    def _write(self) -> None:
        write_json(self.ctx.run_dir / "summary.json", self.summary)
