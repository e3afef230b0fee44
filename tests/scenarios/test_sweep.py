"""Sweeps: grid × seeds with the serial, process and Ray executors; failing cells; results and aggregates."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import fake_scenarios as fake
import pandas as pd
import pytest

from scenarios import registry
from scenarios.executors import map_jobs
from scenarios.seeding import SeedFlow
from scenarios.stats import mean_ci
from scenarios.sweep import SweepInterrupted, parse_grid, sweep
from scenarios.sweep import main as sweep_main

SR = "misinformation_single_round"
KEY = "game.misinformation_accuracy"
GRID = [f"{KEY}=0.6,0.9"]
FIXED = ["accuracies=[0.9]"]  # applied to every cell: keeps each run short
MAIN = registry.get_scenario(SR).main_metric
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _single_round_sweep(root: Path, executor: str) -> Path:
    return sweep(SR, parse_grid(GRID), seeds=2, preset="smoke", executor=executor, fixed=FIXED,
                 runs_root=root, show_progress=False)


def _same_results(a: Path, b: Path) -> None:
    """Two sweeps of the same grid and seeds: the same rows in the same (job) order, the same metrics."""
    ra, rb = pd.read_csv(a / "results.csv"), pd.read_csv(b / "results.csv")
    assert MAIN in ra.columns and len(ra) == 4
    cols = [c for c in ra.columns if c not in ("run_dir", "duration_s")]
    pd.testing.assert_frame_equal(ra[cols], rb[cols])
    pd.testing.assert_frame_equal(pd.read_csv(a / "aggregate.csv"), pd.read_csv(b / "aggregate.csv"))


@pytest.fixture
def fake_registered(monkeypatch):
    monkeypatch.setitem(registry.SCENARIO_MODULES, fake.NAME, fake.MODULE)
    return fake.NAME


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory) -> Path:
    return _single_round_sweep(tmp_path_factory.mktemp("serial"), "serial")


# --- serial -----------------------------------------------------------------------------------------------


def test_serial_sweep_writes_results_aggregate_and_figure(serial_sweep: Path) -> None:
    out = serial_sweep
    assert out.parent.parent.name == "sweeps" and out.parent.name == SR
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4  # 2 cells × 2 seeds
    assert {KEY, "seed", "status", "error", "run_dir", "duration_s", MAIN} <= set(results.columns)
    assert (results["status"] == "complete").all()
    assert results["error"].isna().all()
    seeds = SeedFlow(0).replicates(2, "sweep")
    assert results[KEY].tolist() == [0.6, 0.6, 0.9, 0.9] and results["seed"].tolist() == seeds * 2

    # each job ran with its cell's value (and the fixed override) in its own run directory
    for _, row in results.iterrows():
        summary = json.loads((Path(row["run_dir"]) / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["seed"] == row["seed"]
        assert summary["config"]["game"]["misinformation_accuracy"] == row[KEY]
        assert summary["config"]["accuracies"] == [0.9] and summary["preset"] == "smoke"
        assert summary["metrics"][MAIN] == pytest.approx(row[MAIN])

    agg = pd.read_csv(out / "aggregate.csv")
    assert len(agg) == 2 and agg[KEY].tolist() == [0.6, 0.9] and agg["n"].tolist() == [2, 2]
    metrics = [c for c in results.columns if c not in {KEY, "seed", "status", "error", "run_dir", "duration_s"}]
    assert MAIN in metrics
    for metric in metrics:  # every numeric metric of the jobs, each with its three columns
        assert {f"{metric}_mean", f"{metric}_std", f"{metric}_ci95"} <= set(agg.columns)
    for _, row in agg.iterrows():
        values = results.loc[results[KEY] == row[KEY], MAIN]
        mean, half = mean_ci(values)
        assert row[f"{MAIN}_mean"] == pytest.approx(mean)
        assert row[f"{MAIN}_ci95"] == pytest.approx(half)
        assert row[f"{MAIN}_std"] == pytest.approx(values.std(ddof=1))
    assert not any(c.startswith(("seed_", "duration_s_")) for c in agg.columns)

    png = out / f"{MAIN}_vs_{KEY}.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000

    meta = json.loads((out / "sweep.json").read_text())
    assert meta["n_jobs"] == 4 and meta["seeds"] == seeds and meta["grid"] == {KEY: ["0.6", "0.9"]}


def test_failing_cell_is_recorded_and_the_others_complete(fake_registered, tmp_path) -> None:
    out = sweep(fake_registered, parse_grid(["mode=ok,crash,bad_result"]), seeds=2, preset="smoke",
                runs_root=tmp_path, show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 6 and results["mode"].tolist() == ["ok", "ok", "crash", "crash", "bad_result", "bad_result"]
    ok, crash, bad = (results[results["mode"] == m] for m in ("ok", "crash", "bad_result"))
    assert (ok["status"] == "complete").all() and ok["error"].isna().all() and ok["value"].notna().all()
    assert (crash["status"] == "failed").all() and crash["value"].isna().all()
    assert crash["error"].str.startswith("RuntimeError: boom").all()
    assert (bad["status"] == "failed").all() and bad["error"].notna().all()
    for run_dir in crash["run_dir"]:
        assert json.loads((Path(run_dir) / "summary.json").read_text())["status"] == "failed"
        assert "RuntimeError" in (Path(run_dir) / "error.txt").read_text()
    agg = pd.read_csv(out / "aggregate.csv")
    assert agg["mode"].tolist() == ["ok"] and agg["n"].tolist() == [2]  # failed jobs are not averaged
    assert (out / "value_vs_mode.png").exists()


def test_sweep_where_every_job_fails_still_writes_results(fake_registered, tmp_path) -> None:
    out = sweep(fake_registered, parse_grid(["mode=crash,bad_result"]), seeds=1, runs_root=tmp_path,
                show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert results["status"].tolist() == ["failed", "failed"]
    assert results["error"].str.split(":").str[0].tolist()[0] == "RuntimeError"
    assert not (out / "aggregate.csv").exists() and not list(out.glob("*.png"))
    assert json.loads((out / "sweep.json").read_text())["status"] == "failed"  # every job failed


def test_ctrl_c_stops_the_sweep_and_keeps_finished_jobs(fake_registered, tmp_path) -> None:
    with pytest.raises(SweepInterrupted) as caught:
        sweep(fake_registered, parse_grid(["mode=crash,interrupt,ok"]), seeds=1, runs_root=tmp_path,
              show_progress=False)
    out = caught.value.out
    results = pd.read_csv(out / "results.csv")
    # every job has a row: the interrupted one labelled, the one after it never started
    assert results["status"].tolist() == ["failed", "interrupted", "cancelled"]
    assert not Path(results["run_dir"][2]).exists()
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["status"] == "interrupted" and spec["n_finished"] == 1
    assert spec["counts"] == {"failed": 1, "interrupted": 1, "cancelled": 1}


def test_sweep_cli_reports_failed_jobs_and_exits_0(fake_registered, tmp_path, capsys) -> None:
    code = sweep_main([fake_registered, "--preset", "smoke", "--grid", "mode=ok,crash", "--seeds", "2",
                       "--out", str(tmp_path), "--no-progress", "steps=3"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.strip() == "2 job(s) did not complete; see results.csv"
    out = Path(captured.out.rsplit("sweep directory: ", 1)[1].strip())
    results = pd.read_csv(out / "results.csv")
    assert results["status"].tolist() == ["complete", "complete", "failed", "failed"]
    assert "value_mean" in captured.out and "ok" in captured.out  # the aggregate table
    for run_dir in results["run_dir"]:  # the fixed override reached every job
        assert json.loads((Path(run_dir) / "summary.json").read_text())["config"]["steps"] == 3


def test_list_valued_and_two_key_grids(fake_registered, tmp_path) -> None:
    out = sweep(fake_registered, parse_grid(["weights=[1.0],[2.0,3.0]", "inner.gain=1,2"]), seeds=1,
                preset="smoke", runs_root=tmp_path, show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert (results["status"] == "complete").all() and len(results) == 4
    agg = pd.read_csv(out / "aggregate.csv")
    assert agg[["weights", "inner.gain"]].values.tolist() == [["[1.0]", 1], ["[1.0]", 2], ["[2.0,3.0]", 1],
                                                              ["[2.0,3.0]", 2]]
    # value = gain · Σ weights + noise(seed); one seed, so the noise is shared
    values = agg["value_mean"].tolist()
    assert values[3] - values[0] == pytest.approx(2 * 5.0 - 1.0)
    assert (out / "value_vs_weights.png").exists()


def test_non_finite_metrics_are_aggregated_not_dropped(fake_registered, tmp_path) -> None:
    # summary.json stores NaN as null; the sweep must still treat the metric as a number
    out = sweep(fake_registered, parse_grid(["steps=1,3"]), seeds=2, runs_root=str(tmp_path), show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert results["sometimes_nan"].isna().tolist() == [True, True, False, False]
    agg = pd.read_csv(out / "aggregate.csv")
    assert {"sometimes_nan_mean", "sometimes_nan_ci95", "undefined_mean"} <= set(agg.columns)
    assert math.isnan(agg["sometimes_nan_mean"][0]) and agg["sometimes_nan_mean"][1] == 3.0
    assert agg["value_mean"].notna().all()


def test_sweep_without_grid_runs_the_seeds(fake_registered, tmp_path) -> None:
    out = sweep(fake_registered, {}, seeds=3, preset="smoke", runs_root=tmp_path, show_progress=False)
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 3 and (results["status"] == "complete").all()
    assert pd.read_csv(out / "aggregate.csv")["n"].tolist() == [3]


# --- process ----------------------------------------------------------------------------------------------


def test_process_executor_uses_two_workers_in_order(tmp_path) -> None:
    jobs = [(i, str(tmp_path)) for i in range(6)]
    results = map_jobs(fake.worker_pid, jobs, "process", max_workers=2, show_progress=False)
    assert [job for job, _ in results] == list(range(6))
    pids = {pid for _, pid in results}
    assert len(pids) == 2 and os.getpid() not in pids


def test_process_sweep_from_the_command_line(serial_sweep: Path, tmp_path, capsys) -> None:
    # in-process main(): the worker processes fork from this one, so they start warm
    code = sweep_main([SR, "--preset", "smoke", "--grid", GRID[0], "--seeds", "2", "--executor", "process",
                       "--out", str(tmp_path), "--no-progress", *FIXED])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    out = Path(captured.out.rsplit("sweep directory: ", 1)[1].strip())
    assert json.loads((out / "sweep.json").read_text())["executor"] == "process"
    _same_results(serial_sweep, out)
    assert (out / f"{MAIN}_vs_{KEY}.png").exists()


# --- ray --------------------------------------------------------------------------------------------------


@pytest.mark.ray
def test_ray_sweep_on_a_local_cluster(ray_cluster, serial_sweep: Path, tmp_path) -> None:
    out = _single_round_sweep(tmp_path, "ray")
    _same_results(serial_sweep, out)
    assert (out / f"{MAIN}_vs_{KEY}.png").exists()
    assert ray_cluster.is_initialized()  # the executor leaves a cluster it did not start running


@pytest.mark.ray
def test_ray_results_come_back_in_job_order(ray_cluster) -> None:
    # the first jobs take longest, so they finish last
    results = map_jobs(lambda job: (time.sleep(0.3 * (3 - job)), job)[1], [0, 1, 2, 3], "ray", show_progress=False)
    assert results == [0, 1, 2, 3]
