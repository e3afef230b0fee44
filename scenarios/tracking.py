"""Optional experiment trackers that mirror a run: ``--tracker tensorboard`` or ``--tracker mlflow``.

``metrics.jsonl`` and ``summary.json`` stay the source of truth; a tracker only mirrors them for users
who browse runs in TensorBoard or MLflow. Each ``ctx.log(record)`` becomes scalars: the record's
numeric fields, tagged by its string fields (``method=clip/loss``) and stepped by its ``step``,
``round``, ``epoch`` or ``update`` field (else a running count). At the end the final metrics, the
config (as hyper-parameters) and the run's PNG figures follow.

- ``tensorboard``: event files in ``<run dir>/tensorboard`` (``pip install -e ".[tracking]"``;
  ``tensorboard --logdir runs``).
- ``mlflow``: one MLflow run per Recast run (experiment = scenario), in ``$MLFLOW_TRACKING_URI`` or else a
  local file store ``<runs root>/mlruns`` (``mlflow ui --backend-store-uri runs/mlruns``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenarios.errors import UsageError

TRACKERS = ("none", "tensorboard", "mlflow")
STEP_KEYS = ("step", "round", "epoch", "update", "updates", "iteration")


def make_tracker(name: str | None, run_dir: Path, scenario: str) -> Tracker | None:
    """The tracker called `name` (None or "none": no tracker). UsageError when unknown or not installed."""
    if name in (None, "none"):
        return None
    if name not in TRACKERS:
        raise UsageError(f"unknown tracker '{name}'; choose one of: {', '.join(TRACKERS)}")
    try:
        return TensorBoardTracker(run_dir) if name == "tensorboard" else MLflowTracker(run_dir, scenario)
    except ImportError as err:
        raise UsageError(f"--tracker {name} needs its package ({err.name}): pip install -e '.[tracking]'") from None


def check_tracker(name: str | None) -> None:
    """Fail before the run directory exists when the tracker is unknown or its package is missing."""
    if name in (None, "none"):
        return
    if name not in TRACKERS:
        raise UsageError(f"unknown tracker '{name}'; choose one of: {', '.join(TRACKERS)}")
    module = "torch.utils.tensorboard" if name == "tensorboard" else "mlflow"
    try:
        __import__(module)
    except ImportError as err:
        raise UsageError(f"--tracker {name} needs its package ({err.name}): pip install -e '.[tracking]'") from None


def scalars(record: Mapping[str, Any]) -> tuple[str, int | None, dict[str, float]]:
    """(tag prefix from the string fields, the step field if any, the finite numeric fields)."""
    prefix = "/".join(f"{k}={v}" for k, v in record.items() if isinstance(v, str))
    step = next((int(record[k]) for k in STEP_KEYS if isinstance(record.get(k), (int, float))
                 and not isinstance(record.get(k), bool)), None)
    values = {k: float(v) for k, v in record.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in STEP_KEYS
              and math.isfinite(float(v))}
    return prefix, step, values


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys → scalars (lists as their text)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + str(key)] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


class Tracker:
    """Mirrors ``ctx.log`` records and the final summary of one run."""

    def __init__(self) -> None:
        self._count = 0

    def log(self, record: Mapping[str, Any]) -> None:
        prefix, step, values = scalars(record)
        step = self._count if step is None else step
        self._count += 1
        for key, value in values.items():
            self._scalar(f"{prefix}/{key}" if prefix else key, value, step)

    def finish(self, summary: Mapping[str, Any], run_dir: Path) -> None:
        raise NotImplementedError

    def _scalar(self, tag: str, value: float, step: int) -> None:
        raise NotImplementedError


class TensorBoardTracker(Tracker):
    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        super().__init__()
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, global_step=step)

    def finish(self, summary: Mapping[str, Any], run_dir: Path) -> None:
        import matplotlib.pyplot as plt

        metrics = {k: float(v) for k, v in (summary.get("metrics") or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        for key, value in metrics.items():
            self.writer.add_scalar(f"final/{key}", value, global_step=0)
        self.writer.add_text("status", str(summary.get("status")), global_step=0)
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in
                                                 flatten(summary.get("config") or {}).items()), global_step=0)
        for png in sorted(Path(run_dir).glob("*.png")):
            image = plt.imread(png)[..., :3]
            self.writer.add_image(f"figures/{png.stem}", image, global_step=0, dataformats="HWC")
        self.writer.close()


class MLflowTracker(Tracker):
    def __init__(self, run_dir: Path, scenario: str):
        import mlflow

        super().__init__()
        self.mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):  # a local file store beside the runs (no server needed)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for this opt-in
            mlflow.set_tracking_uri((Path(run_dir).resolve().parent.parent / "mlruns").as_uri())
        mlflow.set_experiment(scenario)
        self.run = mlflow.start_run(run_name=Path(run_dir).name)

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self.mlflow.log_metric(_mlflow_key(tag), value, step=step)

    def finish(self, summary: Mapping[str, Any], run_dir: Path) -> None:
        params = {_mlflow_key(k): str(v)[:500] for k, v in flatten(summary.get("config") or {}).items()}
        self.mlflow.log_params(params)
        metrics = {_mlflow_key(f"final/{k}"): float(v) for k, v in (summary.get("metrics") or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
        if metrics:
            self.mlflow.log_metrics(metrics)
        self.mlflow.set_tags({"recast.status": str(summary.get("status")), "recast.run_dir": str(run_dir)})
        self.mlflow.log_artifacts(str(run_dir))
        status = "FINISHED" if summary.get("status") == "complete" else "KILLED"
        self.mlflow.end_run(status="FAILED" if summary.get("status") == "failed" else status)


def _mlflow_key(tag: str) -> str:
    """MLflow keys allow alphanumerics, _ - . space / only."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in tag)
