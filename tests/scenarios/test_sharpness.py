"""The ``sharpness`` scenario: smoke run end to end, determinism, config errors, the paper preset."""

from __future__ import annotations

import json
import math

import pytest
import torch

from agents.perception.convnets import build_model
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.optimization.training import ARMS, build_optimizer
from scenarios.registry import get_scenario
from scenarios.run import execute

SMALL = ["optim.arms=[sgd,lookbehind_sam]", "lifelong.enabled=false", "train.epochs=1", "probes.noise_draws=1"]


def test_smoke_run_writes_table_figures_and_summary(tmp_path) -> None:
    summary = execute("sharpness", preset="smoke", runs_root=tmp_path, show_progress=False)
    assert summary["status"] == "complete"
    run_dir = tmp_path / "sharpness" / next(p.name for p in (tmp_path / "sharpness").iterdir())
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "complete"
    table = summary["table"]
    assert [r["optimizer"] for r in table] == [ARMS[a] for a in list(ARMS)[:7]]
    assert {"test acc", "ρ-sharpness", "λ_max", "LL forgetting", "acc σ=0.3", "passes"} <= set(table[0])
    assert "Lookbehind-SAM" in (run_dir / "table.md").read_text()
    figures = {p.name for p in run_dir.glob("*.png")}
    assert {"noise_robustness.png", "forgetting.png", "loss_vs_sharpness.png"} <= figures
    m = summary["metrics"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    for arm in list(ARMS)[:7]:
        assert m[f"{arm}_noise_acc_0"] == pytest.approx(m[f"{arm}_test_acc"])  # σ = 0 is the clean model
        assert abs(m[f"{arm}_env_test_acc"] - m[f"{arm}_test_acc"]) <= 2 / 450  # env episode = batched accuracy
        assert 0.0 <= m[f"{arm}_lifelong_average_accuracy"] <= 1.0
    assert "lookbehind_sam_minus_sam_sharpness" in m


def test_same_seed_same_metrics(tmp_path) -> None:
    a = execute("sharpness", preset="smoke", overrides=SMALL, runs_root=tmp_path, show_progress=False)
    b = execute("sharpness", preset="smoke", overrides=SMALL, runs_root=tmp_path, show_progress=False)
    assert a["metrics"] == b["metrics"] and a["table"] == b["table"]


@pytest.mark.parametrize("override", ["optim.arms=[sgd,adam]", "n_seeds=1", "optim.alpha=2.0", "model.name=vit"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("sharpness"), "smoke", [override])


def test_paper_preset_constructs_resnet_and_optimizers() -> None:
    cfg = build_config(get_scenario("sharpness"), "paper")
    assert cfg.data.source == "synthetic_cifar" and cfg.model.name == "resnet34" and cfg.train.epochs == 200
    model = build_model(cfg.model.name, 3, 10, 32)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    for arm in cfg.optim.arms:
        opt = build_optimizer(arm, list(model.parameters()), cfg.optim, cfg.train.lr, cfg.train.momentum,
                              cfg.train.weight_decay)
        assert opt.param_groups[0]["lr"] == 0.1
