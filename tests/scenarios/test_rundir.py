"""Run directories: determinism of a seeded run, and what an interrupted or crashed run leaves behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fake_scenarios as fake
import pytest
import yaml

from scenarios import registry
from scenarios.errors import RunAborted
from scenarios.run import execute, main
from scenarios.rundir import RUNS_ROOT_ENV, new_run_dir


def _strict_json(path: Path):
    """summary.json must be strict JSON (no NaN/Infinity tokens)."""
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name} is not strict JSON: {c}"))


def _aborted(**kwargs) -> RunAborted:
    """execute(...) expecting RunAborted; anything else (a raw KeyboardInterrupt included) fails the test."""
    try:
        execute(fake.NAME, show_progress=False, **kwargs)
    except RunAborted as err:
        return err
    except BaseException as err:  # noqa: BLE001 - an escaping KeyboardInterrupt would end the whole session
        pytest.fail(f"expected RunAborted, got {type(err).__name__}: {err}")
    pytest.fail("expected RunAborted, the run completed")


@pytest.fixture
def fake_registered(monkeypatch):
    monkeypatch.setitem(registry.SCENARIO_MODULES, fake.NAME, fake.MODULE)
    return fake.NAME


# --- determinism -------------------------------------------------------------------------------------


def test_same_seed_same_metrics_different_seed_different_metrics(tmp_path) -> None:
    def once(seed: int) -> tuple[dict, str]:
        out = execute("misinformation_single_round", preset="smoke", seed=seed, runs_root=tmp_path,
                      show_progress=False)
        run_dir = Path(out["run_dir"])
        summary = _strict_json(run_dir / "summary.json")
        assert summary["status"] == "complete" and summary["seed"] == seed
        assert summary["metrics"] == out["metrics"] and summary["table"] == out["table"]
        return summary, (run_dir / "metrics.jsonl").read_text()

    first, first_log = once(3)
    second, second_log = once(3)
    other, other_log = once(4)
    assert first["metrics"] and first["table"]
    assert first["metrics"] == second["metrics"]
    assert first["table"] == second["table"]
    assert first_log == second_log  # every logged record, not just the summary
    assert other["metrics"].keys() == first["metrics"].keys()
    assert other["metrics"] != first["metrics"]
    assert other_log != first_log
    # three runs, three directories, even within the same second
    assert len(list((tmp_path / "misinformation_single_round").iterdir())) == 3


def test_fake_run_is_deterministic_and_seed_sensitive(fake_registered, tmp_path) -> None:
    a = execute(fake_registered, seed=11, runs_root=tmp_path, show_progress=False)
    b = execute(fake_registered, seed=11, runs_root=tmp_path, show_progress=False)
    c = execute(fake_registered, seed=12, runs_root=tmp_path, show_progress=False)
    assert a["metrics"] == b["metrics"] and a["table"] == b["table"]
    assert a["metrics"]["value"] != c["metrics"]["value"]


# --- the complete run directory ----------------------------------------------------------------------


def test_complete_run_directory(fake_registered, tmp_path) -> None:
    out = execute(fake_registered, preset="smoke", seed=5, runs_root=tmp_path, show_progress=False,
                  overrides=["inner.gain=2", "weights=[1.5,2.5]"])
    run_dir = Path(out["run_dir"])
    assert run_dir.parent == tmp_path / fake.NAME and run_dir.name.split("-")[2:4] == ["smoke", "s5"]
    summary = _strict_json(run_dir / "summary.json")
    assert summary["status"] == "complete" and "error" not in summary
    assert summary["preset"] == "smoke" and summary["seed"] == 5 and summary["scenario"] == fake.NAME
    assert summary["duration_s"] >= 0 and summary["finished_utc"] is not None
    assert "git_commit" in summary and {"python", "numpy"} <= set(summary["versions"])
    # NumPy scalars come out as plain JSON numbers; a non-finite float as null, not a NaN token
    assert isinstance(summary["metrics"]["value"], float) and summary["metrics"]["n_steps"] == 2
    assert summary["metrics"]["undefined"] is None
    assert summary["pid"] == os.getpid() and summary["host"] and summary["attempt"] == 1
    assert summary["git_dirty"] in (True, False, None) and summary["updated_utc"] >= summary["started_utc"]
    assert summary["config"] == {"mode": "ok", "steps": 2, "sleep_s": 0.0, "weights": [1.5, 2.5],
                                 "inner": {"gain": 2.0, "label": "smoke"}}
    assert yaml.safe_load((run_dir / "config.yaml").read_text()) == summary["config"]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 1]
    assert [r["draw"] for r in records] == [row["draw"] for row in summary["table"]]
    assert not (run_dir / "error.txt").exists()


def test_runs_root_from_environment(fake_registered, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(RUNS_ROOT_ENV, str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    out = execute(fake_registered, show_progress=False)
    assert Path(out["run_dir"]).parent == tmp_path / "elsewhere" / fake.NAME
    assert not (tmp_path / "runs").exists()


def test_new_run_dir_never_reuses_a_directory(tmp_path) -> None:
    dirs = [new_run_dir(tmp_path, "x", "smoke", 0) for _ in range(3)]
    assert len(set(dirs)) == 3 and all(d.is_dir() and d.parent == tmp_path / "x" for d in dirs)


# --- interrupted and failed runs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "cause"),
    [("interrupt", "interrupted", KeyboardInterrupt), ("crash", "failed", RuntimeError)],
)
def test_aborted_run_leaves_a_labelled_directory(fake_registered, tmp_path, mode, status, cause) -> None:
    err = _aborted(preset="smoke", seed=2, runs_root=tmp_path, overrides=[f"mode={mode}"])
    assert err.status == status and isinstance(err.cause, cause) and isinstance(err.__cause__, cause)
    run_dir = Path(err.run_dir)
    assert run_dir.parent == tmp_path / fake.NAME
    summary = _strict_json(run_dir / "summary.json")
    assert summary["status"] == status
    assert summary["error"].startswith(cause.__name__)
    assert summary["duration_s"] is not None and summary["finished_utc"] is not None
    assert summary["metrics"] == {} and summary["seed"] == 2 and summary["preset"] == "smoke"
    traceback_text = (run_dir / "error.txt").read_text()
    assert "Traceback (most recent call last)" in traceback_text and cause.__name__ in traceback_text
    assert "fake_scenarios.py" in traceback_text  # where it happened
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records == [{"step": 0, "draw": records[0]["draw"], "mode": mode}]  # logged before the abort
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["mode"] == mode


def test_a_scenario_returning_garbage_is_a_failed_run(fake_registered, tmp_path) -> None:
    err = _aborted(runs_root=tmp_path, overrides=["mode=bad_result"])
    assert err.status == "failed"
    assert _strict_json(Path(err.run_dir) / "summary.json")["status"] == "failed"


def test_bad_input_to_execute_writes_nothing(fake_registered, tmp_path) -> None:
    from scenarios.errors import UsageError

    for kwargs in ({"overrides": ["nope=1"]}, {"preset": "huge"}, {"seed": -1}, {"device": "tpu"},
                   {"overrides": ["steps=0"]}):
        with pytest.raises(UsageError):
            execute(fake_registered, runs_root=tmp_path, show_progress=False, **kwargs)
    assert not any(tmp_path.iterdir())


# --- the same through the command line (in-process: the fake scenario lives in the tests) -------------


def _run_dir_from(line: str) -> Path:
    assert "(run directory: " in line, line
    return Path(line.split("(run directory: ", 1)[1].split(")", 1)[0])


def test_cli_crash_exit_1_one_line(fake_registered, tmp_path, capsys) -> None:
    code = main([fake.NAME, "--preset", "smoke", "--out", str(tmp_path), "mode=crash"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "failed" in lines[0] and "RuntimeError" in lines[0] and "boom" in lines[0]
    assert "Traceback" not in captured.err
    assert _strict_json(_run_dir_from(lines[0]) / "summary.json")["status"] == "failed"


def test_cli_interrupt_exit_130_one_line(fake_registered, tmp_path, capsys) -> None:
    try:
        code = main([fake.NAME, "--out", str(tmp_path), "mode=interrupt", "--no-progress"])
    except BaseException as err:  # noqa: BLE001
        pytest.fail(f"main let {type(err).__name__} escape")
    captured = capsys.readouterr()
    assert code == 130
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0]
    assert _strict_json(_run_dir_from(lines[0]) / "summary.json")["status"] == "interrupted"


def test_cli_success_prints_table_and_run_directory(fake_registered, tmp_path, capsys) -> None:
    assert main([fake.NAME, "--seed", "1", "--out", str(tmp_path), "--no-progress", "steps=3"]) == 0
    stdout = capsys.readouterr().out
    header, rule, *rows = stdout.split("\n\nrun directory: ")[0].splitlines()
    assert header.split() == ["step", "draw"] and set(rule) <= {"-", " "} and len(rows) == 3
    run_dir = Path(stdout.rsplit("run directory: ", 1)[1].strip())
    assert (run_dir / "summary.json").exists() and run_dir.parent == tmp_path / fake.NAME
