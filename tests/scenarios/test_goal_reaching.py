"""The ``goal_reaching`` scenario end to end on its smoke preset."""

from __future__ import annotations

import json
import math

import pytest

from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.run import execute

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


def test_same_seed_same_metrics(tmp_path) -> None:
    overrides = ["tasks=[point_reach]", "agents=[merlin,wgcsl]", "datasets=[random]", "test_horizons=[1]"]
    runs = [execute("goal_reaching", preset="smoke", overrides=overrides, runs_root=tmp_path / str(i),
                    show_progress=False) for i in range(2)]
    assert runs[0]["metrics"] == runs[1]["metrics"]


def test_bad_configs_are_usage_errors() -> None:
    scenario = get_scenario("goal_reaching")
    for override, message in (("agents=[merlin,dqn]", "agents"), ("tasks=[maze]", "no settings"),
                              ("n_seeds=1", "n_seeds"), ("learner.p_her=2.0", "p_her"),
                              ("eval_every=0", "eval_every")):
        with pytest.raises(UsageError, match=message):
            build_config(scenario, "smoke", [override])
    paper = build_config(scenario, "paper")  # constructed, not run
    assert paper.updates == 500_000 and paper.learner.hidden == [256, 256, 256] and paper.learner.batch_size == 512
    assert paper.n_seeds >= 5 and paper.data.n_trajectories == 2000
    assert paper.wgcsl.polyak == 0.9 and paper.wgcsl.baw_delta == 0.15 and paper.reverse.gru_hidden == 256
    assert paper.settings["reacher"].wgcsl_target_every == 10
