"""The ``nested_sampling`` scenario end to end (smoke preset): files, table, metrics, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("dynesty")

from scenarios.errors import UsageError
from scenarios.run import execute


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return execute("nested_sampling", preset="smoke", runs_root=root, show_progress=False), root


def test_smoke_writes_table_and_figures(smoke) -> None:
    summary, _ = smoke
    assert summary["status"] == "complete"
    run_dir = summary["run_dir"]
    for name in ("table.md", "runs.csv", "summary.csv", "calls_vs_dim.png", "log_z_error_vs_dim.png",
                 "corner_grid.png", "metrics.jsonl", "config.yaml"):
        assert (Path(run_dir) / name).exists(), name
    rows = summary["table"]
    assert {r["sampler"] for r in rows} == {"ggns-adaptive", "ggns-official", "dynesty-unif"}
    assert {"ln Z error", "reported σ", "actual scatter", "L calls", "∇L calls", "wall s", "decorrelation",
            "warnings"} <= set(rows[0])
    assert {(r["problem"], r["d"]) for r in rows} == {("gaussian", 2), ("rotated-1e3", 3)}
    assert all(r["warnings"].endswith("/2") for r in rows)
    assert all(r["decorrelation"] == "–" for r in rows if r["sampler"].startswith("dynesty"))
    metrics = summary["metrics"]
    assert metrics["ggns_mean_abs_log_z_error"] < 1.5
    assert metrics["corner_ggns_modes_recovered"] >= 0.5
    assert "call_ratio_gaussian_d2" in metrics and "ggns-official_rotated-1e3_d3_log_z_error" in metrics
    assert metrics["ggns_runs_warned"] == 0
    saved = json.loads((Path(run_dir) / "summary.json").read_text())
    assert saved["metrics"] == metrics


def test_same_seed_same_metrics(smoke) -> None:
    first, root = smoke
    again = execute("nested_sampling", preset="smoke", runs_root=root, show_progress=False)
    assert again["metrics"] == first["metrics"]


def test_bad_config_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="n_seeds"):
        execute("nested_sampling", preset="smoke", runs_root=tmp_path, overrides=["n_seeds=1"])
    with pytest.raises(UsageError, match="eggbox"):
        execute("nested_sampling", preset="smoke", runs_root=tmp_path, overrides=["problems=[eggbox]"])
    with pytest.raises(UsageError, match="too small"):
        execute("nested_sampling", preset="smoke", runs_root=tmp_path, overrides=["dims=[40]"])
    with pytest.raises(UsageError, match="cases"):
        execute("nested_sampling", preset="smoke", runs_root=tmp_path, overrides=["cases=[rotated-1e3]"])
    with pytest.raises(UsageError, match="kernel"):
        execute("nested_sampling", preset="smoke", runs_root=tmp_path, overrides=["ggns.kernel=gradns"])
