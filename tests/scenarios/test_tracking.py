"""``--tracker``: TensorBoard (and MLflow where installed) mirror metrics.jsonl and the final summary."""

from __future__ import annotations

import json
from pathlib import Path

import fake_scenarios as fake
import pytest

from scenarios import registry
from scenarios.run import execute, main
from scenarios.tracking import flatten, scalars


@pytest.fixture
def fake_registered(monkeypatch):
    monkeypatch.setitem(registry.SCENARIO_MODULES, fake.NAME, fake.MODULE)
    return fake.NAME


def test_records_become_tagged_stepped_scalars() -> None:
    prefix, step, values = scalars({"method": "clip", "step": 7, "loss": 0.5, "ok": True, "bad": float("nan")})
    assert (prefix, step, values) == ("method=clip", 7, {"loss": 0.5})
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"}) == {"a.b": 1, "a.c": "[1, 2]", "d": "x"}


def test_tensorboard_mirrors_metrics_jsonl_and_the_final_summary(fake_registered, tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = execute(fake.NAME, preset="smoke", overrides=["steps=5"], runs_root=tmp_path, show_progress=False,
                  tracker="tensorboard")
    run_dir = Path(out["run_dir"])
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    draws = [(e.step, e.value) for e in events.Scalars("mode=ok/draw")]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [s for s, _ in draws] == [r["step"] for r in records]
    assert [v for _, v in draws] == pytest.approx([r["draw"] for r in records], rel=1e-6)  # float32 events
    assert events.Scalars("final/value")[0].value == pytest.approx(out["metrics"]["value"])


def test_unknown_tracker_is_one_line_exit_2(fake_registered, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main([fake.NAME, "--tracker", "wandb", "--out", str(tmp_path)])
    assert caught.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_mlflow_mirrors_the_run_where_installed(fake_registered, tmp_path, monkeypatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    out = execute(fake.NAME, preset="smoke", overrides=["steps=3"], runs_root=tmp_path / "runs",
                  show_progress=False, tracker="mlflow")
    runs = mlflow.search_runs(experiment_names=[fake.NAME], output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["final/value"] == pytest.approx(out["metrics"]["value"])
    assert runs[0].data.params["steps"] == "3"
