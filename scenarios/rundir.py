"""Run directories: ``runs/<scenario>/<run-id>/`` with config, metrics.jsonl, summary.json and figures.

``summary.json`` is written when the run starts (status ``running``) and rewritten when it ends, so
an interrupted or crashed run leaves a readable directory whose status says ``interrupted``,
``terminated`` (SIGTERM/SIGHUP) or ``failed``. While it runs, a heartbeat rewrites ``updated_utc``
every ``$RECAST_HEARTBEAT_S`` seconds (default 30) and the summary names the ``pid`` and ``host``, so
:func:`run_state` can tell a live ``running`` run from a dead one. Long scenarios checkpoint through
:meth:`RunContext.save_checkpoint` and continue after ``python -m scenarios.run --resume RUN_DIR``.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
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
HEARTBEAT_ENV = "RECAST_HEARTBEAT_S"
FINAL_STATES = ("complete", "failed", "interrupted", "terminated")
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


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str | None:
    return _git("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """True when the work tree the code runs from has uncommitted changes to tracked files."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def to_jsonable(value: Any) -> Any:
    """NumPy scalars/arrays → Python; non-finite floats (NaN, ±inf) → None, i.e. JSON ``null``."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: a reader never sees half a file


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(to_jsonable(data), indent=2, default=str) + "\n")  # str(): never fail


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary.json, or None when it is missing or unreadable."""
    try:
        return json.loads((Path(run_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return None


def run_state(run_dir: Path, *, stale_after_s: float | None = None) -> str:
    """The run's status, with ``running`` checked: ``dead`` when its process is gone or its heartbeat stale.

    A run on this host is dead when its pid no longer exists; on any host when ``updated_utc`` is older
    than `stale_after_s` (default: 4 heartbeats). ``missing`` when there is no readable summary.
    """
    summary = read_summary(run_dir)
    if summary is None:
        return "missing"
    status = summary.get("status", "missing")
    if status != "running":
        return status
    pid, host = summary.get("pid"), summary.get("host")
    if host == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
        return "dead"
    stale_after_s = stale_after_s if stale_after_s is not None else 4 * heartbeat_interval()
    updated = summary.get("updated_utc") or summary.get("started_utc")
    try:
        age = (datetime.now(timezone.utc) - datetime.fromisoformat(updated)).total_seconds()
    except (TypeError, ValueError):
        return "dead"
    return "dead" if age > stale_after_s else "running"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def heartbeat_interval() -> float:
    try:
        return max(0.05, float(os.environ.get(HEARTBEAT_ENV, "30")))
    except ValueError:
        return 30.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class RunContext:
    """What a scenario's ``run(cfg, ctx)`` gets from the spine: seeds, device, run directory, logging, checkpoints.

    ``resumed`` is True when the run continues an earlier attempt (``--resume``); a scenario that
    checkpoints calls :meth:`load_checkpoint` first and skips the work its checkpoint already holds.
    """

    scenario: str
    preset: str
    seed: int
    device: str
    run_dir: Path
    show_progress: bool = True
    resumed: bool = False
    tracker: Any = None  # a scenarios.tracking.Tracker mirroring log() records, or None
    seeds: SeedFlow = field(init=False)

    def __post_init__(self) -> None:
        self.seeds = SeedFlow(self.seed)
        self._metrics = (self.run_dir / "metrics.jsonl").open("a", buffering=1)
        self._metric_lines = _count_lines(self.run_dir / "metrics.jsonl")

    def log(self, record: dict[str, Any]) -> None:
        """Append one record (one step, round or epoch) to metrics.jsonl, flushed line by line."""
        self._metrics.write(json.dumps(to_jsonable(record)) + "\n")
        self._metric_lines += 1
        if self.tracker is not None:
            self.tracker.log(record)

    def progress(self, iterable: Iterable | None = None, **kwargs: Any) -> Iterator:
        """A tqdm progress bar (silent when the context was made with ``show_progress=False``)."""
        return tqdm(iterable, disable=not self.show_progress, leave=False, dynamic_ncols=True, **kwargs)

    def path(self, name: str) -> Path:
        """A path for an artefact (figure, table, checkpoint) inside the run directory."""
        return self.run_dir / name

    def save_checkpoint(self, state: dict[str, Any], name: str = "checkpoint.pt") -> Path:
        """Atomically write `state` (tensors, numbers, strings, lists, dicts) with ``torch.save``.

        The number of metrics.jsonl records so far is saved with it, so a resumed run drops the
        records logged after the checkpoint (they are logged again) and metrics.jsonl has no duplicates.
        """
        import torch

        path = self.path(name)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"state": state, "metric_lines": self._metric_lines}, tmp)
        tmp.replace(path)
        return path

    def load_checkpoint(self, name: str = "checkpoint.pt") -> dict[str, Any] | None:
        """The state saved by :meth:`save_checkpoint` when this run resumes, else None (a fresh run).

        Loaded with ``torch.load(weights_only=True)``: only tensors and plain containers, no pickled code.
        """
        path = self.path(name)
        if not self.resumed or not path.exists():
            return None
        import torch

        saved = torch.load(path, map_location="cpu", weights_only=True)
        self._truncate_metrics(int(saved["metric_lines"]))
        return saved["state"]

    def _truncate_metrics(self, n_lines: int) -> None:
        self._metrics.close()
        metrics = self.run_dir / "metrics.jsonl"
        kept = metrics.read_text().splitlines(keepends=True)[:n_lines]
        write_text_atomic(metrics, "".join(kept))
        self._metrics = metrics.open("a", buffering=1)
        self._metric_lines = len(kept)

    def close(self) -> None:
        self._metrics.close()


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


class RunRecord:
    """Writes config.yaml and summary.json and keeps the summary's status true to what happened.

    A daemon thread refreshes ``updated_utc`` every :func:`heartbeat_interval` seconds while the run
    is ``running``; :meth:`finish` stops it. On resume the earlier summary is kept and ``attempt`` grows.
    """

    def __init__(self, ctx: RunContext, config: dict[str, Any], command: str | None = None):
        self.ctx = ctx
        self.started = time.time()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        write_text_atomic(ctx.run_dir / "config.yaml", yaml.safe_dump(to_jsonable(config), sort_keys=False))
        earlier = read_summary(ctx.run_dir) if ctx.resumed else None
        self.summary: dict[str, Any] = {
            "scenario": ctx.scenario,
            "status": "running",
            "preset": ctx.preset,
            "seed": ctx.seed,
            "device": ctx.device,
            "metrics": {},
            "table": [],
            "started_utc": (earlier or {}).get("started_utc") or _now(),
            "updated_utc": _now(),
            "finished_utc": None,
            "duration_s": None,
            "attempt": int((earlier or {}).get("attempt", 1)) + (1 if earlier else 0),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "git_commit": git_commit(),
            "git_dirty": git_dirty(),
            "versions": package_versions(),
            "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
            "command": command or (earlier or {}).get("command"),
            "config": config,
        }
        self._write()
        self._heartbeat = threading.Thread(target=self._beat, name="recast-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stop.wait(heartbeat_interval()):
            with self._lock:
                if self.summary["status"] != "running":
                    return
                self.summary["updated_utc"] = _now()
                self._write()

    def finish(self, status: str, metrics: dict | None = None, table: list | None = None,
               error: BaseException | None = None) -> None:
        self._stop.set()
        with self._lock:
            self.summary.update(status=status, updated_utc=_now(), finished_utc=_now(),
                                duration_s=round(time.time() - self.started, 3))
            if metrics is not None:
                self.summary["metrics"] = metrics
            if table is not None:
                self.summary["table"] = table
            if error is not None:
                self.summary["error"] = f"{type(error).__name__}: {error}"
                write_text_atomic(self.ctx.run_dir / "error.txt", "".join(
                    traceback.format_exception(type(error), error, error.__traceback__)))
            self._write()
        if self.ctx.tracker is not None:  # mirrors the final summary; its failure never fails the run
            try:
                self.ctx.tracker.finish(self.summary, self.ctx.run_dir)
            except Exception as err:  # noqa: BLE001
                print(f"warning: tracker could not record the run: {type(err).__name__}: {err}", file=sys.stderr)

    def _write(self) -> None:
        write_json(self.ctx.run_dir / "summary.json", self.summary)
