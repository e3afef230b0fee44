"""The ``tpp_forecasting`` scenario: smoke run end to end, determinism, a user data file, config errors."""

from __future__ import annotations

import math
import pickle

import pandas as pd
import pytest

from envs.events import HawkesProcess, save_hypro_pickle, synthetic_hawkes_dataset
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.run import execute

NAME = "tpp_forecasting"
MODELS = {"cdiff", "cdiff_recast", "iftpp", "hawkes_mle", "oracle"}



@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return execute(NAME, preset="smoke", runs_root=root, show_progress=False)


def test_smoke_run_writes_table_figures_and_summary(smoke) -> None:
    from pathlib import Path

    assert smoke["status"] == "complete"
    run_dir = Path(smoke["run_dir"])
    assert {"otd_vs_n.png", "otd_per_event_vs_n.png", "count_rmse_vs_n.png"} <= {p.name for p in run_dir.glob("*.png")}
    results = pd.read_csv(run_dir / "results.csv")
    assert len(results) == 2 * 2 * len(MODELS)  # seeds × horizons × models
    assert set(results.model) == MODELS and set(results.N) == {2, 4}
    assert (results[["otd", "count_rmse", "dt_rmse", "dt_smape"]] >= 0).all().all()
    assert {(r["N"], r["model"]) for r in smoke["table"]} == {(n, m) for n in (2, 4) for m in MODELS}
    assert all("±" in r["otd"] for r in smoke["table"])
    text = (run_dir / "table.md").read_text()
    assert "OTD gap IFTPP − CDiff" in text and "hawkes_mle" in text
    m = smoke["metrics"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert {"cdiff_otd_N4", "iftpp_otd_max_N", "otd_gap_iftpp_minus_cdiff_N4", "claim_gap_grows_with_N"} <= set(m)
    assert m["otd_gap_iftpp_minus_cdiff_N4"] == pytest.approx(m["iftpp_otd_N4"] - m["cdiff_otd_N4"])


def test_same_seed_same_metrics(smoke, tmp_path) -> None:
    again = execute(NAME, preset="smoke", runs_root=tmp_path, show_progress=False)
    assert again["metrics"] == smoke["metrics"]


def test_runs_on_a_user_data_file(tmp_path) -> None:
    process = HawkesProcess([0.4, 0.3], [[0.3, 0.1], [0.2, 0.3]], 1.0)
    data = synthetic_hawkes_dataset(process, {"train": 20, "dev": 4, "test": 6}, 8, 10, seed=1)
    path = save_hypro_pickle(tmp_path / "mine.pkl", data)
    summary = execute(NAME, preset="smoke", runs_root=tmp_path, show_progress=False,
                      overrides=[f"data.path={path}", "horizons=[3]"])
    assert summary["status"] == "complete"
    assert {r["model"] for r in summary["table"]} == MODELS - {"oracle"}  # no true process for a file
    assert all(r["n"] == 2 for r in summary["table"])


def test_bad_data_file_is_a_usage_error_naming_the_position(tmp_path) -> None:
    path = tmp_path / "broken.pkl"
    seq = [{"time_since_start": t, "time_since_last_event": 0.1, "type_event": 0} for t in (1.0, 2.0, 1.5)]
    path.write_bytes(pickle.dumps({"dim_process": 2, "train": [seq]}))
    with pytest.raises(UsageError, match=r"broken\.pkl: split 'train', sequence 0, event 2"):
        build_config(get_scenario(NAME), "smoke", [f"data.path={path}"])


@pytest.mark.parametrize("override", ["models=[cdiff,nope]", "n_seeds=1", "horizons=[0]", "horizons=[20]",
                                      "data.hawkes.alpha=[[0.9,0.5,0.0],[0.0,0.9,0.3],[0.2,0.0,0.9]]",
                                      "cdiff.condition_on=both", "data.split_fractions=[0.5,0.5,0.5]"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario(NAME), "smoke", [override])


def test_paper_preset_constructs() -> None:
    cfg = build_config(get_scenario(NAME), "paper")
    assert cfg.cdiff.n_steps == 200 and cfg.n_samples == 7 and cfg.horizons == [5, 10, 20]
    assert cfg.data.max_history is None and cfg.n_seeds >= 5


def test_taobao_protocol_configs() -> None:
    from scenarios.events.tpp_forecasting import TAOBAO_CPU, TAOBAO_PAPER, cdiff_config, data_source

    cfg = build_config(get_scenario(NAME), "cpu", TAOBAO_CPU)
    assert cfg.horizons == [20] and cfg.n_seeds >= 3 and cfg.data.drop_first_event and cfg.data.max_history is None
    assert data_source(cfg.data).endswith("envs/events/data/taobao")
    paper = cdiff_config(cfg, "cdiff")  # the headline: the original's schedule at T = 200, Taobao's Box-Cox
    assert (paper.n_steps, paper.time_schedule, paper.condition_on, paper.horizon_mask, paper.clip_x0) == (
        200, "linear_original", "clean", "causal", 0.0)
    assert (paper.boxcox_scale_power, paper.boxcox_cutoff) == (5.5, 0.5)
    recast = cdiff_config(cfg, "cdiff_recast")
    assert (recast.time_schedule, recast.condition_on, recast.horizon_mask) == ("linear", "noisy", "none")
    synthetic = build_config(get_scenario(NAME), "cpu")
    assert cdiff_config(synthetic, "cdiff").boxcox_scale_power == 2.0 and synthetic.cdiff.n_steps == 200
    user = build_config(get_scenario(NAME), "smoke", [f"data.path={data_source(cfg.data)}/dev.pkl.gz"])
    assert (cdiff_config(user, "cdiff").boxcox_scale_power, cdiff_config(user, "cdiff").boxcox_cutoff) == (5.0, None)
    full = build_config(get_scenario(NAME), "paper", TAOBAO_PAPER)  # exp.sh: 500 epochs of 2 batches of 2048
    assert (full.cdiff.train_steps, full.cdiff.batch_size, full.cdiff.lr, full.cdiff.lr_schedule) == (
        1000, 2048, 5e-4, "cosine_cyclic")
    assert full.n_samples == 7 and full.n_seeds == 5
    with pytest.raises(UsageError):
        build_config(get_scenario(NAME), "smoke", ["data.name=amazon"])


def test_taobao_runs_end_to_end(tmp_path) -> None:
    from pathlib import Path

    from scenarios.events.tpp_forecasting import TAOBAO

    summary = execute(NAME, preset="smoke", runs_root=tmp_path, show_progress=False,
                      overrides=[*TAOBAO, "data.max_sequences=6", "n_seeds=2", "n_samples=1"])
    assert summary["status"] == "complete"
    assert {r["model"] for r in summary["table"]} == {"cdiff", "cdiff_recast", "iftpp", "hawkes_mle"}
    text = (Path(summary["run_dir"]) / "table.md").read_text()
    assert "| CDiff | 44.621 | 2.653 | 0.551 | 125.69 |" in text  # the paper's numbers quoted beside ours


def test_named_taobao_presets_are_the_real_data_protocol() -> None:
    from scenarios.config import build_config
    from scenarios.errors import UsageError
    from scenarios.registry import get_scenario

    scenario = get_scenario("tpp_forecasting")
    cpu, paper = build_config(scenario, "taobao"), build_config(scenario, "taobao_paper")
    assert (cpu.data.name, cpu.horizons, cpu.data.max_history, cpu.n_seeds) == ("taobao", [20], None, 3)
    assert (paper.n_seeds, paper.n_samples, paper.cdiff.train_steps, paper.cdiff.batch_size) == (5, 7, 1000, 2048)
    with pytest.raises(UsageError, match="choose one of: smoke, cpu, paper, taobao, taobao_paper"):
        build_config(scenario, "taobao_gpu")
    with pytest.raises(UsageError, match="for scenario 'sharpness'; choose one of: smoke, cpu, paper$"):
        build_config(get_scenario("sharpness"), "taobao")
