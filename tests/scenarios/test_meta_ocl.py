"""The ``meta_ocl`` scenario: one smoke run end to end, the gap statistics, a job's determinism, config errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from scenarios.claims import FAILS, HOLDS, INCONCLUSIVE
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.language.meta_ocl import CLAIM, Job, run_job
from scenarios.language.protocol import gap_rows, gap_summary, paired_tests
from scenarios.registry import get_scenario
from scenarios.run import execute


def test_smoke_run_writes_results_table_figures_and_a_verdict(tmp_path) -> None:
    summary = execute("meta_ocl", preset="smoke", runs_root=tmp_path, show_progress=False)
    assert summary["status"] == "complete"
    run_dir = next((tmp_path / "meta_ocl").iterdir())
    assert {"em_by_subset.png", "gap.png"} <= {p.name for p in run_dir.glob("*.png")}
    results = pd.read_csv(run_dir / "results.csv")
    # smoke: α ∈ {1, 0.5} × 2 seeds × 2 stages × the non-empty subsets (α = 1 has no qd1incons/qd2consis)
    per_run = results.groupby(["alpha", "seed", "stage"]).size()
    assert per_run.loc[1.0].tolist() == [6, 6, 6, 6] and per_run.loc[0.5].tolist() == [8, 8, 8, 8]
    assert results["em"].between(0, 1).all() and results.loc[results["primary"], "alpha"].eq(1.0).all()
    assert "d1 − d2 gap" in (run_dir / "table.md").read_text()
    m = summary["metrics"]
    assert all(isinstance(v, float) for v in m.values()) and math.isfinite(m["gap"]) and m["train_tokens_per_s"] > 0
    gaps = pd.read_csv(run_dir / "gaps.csv")
    assert m["gap"] == pytest.approx(gaps.loc[gaps["alpha"] == 1.0, "gap"].mean())
    assert m["env_em_d1consis"] == pytest.approx(m["batched_em_d1consis_seed0"])  # env path = batched path
    overall, verdicts = CLAIM.judge(summary["table"], run_dir)
    assert overall in (HOLDS, FAILS, INCONCLUSIVE) and "paired over 2 seeds" in verdicts[0].evidence


def test_gap_and_paired_tests_against_hand_values() -> None:
    rows = [{"alpha": 1.0, "batch_size": 8, "seed": s, "stage": 2, "subset": k, "em": em, "stage2_seed": r}
            for s, (d1, d2) in enumerate([(0.6, 0.5), (0.7, 0.5), (0.9, 0.6)])
            for k, em in [("d1consis", d1), ("d2consis", d2), ("d3consis", 0.5)] for r in (0, 1)]
    rows.append({"alpha": 1.0, "batch_size": 8, "seed": 0, "stage": 1, "subset": "d1consis", "em": 0.0,
                 "stage2_seed": -1})  # a stage-1 row never enters the gap
    gaps = gap_rows(pd.DataFrame(rows))
    assert gaps["gap"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    # t = 0.2 / (0.1 / √3) = 3.4641 with 2 df: one-sided p = 0.03709; Wilcoxon exact two-sided p = 2/8 = 0.25
    t_p, w_p = paired_tests(gaps["gap"].to_numpy())
    assert t_p == pytest.approx(0.03709, abs=1e-4) and w_p == pytest.approx(0.25)
    (row,) = gap_summary(gaps)
    assert row["d1 − d2 gap"] == "+0.200 ± 0.248" and row["n"] == 3  # t_{0.975,2} · 0.1 / √3 = 0.2484
    assert all(math.isnan(p) for p in paired_tests(np.array([0.1, 0.1, 0.1])))


def test_a_job_is_deterministic_and_a_full_batch_takes_one_step_per_epoch() -> None:
    cfg = build_config(get_scenario("meta_ocl"), "smoke", ["data.num_x=40", "train.epochs_stage1=2"])
    job = Job(cfg, alpha=1.0, batch_size=10**6, seed_index=0, seed=11, stage2_seeds=(5,), device="cpu",
              env_check=False)
    a, b = run_job(job), run_job(job)
    losses = [t["final_loss"] for t in a["training"]]
    assert a["rows"] == b["rows"] and losses == [t["final_loss"] for t in b["training"]]
    assert [entry["epoch"] for entry in a["log"]] == [1, 2, 1]  # 2 stage-1 epochs, 1 stage-2 epoch
    stage1 = a["training"][0]
    assert stage1["sequences"] == 12 * 28 + 24  # 28 QA entities × 12 train questions + 24 qd* definitions
    other = run_job(dataclasses.replace(job, seed=12))  # another curriculum and initialisation
    assert other["training"][0]["final_loss"] != stage1["final_loss"]


@pytest.mark.parametrize("override", ["data.tag1=0.5", "data.n_questions=10", "alphas=[1.5]", "batch_sizes=[0]",
                                      "n_seeds=1", "executor=slurm", "data.var_tokens=bpe", "model.heads=3",
                                      "data.d2=0", "train.loss_on=question", "data.n_nums=200"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("meta_ocl"), "smoke", [override])


def test_presets_build() -> None:
    scenario = get_scenario("meta_ocl")
    cfg = build_config(scenario, "paper")
    assert cfg.data.num_x == 8000 and cfg.model.width == 512 and cfg.n_stage2_seeds == 3
    assert build_config(scenario, "alpha_sweep").alphas == [1.0, 0.75, 0.5]
    assert build_config(scenario, "cpu").n_seeds >= 10
