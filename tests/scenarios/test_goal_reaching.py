"""The ``goal_reaching`` scenario end to end on its smoke preset."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.goals import goal_reaching as gr
from scenarios.registry import get_scenario
from scenarios.run import execute
from scenarios.rundir import RunContext

NAME = "goal_reaching"

AGENTS = ("merlin", "merlin_p", "merlin_np", "gcsl", "wgcsl", "gcbc")


def test_smoke_run_writes_table_and_figures(tmp_path) -> None:
    summary = execute("goal_reaching", preset="smoke", runs_root=tmp_path, show_progress=False)
    assert summary["status"] == "complete"
    run_dir = tmp_path / "goal_reaching" / summary["run_dir"].split("/")[-1]
    for name in ("table.md", "results.csv", "bars.png", "four_rooms_trajectories.png", "test_horizon.png",
                 "dataset_point_rooms_random.npz", "metrics.jsonl"):
        assert (run_dir / name).stat().st_size > 0, name
    cfg = build_config(get_scenario("goal_reaching"), "smoke")
    rows = summary["table"]
    assert len(rows) == len(cfg.tasks) * len(cfg.datasets) * len(AGENTS)
    assert {r["agent"] for r in rows} == set(AGENTS) and all(r["n"] == cfg.n_seeds for r in rows)
    assert all(" ± " in r["success"] and " ± " in r["return"] for r in rows)
    table = (run_dir / "table.md").read_text()
    assert "| point_rooms | random | merlin |" in table and "best baseline" in table
    assert "Merlin ≥ WGCSL > GCSL > GCBC" in table and "merlin ≥ wgcsl" in table
    metrics = summary["metrics"]
    for agent in AGENTS:
        value = metrics[f"point_rooms/expert/{agent}/success"]
        assert 0.0 <= value <= 1.0
    assert 0.0 <= metrics["merlin_mean_return"] <= (1 - 0.98**50) / 0.02
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["agent"] for r in records} == set(AGENTS) and all(math.isfinite(r["policy_loss"]) for r in records)


def test_executors_agree_and_a_killed_run_resumes_from_its_finished_jobs(tmp_path, monkeypatch) -> None:
    overrides = ["tasks=[point_reach]", "agents=[merlin,wgcsl]", "datasets=[random]", "test_horizons=[1]"]
    runs = {ex: execute(NAME, preset="smoke", overrides=[*overrides, f"executor={ex}"], runs_root=tmp_path / ex,
                        show_progress=False) for ex in ("serial", "process")}
    assert runs["serial"]["metrics"] == runs["process"]["metrics"]  # seeded per job: not by executor or order
    frames = {ex: pd.read_csv(next((tmp_path / ex / NAME).iterdir()) / "results.csv") for ex in runs}
    pd.testing.assert_frame_equal(frames["serial"].drop(columns="train_s"), frames["process"].drop(columns="train_s"))

    # a run killed after its first job: keep only that job in the checkpoint, resume, only the other runs again
    run_dir = next((tmp_path / "serial" / NAME).iterdir())
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert list(saved["state"]["done"]) == ["point_reach/random/0", "point_reach/random/1"]
    kept = {"point_reach/random/0": saved["state"]["done"]["point_reach/random/0"]}
    torch.save({"state": {"done": kept}, "metric_lines": 0}, run_dir / "checkpoint.pt")
    ran: list[str] = []
    original = gr.run_job

    def counting(job: gr.Job) -> dict:
        ran.append(job.key)
        return original(job)

    monkeypatch.setattr(gr, "run_job", counting)
    ctx = RunContext(NAME, "smoke", 0, "cpu", run_dir, show_progress=False, resumed=True)
    try:
        result = gr.run(build_config(get_scenario(NAME), "smoke", [*overrides, "executor=serial"]), ctx)
    finally:
        ctx.close()
    assert ran == ["point_reach/random/1"]
    assert result.metrics == runs["serial"]["metrics"]


def test_bad_configs_are_usage_errors() -> None:
    scenario = get_scenario("goal_reaching")
    for override, message in (("agents=[merlin,dqn]", "agents"), ("tasks=[maze]", "no settings"),
                              ("n_seeds=1", "n_seeds"), ("learner.p_her=2.0", "p_her"),
                              ("eval_every=0", "eval_every"), ("executor=threads", "executor"),
                              ("workers=0", "workers")):
        with pytest.raises(UsageError, match=message):
            build_config(scenario, "smoke", [override])
    paper = build_config(scenario, "paper")  # constructed, not run
    assert paper.updates == 500_000 and paper.learner.hidden == [256, 256, 256] and paper.learner.batch_size == 512
    assert paper.n_seeds >= 5 and paper.data.n_trajectories == 2000
    assert paper.wgcsl.polyak == 0.9 and paper.wgcsl.baw_delta == 0.15 and paper.reverse.gru_hidden == 256
    assert paper.settings["reacher"].wgcsl_target_every == 10
