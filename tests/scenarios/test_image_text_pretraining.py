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
