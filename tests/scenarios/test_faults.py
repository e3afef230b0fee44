"""Faults as an HPC user meets them, with real processes: SIGTERM, kill -9, Ctrl-C on a sweep, resume.

The fake scenario (fake_scenarios.py) is reached in child processes through ``$RECAST_SCENARIOS``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fake_scenarios as fake
import pandas as pd
import pytest

from scenarios import registry
from scenarios.executors import map_jobs
from scenarios.run import execute
from scenarios.run import main as run_main
from scenarios.rundir import read_summary, run_state
from scenarios.sweep import SweepJob, parse_grid, resume_sweep, run_job, sweep

HERE = Path(__file__).resolve().parent


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RECAST_SCENARIOS=f"{fake.NAME}={fake.MODULE}", RECAST_HEARTBEAT_S="0.2",
               PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1", **extra)
    return env


def _spawn(module: str, *args: str) -> subprocess.Popen:
    """Start ``python -m module args`` with Ctrl-C live in the child: a shell without job control starts
    background commands (``nohup .ci/run &``) with SIGINT ignored, and an ignored signal survives exec, whereas a
    handled one is reset to the default there."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", module, *args], env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _only_run_dir(root: Path) -> Path:
    dirs = list((root / fake.NAME).iterdir()) if (root / fake.NAME).exists() else []
    return dirs[0] if len(dirs) == 1 else None


def _metric_lines(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def fake_registered(monkeypatch):
    monkeypatch.setitem(registry.SCENARIO_MODULES, fake.NAME, fake.MODULE)
    monkeypatch.setenv("RECAST_SCENARIOS", f"{fake.NAME}={fake.MODULE}")  # for workers of any start method
    return fake.NAME


def test_sigterm_labels_the_run_and_resume_finishes_it_without_duplicates(fake_registered, tmp_path) -> None:
    child = _spawn("scenarios.run", fake.NAME, "--out", str(tmp_path), "--seed", "3", "--no-progress",
                   "mode=ok", "steps=40", "sleep_s=0.05")
    _wait_for(lambda: (d := _only_run_dir(tmp_path)) is not None and _metric_lines(d) >= 3, what="3 records")
    run_dir = _only_run_dir(tmp_path)
    running = read_summary(run_dir)
    assert running["status"] == "running" and running["pid"] == child.pid
    assert run_state(run_dir) == "running"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err
    assert len(err.strip().splitlines()) == 1 and "terminated" in err
    summary = read_summary(run_dir)
    assert summary["status"] == "terminated" and summary["error"].startswith("Terminated: received SIGTERM")
    assert "Terminated" in (run_dir / "error.txt").read_text()
    done_before = _metric_lines(run_dir)
    assert 3 <= done_before < 40

    assert run_main(["--resume", str(run_dir), "--no-progress"]) == 0
    resumed = read_summary(run_dir)
    assert resumed["status"] == "complete" and resumed["attempt"] == 2
    assert resumed["started_utc"] == summary["started_utc"]
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(40))  # the records after the checkpoint were dropped, not duplicated
    # the same numbers as a run that was never stopped
    whole = execute(fake.NAME, seed=3, overrides=["steps=40", "sleep_s=0"], runs_root=tmp_path / "whole",
                    show_progress=False)
    assert resumed["metrics"]["value"] == pytest.approx(whole["metrics"]["value"], abs=1e-12)


def test_a_killed_run_reads_as_dead_not_running(tmp_path) -> None:
    child = _spawn("scenarios.run", fake.NAME, "--out", str(tmp_path), "--no-progress", "steps=400", "sleep_s=0.05")
    _wait_for(lambda: (d := _only_run_dir(tmp_path)) is not None and _metric_lines(d) >= 2, what="2 records")
    run_dir = _only_run_dir(tmp_path)
    first = read_summary(run_dir)["updated_utc"]
    _wait_for(lambda: read_summary(run_dir)["updated_utc"] > first, timeout=10, what="a heartbeat")
    child.kill()
    child.communicate(timeout=30)
    assert read_summary(run_dir)["status"] == "running"  # nothing could label it...
    assert run_state(run_dir) == "dead"  # ...but its pid is gone
    summary = read_summary(run_dir)
    summary["host"] = "another-host"  # seen from elsewhere: only the heartbeat's age tells
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert run_state(run_dir, stale_after_s=3600) == "running"
    time.sleep(0.3)
    assert run_state(run_dir, stale_after_s=0.2) == "dead"
    with pytest.raises(SystemExit) as caught:  # no overrides on resume: the saved config is the config
        run_main(["--resume", str(run_dir), "--no-progress", "steps=3"])
    assert caught.value.code == 2


