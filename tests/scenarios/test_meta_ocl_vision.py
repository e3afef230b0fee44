"""The ``meta_ocl_vision`` scenario: a smoke run end to end, a job's determinism, presets and config errors."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from scenarios.claims import FAILS, HOLDS, INCONCLUSIVE
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.language.meta_ocl_vision import CLAIM, Job, curriculum, run_job
from scenarios.registry import get_scenario
from scenarios.run import execute

NAME = "meta_ocl_vision"


def test_smoke_run_writes_results_table_figures_and_a_verdict(tmp_path) -> None:
    summary = execute(NAME, preset="smoke", runs_root=tmp_path, show_progress=False)
    assert summary["status"] == "complete"
    run_dir = next((tmp_path / NAME).iterdir())
    assert {"em_by_subset.png", "gap.png"} <= {p.name for p in run_dir.glob("*.png")}
    assert all((run_dir / p).stat().st_size > 1000 for p in ("em_by_subset.png", "gap.png"))
    results = pd.read_csv(run_dir / "results.csv")
    # smoke: α ∈ {1, 0.5} × 2 seeds × 2 stages × the non-empty subsets (α = 1 has no qd1incons/qd2consis)
    per_run = results.groupby(["alpha", "seed", "stage"]).size()
    assert per_run.loc[1.0].tolist() == [6, 6, 6, 6] and per_run.loc[0.5].tolist() == [8, 8, 8, 8]
    assert results["em"].between(0, 1).all() and results.loc[results["primary"], "alpha"].eq(1.0).all()
    table = (run_dir / "table.md").read_text()
    assert "d1 − d2 gap" in table and "± " in table and "chance = 0.1" in table
    diagnostics = pd.read_csv(run_dir / "diagnostics.csv")
    assert {"knowledge", "trained_qa", "definition", "digit", "majority_baseline"} <= set(diagnostics["measure"])
    training = pd.read_csv(run_dir / "training.csv")
    assert training.groupby("alpha")["stage"].apply(sorted).loc[1.0] == [0, 0, 1, 1, 2, 2]
    m = summary["metrics"]
    assert all(isinstance(v, float) for v in m.values()) and math.isfinite(m["gap"])
    gaps = pd.read_csv(run_dir / "gaps.csv")
    assert m["gap"] == pytest.approx(gaps.loc[gaps["alpha"] == 1.0, "gap"].mean())
    assert 0.1 < m["majority_baseline"] < 0.6 and m["train_examples_per_s"] > 0
    overall, verdicts = CLAIM.judge(summary["table"], run_dir)
    assert overall in (HOLDS, FAILS, INCONCLUSIVE) and "paired over 2 seeds" in verdicts[0].evidence


def test_a_job_is_deterministic_and_evaluates_with_heldout_images() -> None:
    cfg = build_config(get_scenario(NAME), "smoke", ["data.n_entities=40", "train.epochs_stage1=2"])
    job = Job(cfg, alpha=1.0, batch_size=10**6, seed_index=0, seed=11, stage2_seeds=(5,), device="cpu")
    a, b = run_job(job), run_job(job)
    assert a["rows"] == b["rows"] and a["diagnostics"] == b["diagnostics"]
    assert [t["final_loss"] for t in a["training"]] == [t["final_loss"] for t in b["training"]]
    assert [(e["stage"], e["epoch"]) for e in a["log"]] == [(0, 1), (1, 1), (1, 2), (2, 1)]
    world = curriculum(cfg, 1.0, 11, 5)
    stage1 = a["training"][1]
    assert stage1["examples"] == len(world.stage1) and stage1["steps"] == 2  # full batch: one step per epoch
    assert {r["n_questions"] for r in a["rows"] if r["subset"] == "d1consis"} == {len(world.eval["d1consis"])}
    other = run_job(dataclasses.replace(job, seed=12))  # another world and initialisation
    assert other["training"][1]["final_loss"] != stage1["final_loss"]


@pytest.mark.parametrize("override", ["data.tag1=0.5", "data.n_heldout=4", "alphas=[1.5]", "batch_sizes=[0]",
                                      "n_seeds=1", "executor=slurm", "data.slot=middle", "model.heads=3",
                                      "data.d2=0", "model.route=loop", "data.n_entities=1001",
                                      "data.var_length=1", "data.n_entities=25"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario(NAME), "smoke", [override, *(["alphas=[0.9]"] if "=25" in override else [])])


def test_presets_build() -> None:
    scenario = get_scenario(NAME)
    cpu = build_config(scenario, "cpu")
    assert cpu.n_seeds >= 10 and cpu.executor == "process" and cpu.workers == 2 and cpu.alphas == [1.0]
    assert build_config(scenario, "smoke").executor == "serial"
    assert build_config(scenario, "alpha_sweep").alphas == [1.0, 0.75, 0.5]
    assert build_config(scenario, "paper").n_stage2_seeds == 3
