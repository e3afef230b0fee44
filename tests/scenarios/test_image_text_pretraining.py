"""The ``image_text_pretraining`` scenario end to end (smoke preset): outputs, determinism, bad config."""

from __future__ import annotations

import math

import pytest

from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.run import execute

NAME = "image_text_pretraining"


def test_smoke_run_writes_table_and_figures_deterministically(tmp_path) -> None:
    first = execute(NAME, preset="smoke", runs_root=tmp_path / "a", show_progress=False)
    assert first["status"] == "complete"
    assert [row["method"] for row in first["table"]] == ["clip", "siglip", "sparc"]
    assert all("±" in row["grounding_miou"] and row["n"] == 2 for row in first["table"])
    run_dir = tmp_path / "a" / NAME
    (run_dir,) = list(run_dir.iterdir())
    for name in ("table.md", "results.csv", "curves.csv", "grounding_heatmaps.png", "metrics.png",
                 "training_curves.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert "sparc" in (run_dir / "table.md").read_text()
    metrics = first["metrics"]
    assert all(math.isfinite(v) for k, v in metrics.items() if not k.endswith("binding_acc"))
    assert 0 <= metrics["sparc_grounding_miou"] <= 1 and "sparc_minus_clip_grounding_miou" in metrics
    second = execute(NAME, preset="smoke", runs_root=tmp_path / "b", show_progress=False)
    assert second["metrics"] == first["metrics"]


def test_bad_config_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="methods"):
        execute(NAME, preset="smoke", overrides=["methods=[clip,filip]"], runs_root=tmp_path)
    with pytest.raises(UsageError, match="multiple of patch_size"):
        execute(NAME, preset="smoke", overrides=["world.image_size=30"], runs_root=tmp_path)


def test_paper_preset_constructs_at_paper_scale() -> None:
    cfg = build_config(get_scenario(NAME), "paper")
    spec = cfg.world.spec()
    assert (spec.image_size, spec.patch_size, spec.n_patches) == (224, 16, 196)
    assert (cfg.encoder.width, cfg.encoder.depth, cfg.encoder.embed_dim) == (768, 12, 512)
    assert cfg.train.batch_size == 16_384 and cfg.sparc.lambda_g == 0.5


def test_a_run_stopped_mid_training_resumes_to_the_same_results(tmp_path, monkeypatch) -> None:
    import json
    from pathlib import Path

    import pandas as pd

    import scenarios.media.image_text_pretraining as itp
    from scenarios.errors import RunAborted
    from scenarios.run import resume

    overrides = ["n_seeds=2", "methods=[clip]", "train.checkpoint_every=2"]
    whole = execute(NAME, preset="smoke", overrides=overrides, runs_root=tmp_path / "whole", show_progress=False)

    real_probe, calls = itp.quick_probe, []

    def probe_then_stop(*args, **kwargs):  # replicate 0 probes at steps 3 and 6; replicate 1's first (step 3) stops
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(itp, "quick_probe", probe_then_stop)
    with pytest.raises(RunAborted) as caught:
        execute(NAME, preset="smoke", overrides=overrides, runs_root=tmp_path / "cut", show_progress=False)
    run_dir = Path(caught.value.run_dir)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(itp, "quick_probe", real_probe)

    resumed = resume(run_dir, show_progress=False)  # replicate 0 from the checkpoint; 1 from its step-2 state
    assert resumed["status"] == "complete" and resumed["attempt"] == 2
    assert resumed["metrics"] == pytest.approx(whole["metrics"], rel=1e-6, abs=1e-9)
    columns = lambda path: pd.read_csv(path).drop(columns="train_s")  # noqa: E731
    pd.testing.assert_frame_equal(columns(run_dir / "results.csv"),
                                  columns(Path(whole["run_dir"]) / "results.csv"), rtol=1e-6)
    lines = lambda d: [json.loads(x)["step"] for x in (Path(d) / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert lines(run_dir) == lines(whole["run_dir"])  # no record lost or duplicated
