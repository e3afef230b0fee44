"""The ``atari_tokens`` scenario: one smoke run end to end, bad input, checkpoint from another config, paper sizes."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from scenarios.atari.atari_tokens import PRESETS, AtariTokensConfig, Checkpoints, suite_of
from scenarios.atari.model_based import build_parts
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.registry import get_scenario
from scenarios.rundir import RunContext
from scenarios.run import execute


def test_smoke_run_writes_table_figures_and_per_seed_rows(tmp_path) -> None:
    summary = execute("atari_tokens", preset="smoke", runs_root=tmp_path, show_progress=False)
    assert summary["status"] == "complete"
    run_dir = next((tmp_path / "atari_tokens").iterdir())
    rows = pd.read_csv(run_dir / "results.csv")
    methods = PRESETS["smoke"].get("methods", AtariTokensConfig().methods)
    assert len(rows) == 2 * len(methods) and set(rows["method"]) == set(methods)  # one row per method × seed
    assert (rows["env_steps"] == 3 * 32).all()  # equal real env steps for every method
    assert {"learning_curves.png", "tokens_breakout_dart.png", "tokens_breakout_iris.png"} <= \
        {p.name for p in run_dir.glob("*.png")}
    table = (run_dir / "table.md").read_text()
    assert "random policy (chance)" in table and "DART (token policy)" in table
    assert all(math.isfinite(v) for v in summary["metrics"].values())


@pytest.mark.parametrize("override", ["game=NotAGame", "games=[breakout,pongg]", "n_seeds=1", "methods=[dart,sac]",
                                      "world_model.heads=3", "policy.lam=1.5", "epochs=0"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("atari_tokens"), "smoke", [override])


def test_unknown_game_message_lists_valid_names() -> None:
    with pytest.raises(UsageError, match="valid names: MinAtar asterix.*ALE .*pong"):
        build_config(get_scenario("atari_tokens"), "smoke", ["game=NotAGame"])
    assert suite_of("Pong") == "atari" and suite_of("breakout") == "minatar"
    assert build_config(get_scenario("atari_tokens"), "smoke", ["game=Pong"]).game_list() == ["Pong"]


def test_checkpoint_from_another_config_is_refused(tmp_path) -> None:
    cfg = build_config(get_scenario("atari_tokens"), "smoke")
    ctx = RunContext("atari_tokens", "smoke", 0, "cpu", tmp_path, show_progress=False)
    Checkpoints(cfg, ctx).checkpoint(None)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    other = build_config(get_scenario("atari_tokens"), "smoke", ["epochs=4"])
    resumed = RunContext("atari_tokens", "smoke", 0, "cpu", tmp_path, show_progress=False, resumed=True)
    with pytest.raises(UsageError, match="another config"):
        Checkpoints(other, resumed)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert Checkpoints(cfg, resumed).rows == []  # the same config resumes


def test_paper_preset_has_the_iris_sizes() -> None:
    cfg = build_config(get_scenario("atari_tokens"), "paper")
    assert len(cfg.game_list()) == 26 and cfg.epochs * cfg.steps_per_epoch == 100_000 and cfg.n_seeds == 5
    tok, wm, policy = build_parts("dart", 18, cfg.tokenizer, cfg.world_model, cfg.policy, "cpu")
    assert tok.tokens_per_frame == 16 and tok.cfg.codebook_size == 512
    assert wm.cfg.depth == 10 and wm.cfg.width == 256
    assert len(wm.pos) == 21 * 17  # 20-step segments (IRIS: 340 tokens) and 1 real + 20 imagined frames
    logits, value, _ = policy(torch.zeros(2, 16, dtype=torch.long), policy.initial_state(2))
    assert logits.shape == (2, 18) and value.shape == (2,)
