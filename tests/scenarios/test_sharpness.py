"""The ``sharpness`` scenario: smoke run end to end, determinism, config errors, the paper preset."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.perception.convnets import build_model
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.optimization.training import ARMS, OptimConfig, build_optimizer, train_epoch
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


@pytest.mark.parametrize("override", ["optim.arms=[sgd,adam]", "n_seeds=1", "optim.alpha=2.0", "model.name=vit",
                                      "optim.asam_rule=weights", "train.bn_stats=second_pass"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("sharpness"), "smoke", [override])


def test_paper_preset_constructs_resnet_and_optimizers() -> None:
    cfg = build_config(get_scenario("sharpness"), "paper")
    assert cfg.data.source == "synthetic_cifar" and cfg.model.name == "resnet34" and cfg.train.epochs == 200
    model = build_model(cfg.model.name, 3, 10, 32)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    for arm in cfg.optim.arms:
        opt = build_optimizer(arm, model, cfg.optim, cfg.train.lr, cfg.train.momentum,
                              cfg.train.weight_decay)
        assert opt.param_groups[0]["lr"] == 0.1


# BatchNorm directly on the inputs: its batch statistics do not depend on the weights, so the running stats
# after one minibatch have a closed form whatever the optimiser does (BN momentum m = 0.1, start 0 and 1).
X_BN = torch.randn(32, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
Y_BN = torch.arange(32) % 3


def input_bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4), nn.Linear(4, 3)).double()


@pytest.mark.parametrize("arm", list(ARMS))
@pytest.mark.parametrize("bn_stats", ["first_pass", "all_passes"])
def test_training_loop_running_stats_from_the_first_pass_only(arm, bn_stats) -> None:
    """first_pass: one BN update (the unperturbed pass); all_passes: one per forward–backward pass."""
    model, o = input_bn_net(), OptimConfig()
    opt = build_optimizer(arm, model, o, lr=0.05, momentum=0.9, weight_decay=5e-4)
    train_epoch(model, opt, X_BN, Y_BN, batch_size=32, rng=np.random.default_rng(0), bn_stats=bn_stats)
    passes = {"sgd": 1, "multistep_sam": o.k + 1, "lookbehind_sam": 2 * o.k, "lookbehind_asam": 2 * o.k}.get(arm, 2)
    n = 1 if bn_stats == "first_pass" else passes
    x = X_BN.flatten(1).numpy()
    keep = 0.9**n  # n EMA updates toward the same batch statistics
    bn = model[1]
    assert bn.num_batches_tracked.item() == n
    np.testing.assert_allclose(bn.running_mean.numpy(), (1 - keep) * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), keep + (1 - keep) * x.var(0, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("rule", ["official", "all"])
def test_both_asam_arms_use_the_same_rule(rule) -> None:
    model = build_model("resnet18", 3, 10, 8, width=4)
    names = {id(p): n for n, p in model.named_parameters()}
    o = OptimConfig(asam_rule=rule)
    flags = {}
    for arm in ("asam", "lookbehind_asam"):
        opt = build_optimizer(arm, model, o, lr=0.1, momentum=0.9, weight_decay=5e-4)
        flags[arm] = {names[id(p)]: g["adaptive"] for g in opt.param_groups for p in g["params"]}
    assert flags["asam"] == flags["lookbehind_asam"] and len(flags["asam"]) == len(names)
    adaptive = {n for n, a in flags["asam"].items() if a}
    if rule == "official":  # conv kernels, BN scales and the head's weight; biases (BN shifts, head) not
        assert adaptive == {n for n in names.values() if n.endswith("weight")}
        assert {n for n in names.values() if n.endswith("bias")} and not adaptive & {"head.bias"}
    else:
        assert adaptive == set(names.values())
