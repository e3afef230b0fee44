"""The ``atari_tokens`` scenario: one smoke run end to end, executors and resume, a job's own checkpoint, bad input,
checkpoint from another config, paper sizes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from scenarios.atari import atari_tokens as at
from scenarios.atari.atari_tokens import PRESETS, AtariTokensConfig, Checkpoints, suite_of
from scenarios.atari.model_based import build_parts
from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.executors import map_jobs
from scenarios.registry import get_scenario
from scenarios.run import execute
from scenarios.rundir import RunContext

NAME = "atari_tokens"


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """The smoke preset through the serial and the process executor: (summary, run directory) per executor."""
    root = tmp_path_factory.mktemp("atari_smoke")
    out = {}
    for executor in ("serial", "process"):
        summary = execute(NAME, preset="smoke", overrides=[f"executor={executor}"], runs_root=root / executor,
                          show_progress=False)
        out[executor] = summary, next((root / executor / NAME).iterdir())
    return out


def test_smoke_run_writes_table_figures_and_per_seed_rows(smoke_runs) -> None:
    summary, run_dir = smoke_runs["serial"]
    assert summary["status"] == "complete"
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
                                      "world_model.heads=3", "policy.lam=1.5", "epochs=0", "executor=slurm",
                                      "workers=0"])
def test_bad_config_is_a_usage_error(override) -> None:
    with pytest.raises(UsageError):
        build_config(get_scenario("atari_tokens"), "smoke", [override])


def test_unknown_game_message_lists_valid_names() -> None:
    with pytest.raises(UsageError, match="valid names: MinAtar asterix.*ALE .*pong"):
        build_config(get_scenario("atari_tokens"), "smoke", ["game=NotAGame"])
    assert suite_of("Pong") == "atari" and suite_of("breakout") == "minatar"
    assert build_config(get_scenario("atari_tokens"), "smoke", ["game=Pong"]).game_list() == ["Pong"]


def test_executors_agree_and_a_killed_run_resumes_from_its_finished_jobs(smoke_runs) -> None:
    (serial, serial_dir), (process, process_dir) = smoke_runs["serial"], smoke_runs["process"]
    assert process["status"] == "complete"
    assert serial["metrics"] == process["metrics"]  # every job seeds itself: not by executor or order
    frames = {d: pd.read_csv(d / "results.csv") for d in (serial_dir, process_dir)}
    pd.testing.assert_frame_equal(frames[serial_dir].drop(columns="train_s"),
                                  frames[process_dir].drop(columns="train_s"))
    pd.testing.assert_frame_equal(pd.read_csv(serial_dir / "curves.csv"), pd.read_csv(process_dir / "curves.csv"))

    # a run killed after replicate 0's jobs (and before any record reached metrics.jsonl): drop replicate 1 from its
    # checkpoint and resume; metrics.jsonl then holds the records of the jobs that ran again, and only those
    state = torch.load(serial_dir / "checkpoint.pt", weights_only=True)["state"]
    state["rows"] = [r for r in state["rows"] if r["seed"] == 0]
    state["curves"] = [c for c in state["curves"] if c["seed"] == 0]
    torch.save({"state": state, "metric_lines": 0}, serial_dir / "checkpoint.pt")
    cfg = build_config(get_scenario(NAME), "smoke")
    ctx = RunContext(NAME, "smoke", 0, "cpu", serial_dir, show_progress=False, resumed=True)
    try:
        result = at.run(cfg, ctx)
    finally:
        ctx.close()
    records = [json.loads(line) for line in (serial_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["game"], r["seed"], r["method"]) for r in records if r["phase"] == "result"] == \
        [("breakout", 1, m) for m in cfg.methods]
    assert result.metrics == serial["metrics"]
    pd.testing.assert_frame_equal(pd.read_csv(serial_dir / "results.csv").drop(columns="train_s"),
                                  frames[process_dir].drop(columns="train_s"))


def test_a_model_based_job_resumes_from_its_own_checkpoint_in_a_worker(tmp_path) -> None:
    cfg = build_config(get_scenario(NAME), "smoke", ["checkpoint_every=1"])
    job = at.Job(cfg, "breakout", 0, "dart", 123, "cpu", str(tmp_path / "partial.pt"))
    whole = at.run_job(job)  # leaves its epoch-2 checkpoint behind (the run's record() deletes it)
    assert torch.load(job.partial_path, weights_only=True)["epoch"] == 2
    (resumed,) = map_jobs(at.run_job, [job], "process", show_progress=False)  # continues at epoch 3
    epochs = [r["epoch"] for r in resumed["log"] if r["phase"] == "train"]
    assert epochs == [1, 2, 3] and json.dumps(resumed["log"][:2]) == json.dumps(whole["log"][:2])
    assert [c["env_steps"] for c in resumed["curve"]] == [c["env_steps"] for c in whole["curve"]] == [96]


def test_checkpoint_from_another_config_is_refused(tmp_path) -> None:
    cfg = build_config(get_scenario("atari_tokens"), "smoke")
    ctx = RunContext("atari_tokens", "smoke", 0, "cpu", tmp_path, show_progress=False)
    Checkpoints(cfg, ctx)  # a fresh run writes its checkpoint (the config's fingerprint) at once
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
