"""A tiny scenario for testing the spine: registered by monkeypatching ``scenarios.registry.SCENARIO_MODULES``.

``mode`` picks what ``run`` does: ``ok`` (log ``steps`` records, return metrics), ``interrupt``
(KeyboardInterrupt after logging one record, as Ctrl-C would), ``crash`` (RuntimeError after
logging one record), ``bad_result`` (return a plain dict instead of a ScenarioResult), ``kill``
(SIGKILL its own process after one record, as the OOM killer would). Every mode sleeps ``sleep_s``
per step and checkpoints after each step, so a stopped run resumes where it was.

For subprocess tests: ``RECAST_SCENARIOS=fake_spine=fake_scenarios`` with this folder on PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

import numpy as np

from scenarios.registry import Scenario, ScenarioResult
from scenarios.validation import param

NAME = "fake_spine"
MODULE = __name__  # what SCENARIO_MODULES must map NAME to


@dataclass
class Inner:
    gain: float = param(1.0, ge=-100, le=100)
    label: str = "a"


@dataclass
class FakeConfig:
    mode: str = param("ok", choices=("ok", "interrupt", "crash", "bad_result", "kill"))
    steps: int = param(4, ge=1, le=10_000)
    sleep_s: float = param(0.0, ge=0, le=10)
    weights: list[float] = param([1.0], ge=-100, le=100, nonempty=True)
    inner: Inner = field(default_factory=Inner)

    def validate(self) -> None:
        if self.mode == "bad_result" and self.steps > 1000:  # a cross-field rule, for the tests
            raise ValueError("mode=bad_result needs steps <= 1000")


def run(cfg: FakeConfig, ctx) -> ScenarioResult:
    rng = ctx.seeds.generator("fake")
    state = ctx.load_checkpoint() or {"step": 0, "draws": []}
    draws = list(state["draws"])
    rng.normal(size=len(draws))  # the stream continues where the checkpoint left it
    for step in range(state["step"], cfg.steps):
        draw = float(rng.normal())
        draws.append(draw)
        ctx.log({"step": step, "draw": np.float64(draw), "mode": cfg.mode})
        if cfg.mode == "interrupt" and step == 0:
            raise KeyboardInterrupt
        if cfg.mode == "crash" and step == 0:
            raise RuntimeError("boom: the fake scenario crashed on purpose")
        if cfg.mode == "kill" and step == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(cfg.sleep_s)
        if cfg.sleep_s > 0:
            ctx.save_checkpoint({"step": step + 1, "draws": draws})
    value = cfg.inner.gain * sum(cfg.weights) + float(np.mean(draws))
    if cfg.mode == "bad_result":
        return {"value": value}  # type: ignore[return-value] - a scenario bug the spine must label
    metrics = {"value": np.float64(value), "n_steps": np.int64(cfg.steps), "undefined": float("nan"),
               "sometimes_nan": float("nan") if cfg.steps == 1 else float(cfg.steps)}
    return ScenarioResult(metrics=metrics, table=[{"step": i, "draw": d} for i, d in enumerate(draws)])


SCENARIO = Scenario(
    name=NAME,
    description="fake scenario for the spine's tests",
    config=FakeConfig,
    run=run,
    presets={"smoke": {"steps": 2, "inner": {"label": "smoke"}}, "cpu": {}, "paper": {"steps": 50}},
    main_metric="value",
)


def worker_pid(job: tuple[int, str]) -> tuple[int, int]:
    """A job for executor tests: returns (job number, pid of the process that ran it).

    A barrier: each job records its pid in the directory ``job[1]`` and waits (up to 60 s) until two
    distinct processes have done so, so two workers are used whenever the executor has two.
    This module is light to import in a fresh (spawned) worker.
    """
    number, barrier = job
    pid = os.getpid()
    open(os.path.join(barrier, str(pid)), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    return number, pid
