"""The ``nested_sampling`` scenario end to end (smoke preset): files, table, metrics, determinism, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
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


def test_claim_reads_the_runs_csv_cell_it_names(tmp_path) -> None:
    """The declared claim is decided on the d = 32 Gaussian replicates of runs.csv, paired by replicate."""
    from scenarios.claims import FAILS, HOLDS
    from scenarios.inference.nested_sampling import CLAIM

    rows = []
    for r in range(4):
        for method, calls, err in (("ggns-adaptive", 1.7e5 + 1e3 * r, 0.3 + 0.1 * r),
                                   ("dynesty-rslice", 1.2e6 + 1e4 * r, 1.0 + 0.05 * r)):
            rows.append({"problem": "gaussian", "dim": 32, "method": method, "replicate": r, "seed": 100 + r,
                         "calls": calls, "abs_log_z_error": err})
            # another cell where dynesty wins must not leak into the verdict
            rows.append({"problem": "shells", "dim": 32, "method": method, "replicate": r, "seed": 200 + r,
                         "calls": 1e9 if method.startswith("ggns") else 1.0, "abs_log_z_error": 9.0})
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    overall, verdicts = CLAIM.judge([], tmp_path)
    assert overall == HOLDS, verdicts
    assert all("paired over 4 seeds" in v.evidence for v in verdicts)

    worse = pd.DataFrame(rows)
    worse.loc[(worse["method"] == "ggns-adaptive") & (worse["problem"] == "gaussian"), "abs_log_z_error"] = 2.0
    worse.to_csv(tmp_path / "runs.csv", index=False)  # GGNS 2.0 vs dynesty ~1.07: more than 0.5 nats worse
    overall, verdicts = CLAIM.judge([], tmp_path)
    assert overall == FAILS and verdicts[1].verdict == FAILS
