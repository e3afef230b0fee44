"""The ``video_localization`` scenario: one smoke run end to end, its checkpoint, and config errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from agents.localization.image_text import load_image_text_model
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.run import execute

METHODS = {"supervised", "centre_box", "random_box", "trcamv", "trcamv_no_crf", "teacher_cam", "temporal_cam"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    summary = execute("video_localization", preset="smoke", runs_root=root, show_progress=False)
    run_dir = next((root / "video_localization").iterdir())
    return summary, run_dir


def test_smoke_run_writes_results_table_figures_and_checkpoint(smoke) -> None:
    summary, run_dir = smoke
    assert summary["status"] == "complete"
    frame = pd.read_csv(run_dir / "results.csv", keep_default_na=False)
    assert set(frame["method"]) == METHODS and frame["seed"].nunique() == 2
    # one row per method × noise × seed: 3 noise-free rows + 4 per noise level (2 levels), per seed
    assert len(frame) == 2 * (3 + 4 * 2)
    for column in ("corloc", "mean_iou", "pixel_iou"):
        values = pd.to_numeric(frame[column])
        assert ((values >= 0) & (values <= 1)).all()
    teacher = frame[frame["method"] == "teacher_cam"]
    assert (pd.to_numeric(teacher["gain_over_teacher"]) == 0).all()
    text = (run_dir / "table.md").read_text()
    assert "trcamv" in text and "Classification" in text and "Claim at each noise level" in text
    assert {"strip.png", "corloc_vs_noise.png"} <= {p.name for p in run_dir.glob("*.png")}
    assert all(isinstance(v, float) and (math.isfinite(v) or "gain" in k) for k, v in summary["metrics"].items())
    cls = pd.read_csv(run_dir / "classification.csv")
    assert set(cls["classifier"]) == {"linear_head", "image_text_zero_shot"}


def test_saved_image_text_model_loads_with_weights_only_and_is_a_valid_user_checkpoint(smoke, tmp_path) -> None:
    _, run_dir = smoke
    path = run_dir / "image_text_model.pt"
    torch.load(path, weights_only=True)  # plain containers only
    model = load_image_text_model(path)
    assert model.arch["image_size"] == 64 and model.scale > 0
    build_config(get_scenario("video_localization"), "smoke", [f"backbone.checkpoint={path}"])  # accepted
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError):
        build_config(get_scenario("video_localization"), "smoke", [f"backbone.checkpoint={broken}"])
    torch.save({"format": "recast-image-text-v1", "arch": {**model.arch, "width": 8}, "scale": 1.0,
                "state_dict": model.dual.state_dict()}, broken)
    with pytest.raises(UsageError, match="do not match"):
        build_config(get_scenario("video_localization"), "smoke", [f"backbone.checkpoint={broken}"])


@pytest.mark.parametrize("override", ["noise_levels=[0.0,0.0]", "noise_levels=[1.5]", "n_seeds=1",
                                      "backbone.patch_size=6", "world.digit_max=40", "localiser.batch_size=4096",
                                      "backbone.checkpoint=/no/such/file.pt", "backbone.objective=dino"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("video_localization"), "smoke", [override])


def test_paper_preset_builds() -> None:
    cfg = build_config(get_scenario("video_localization"), "paper")
    assert cfg.backbone.patch_size == 16 and cfg.world.frame_size == 224 and cfg.localiser.epochs == 30
