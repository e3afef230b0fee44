"""The ``caption_diversity`` scenario: one smoke run end to end, executors and resume, its probes, bad config."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from scenarios.config import build_config
from scenarios.errors import UsageError
from scenarios.media import caption_diversity as cd
from scenarios.media.evaluation import caption_coverage, detection, object_retrieval
from scenarios.registry import get_scenario
from scenarios.run import execute
from scenarios.rundir import RunContext

NAME = "caption_diversity"


def test_smoke_run_writes_rows_table_and_figures(tmp_path) -> None:
    out = execute(NAME, preset="smoke", runs_root=tmp_path, show_progress=False)
    assert out["status"] == "complete"
    (run_dir,) = list((tmp_path / NAME).iterdir())
    for name in ("table.md", "results.csv", "metrics.png", "metric_vs_k.png", "metric_vs_temperature.png",
                 "attention.png"):
        assert (run_dir / name).stat().st_size > 0, name
    frame = pd.read_csv(run_dir / "results.csv")
    expected = ["clip", "siglip", "llip_sigmoid", "llip_infonce", "llip_uniform", "llip_infonce_K2",
                "llip_infonce_tau4", "random"]
    assert list(frame["method"].unique()) == expected and (frame.groupby("method").size() == 2).all()
    by = frame.set_index(["method", "replicate"])
    # K = 1 arms and uniform attention have no caption conditioning; the others attend
    assert (by.loc["clip", "mixture_entropy"] == 0).all() and np.allclose(by.loc["llip_uniform", "mixture_entropy"], 1)
    assert by.loc["llip_sigmoid", "K"].iloc[0] == 4 and by.loc["llip_infonce_K2", "K"].iloc[0] == 2
    params = frame.groupby("method")["n_params"].first()
    assert params["llip_sigmoid"] - params["siglip"] == 3 * 16  # (K - 1) mixture tokens of width 16: all else equal
    for metric in ("obj_t2i_r1", "coverage_auc", "detection_map", "zero_shot_acc", "std_i2t_r1", "env_label_ap"):
        assert frame[metric].between(0, 1).all(), metric
    table = (run_dir / "table.md").read_text()
    assert "random" in table and "chance_obj_t2i_r1" in table
    assert all(math.isfinite(v) for v in out["metrics"].values())
    assert "llip_infonce_minus_clip_obj_t2i_r1" in out["metrics"]


def test_probes_on_hand_made_scores() -> None:
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.1]])
    valid = np.array([[True, False, False], [False, True, True]])
    # caption 2's best image (0) is not one it is true of; image 1's best caption (1) is valid
    assert object_retrieval(scores, valid, ks=(1, 2)) == {"obj_t2i_r1": 2 / 3, "obj_t2i_r2": 1.0, "obj_i2t_r1": 1.0}
    # image 0: its valid caption beats both others (AUC 1); image 1: 0.8 > 0.2 but 0.1 < 0.2 (AUC ½)
    assert caption_coverage(scores, valid) == {"coverage_auc": 0.75, "coverage_all": 0.5}
    rng = np.random.default_rng(0)
    present = rng.random((60, 5)) < 0.3
    perfect = detection(present + 0.01 * rng.random((60, 5)), present, n_val=20)
    assert perfect == {"detection_map": 1.0, "detection_acc": 1.0}
    flipped = detection(-present.astype(float), present, n_val=20)
    assert flipped["detection_map"] < 0.5 and flipped["detection_acc"] == pytest.approx(1 - present[20:].mean())


def test_mixture_usage_and_arms() -> None:
    alpha = np.zeros((1, 32, 1, 4))
    alpha[0, 5, 0, 0] = alpha[0, 9, 0, 2] = 1.0  # objects of classes 5 and 9 attend to different tokens
    usage = cd.mixture_usage(alpha, np.array([[5, 9, -1]]))
    assert usage == {"mixture_entropy": 0.0, "distinct_tokens": 1.0}
    cfg = build_config(get_scenario(NAME), "cpu")  # the claim's arms only
    assert [a.name for a in cd.arms(cfg)] == ["clip", "siglip", "llip_sigmoid", "llip_infonce", "llip_uniform"]
    assert cfg.executor == "process" and cfg.workers == 2 and cfg.n_seeds == 3 and cfg.train.steps == 300
    sweeps = build_config(get_scenario(NAME), "sweeps")  # the K and τ_att sweeps at the cpu sizes
    assert [a.name for a in cd.arms(sweeps)] == ["clip", "llip_infonce", "llip_uniform", "llip_infonce_K2",
                                                 "llip_infonce_K4", "llip_infonce_K16", "llip_infonce_tau0.25",
                                                 "llip_infonce_tau4"]
    assert (sweeps.train, sweeps.encoder, sweeps.eval) == (cfg.train, cfg.encoder, cfg.eval)
    sweeps.llip.k_sweep = [1, 8, 2]  # K = 1 is the clip arm and K = 8 the main arm: neither trained twice
    assert [a.name for a in cd.arms(sweeps)][3:] == ["llip_infonce_K2", "llip_infonce_tau0.25", "llip_infonce_tau4"]


def test_executors_agree_and_a_killed_run_resumes_from_its_finished_jobs(tmp_path, monkeypatch) -> None:
    runs = {ex: execute(NAME, preset="smoke", overrides=[f"executor={ex}"], runs_root=tmp_path / ex,
                        show_progress=False) for ex in ("serial", "process")}
    assert runs["serial"]["metrics"] == runs["process"]["metrics"]  # seeded per job: not by executor or order
    frames = {ex: pd.read_csv(next((tmp_path / ex / NAME).iterdir()) / "results.csv") for ex in runs}
    timings = ["train_s", "eval_s"]
    pd.testing.assert_frame_equal(frames["serial"].drop(columns=timings), frames["process"].drop(columns=timings))

    # a run killed after some jobs: drop the other jobs from its checkpoint, resume, only those run again
    run_dir = next((tmp_path / "serial" / NAME).iterdir())
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    keys = list(saved["state"]["done"])
    kept = {k: v for k, v in saved["state"]["done"].items() if k.startswith("0/")}
    ctx = RunContext(NAME, "smoke", 0, "cpu", run_dir, show_progress=False, resumed=True)
    torch.save({"state": {"done": kept}, "metric_lines": 0}, run_dir / "checkpoint.pt")
    ran: list[str] = []
    original = cd.run_job

    def counting(job: cd.Job) -> dict:
        ran.append(job.key)
        return original(job)

    monkeypatch.setattr(cd, "run_job", counting)  # the smoke preset is serial: the patched function runs here
    cfg = build_config(get_scenario(NAME), "smoke")
    try:
        result = cd.run(cfg, ctx)
    finally:
        ctx.close()
    assert ran == [k for k in keys if k not in kept] and ran and all(k.startswith("1/") for k in ran)
    assert result.metrics == runs["serial"]["metrics"]


def test_unknown_executor_or_workers_fail_validation() -> None:
    for override in ("executor=slurm", "workers=0"):
        with pytest.raises(UsageError, match=override.split("=")[0]):
            build_config(get_scenario(NAME), "smoke", [override])


def test_random_scorer_is_a_function_of_content() -> None:
    score = cd.random_scorer(seed=3, dim=16)
    images, tokens = np.random.default_rng(0).random((3, 3, 8, 8)), np.array([[1, 2, 0], [3, 0, 0], [1, 2, 0]])
    s, alpha = score(images, tokens)
    assert alpha is None and s.shape == (3, 3)
    np.testing.assert_allclose(s[:, 0], s[:, 2])  # same caption, same embedding
    np.testing.assert_allclose(score(images[::-1], tokens)[0], s[::-1])


def test_bad_config_is_a_usage_error_before_the_run_directory(tmp_path) -> None:
    for override, message in (("methods=[clip,filip]", "methods"), ("llip.k=0", "llip.k"),
                              ("eval.n_val=40", "n_val"), ("llip.attention_heads=3", "divisible"),
                              ("llip.temperature=0", "temperature"), ("world.max_objects=12", "grid")):
        with pytest.raises(UsageError, match=message):
            execute(NAME, preset="smoke", overrides=[override], runs_root=tmp_path)
    assert not (tmp_path / NAME).exists()


def test_paper_preset_constructs_at_paper_scale() -> None:
    cfg = build_config(get_scenario(NAME), "paper")
    assert cfg.world.spec().n_patches == 196 and cfg.llip.k == 64 and cfg.encoder.embed_dim == 512