def test_resume_refuses_complete_runs_and_non_run_directories(fake_registered, tmp_path, capsys) -> None:
    out = execute(fake.NAME, preset="smoke", runs_root=tmp_path, show_progress=False)
    assert run_main(["--resume", out["run_dir"]]) == 2
    assert run_main(["--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "already complete" in err[0] and "not a run directory" in err[1]


def test_a_worker_killed_by_the_os_fails_its_cell_and_the_sweep_goes_on(fake_registered, tmp_path) -> None:
    out = sweep(fake.NAME, parse_grid(["mode=ok,kill,ok"]), seeds=2, preset="smoke", executor="process",
                runs_root=tmp_path, show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert results["status"].tolist() == ["complete"] * 2 + ["failed"] * 2 + ["complete"] * 2
    killed = results[results["mode"] == "kill"]
    assert killed["error"].str.contains("worker process died").all()
    for run_dir in killed["run_dir"]:  # the dead worker's run is labelled, not left at running
        assert read_summary(Path(run_dir))["status"] == "failed"
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"
    assert pd.read_csv(out / "aggregate.csv")["n"].tolist() == [4]  # both "ok" cells (same grid value)


def test_ctrl_c_on_a_process_sweep_runs_no_queued_job_and_keeps_every_finished_one(tmp_path) -> None:
    child = _spawn("scenarios.sweep", fake.NAME, "--executor", "process", "--grid", "inner.gain=1,2,3,4",
                   "--seeds", "4", "--out", str(tmp_path), "--no-progress", "steps=2", "sleep_s=0.3")
    results_jsonl = lambda: next(iter(tmp_path.glob(f"sweeps/{fake.NAME}/*/results.jsonl")), None)
    _wait_for(lambda: (p := results_jsonl()) is not None and len(p.read_text().splitlines()) >= 3, what="3 jobs")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    out = results_jsonl().parent
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 16  # a row for every job
    on_disk = {str(p.parent) for p in out.glob("cells/*/summary.json")
               if json.loads(p.read_text())["status"] == "complete"}
    assert on_disk == set(results.loc[results["status"] == "complete", "run_dir"])  # nothing finished is lost
    cancelled = results[results["status"] == "cancelled"]
    assert len(cancelled) >= 4  # 16 jobs, 2 workers, 0.6 s each: most were still queued
    assert not any(Path(d).exists() for d in cancelled["run_dir"])  # no queued job ran after the interrupt
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["status"] == "interrupted" and sum(spec["counts"].values()) == 16

    # resume: only the jobs not complete run; the complete ones are not touched
    stamps = {d: (Path(d) / "summary.json").stat().st_mtime_ns for d in on_disk}
    os.environ.update(RECAST_SCENARIOS=f"{fake.NAME}={fake.MODULE}")
    try:
        resume_sweep(out, executor="serial", show_progress=False)
    finally:
        os.environ.pop("RECAST_SCENARIOS")
    again = pd.read_csv(out / "results.csv")
    assert (again["status"] == "complete").all() and len(again) == 16
    assert all((Path(d) / "summary.json").stat().st_mtime_ns == t for d, t in stamps.items())
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"
    assert pd.read_csv(out / "aggregate.csv")["n"].tolist() == [4, 4, 4, 4]


def test_a_retried_job_writes_a_fresh_attempt_directory(fake_registered, tmp_path) -> None:
    job = SweepJob(fake.NAME, "smoke", (), (), 7, "cpu", str(tmp_path / "cell000-seed0"))
    first, second = run_job(job), run_job(job)  # what a Ray retry of the same task does
    assert first["status"] == second["status"] == "complete" and first["value"] == second["value"]
    assert _metric_lines(Path(job.run_dir)) == 2  # smoke: 2 steps, not 4
    assert _metric_lines(Path(f"{job.run_dir}.attempt1")) == 2


def test_sweep_exits_1_when_every_job_failed(fake_registered, tmp_path, capsys) -> None:
    from scenarios.sweep import main as sweep_main

    assert sweep_main([fake.NAME, "--grid", "mode=crash", "--seeds", "2", "--out", str(tmp_path), "--no-progress"]) == 1


@pytest.mark.ray
def test_a_ray_task_error_fails_its_cell_only(ray_cluster) -> None:
    results = map_jobs(lambda job: 1 / job, [1, 0, 2], "ray", show_progress=False,
                       on_crash=lambda job, reason: ("crashed", job, reason))
    assert results[0] == 1.0 and results[2] == 0.5
    assert results[1][:2] == ("crashed", 0) and "ZeroDivisionError" in results[1][2]


def test_cuda_sweeps_ask_ray_for_a_gpu_per_job(fake_registered, tmp_path, monkeypatch) -> None:
    import scenarios.sweep as sweep_module

    seen = {}
    monkeypatch.setattr(sweep_module, "map_jobs", lambda *a, **k: seen.update(k) or [])
    sweep(fake.NAME, {}, seeds=1, device="cuda", executor="ray", runs_root=tmp_path, show_progress=False)
    assert seen["gpus_per_job"] == 1.0
    sweep(fake.NAME, {}, seeds=1, device="cpu", executor="ray", runs_root=tmp_path, show_progress=False)
    assert seen["gpus_per_job"] == 0.0
