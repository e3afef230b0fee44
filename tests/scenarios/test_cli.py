"""The command lines: ``python -m scenarios.run`` / ``python -m scenarios.sweep``.

Every bad-input case is checked in-process through ``main(argv)`` (cheap), and a few of them, plus
``--list`` and a smoke run, as a user runs them: in a subprocess, from a scratch directory. The
subprocesses are started together by one module-scoped fixture so that interpreter start-ups overlap.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from scenarios import run as run_cli
from scenarios import sweep as sweep_cli
from scenarios.config import build_config, to_dict
from scenarios.registry import get_scenario

SR = "misinformation_single_round"
PERF = "misinformation_performative"

# case id -> (module, argv after the module, words the one stderr line must contain)
BAD_INPUT = {
    "run-unknown-scenario": ("scenarios.run", ["nope"], ["'nope'", SR, PERF]),
    "run-unknown-key": ("scenarios.run", [SR, "--preset", "smoke", "foo=1"], ["'foo'", "n_seeds", "accuracies"]),
    "run-unknown-nested-key": ("scenarios.run", [SR, "game.foo=1"], ["'foo'", "game.misinformation_accuracy"]),
    "run-wrong-type": ("scenarios.run", [SR, "n_seeds=abc"], ["n_seeds", "abc"]),
    "run-wrong-list-item-type": ("scenarios.run", [SR, "accuracies=[0.6,abc]"], ["accuracies", "abc"]),
    "run-unknown-preset": ("scenarios.run", [SR, "--preset", "huge"], ["'huge'", "smoke", "cpu", "paper"]),
    "run-unknown-device": ("scenarios.run", [SR, "--device", "tpu"], ["'tpu'", "cpu", "cuda", "auto"]),
    "run-key-without-equals": ("scenarios.run", [SR, "n_seeds"], ["'n_seeds'", "key=value"]),
    "run-invalid-value": ("scenarios.run", [SR, "n_seeds=1"], ["n_seeds", ">= 2"]),
    "run-negative-seed": ("scenarios.run", [SR, "--seed", "-1"], ["seed", "-1"]),
    "run-seed-not-int": ("scenarios.run", [SR, "--seed", "x"], ["--seed", "'x'"]),
    "run-no-name": ("scenarios.run", [], ["scenario name"]),
    "sweep-grid-without-equals": ("scenarios.sweep", [SR, "--grid", "foo"], ["'foo'", "key=v1,v2"]),
    "sweep-grid-without-values": ("scenarios.sweep", [SR, "--grid", "a="], ["'a='"]),
    "sweep-grid-empty-value": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,,3"], ["empty value"]),
    "sweep-grid-unclosed-bracket": ("scenarios.sweep", [SR, "--grid", "accuracies=[0.6,0.9"], ["unbalanced"]),
    "sweep-grid-stray-bracket": ("scenarios.sweep", [SR, "--grid", "accuracies=0.6],[0.9"], ["unbalanced"]),
    "sweep-grid-key-twice": ("scenarios.sweep", [SR, "--grid", "n_seeds=2", "--grid", "n_seeds=3"], ["twice"]),
    "sweep-unknown-executor": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,3", "--executor", "dask"],
                               ["'dask'", "serial", "process", "ray"]),
    "sweep-unknown-grid-key": ("scenarios.sweep", [SR, "--grid", "foo=1,2"], ["'foo'"]),
    "sweep-wrong-grid-type": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,x"], ["n_seeds", "'x'"]),
    "sweep-unknown-fixed-key": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,3", "foo=1"], ["'foo'"]),
    "sweep-unknown-scenario": ("scenarios.sweep", ["nope", "--grid", "n_seeds=2,3"], ["'nope'", SR]),
    "sweep-unknown-preset": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,3", "--preset", "huge"], ["'huge'"]),
    "sweep-zero-seeds": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,3", "--seeds", "0"], ["--seeds"]),
    "sweep-unknown-device": ("scenarios.sweep", [SR, "--grid", "n_seeds=2,3", "--device", "tpu"], ["'tpu'"]),
}
IN_SUBPROCESS = ["run-unknown-key", "sweep-grid-unclosed-bracket"]


def _check_one_line(code: int, stdout: str, stderr: str, case: str, out: Path) -> None:
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected exactly one stderr line, got {stderr!r}"
    for word in BAD_INPUT[case][2]:
        assert word in lines[0], f"{word!r} not named in: {lines[0]}"
    assert stdout == ""
    assert not out.exists() or not any(out.rglob("*")), "bad input must not leave a run or sweep directory"


def _cli(module: str, args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Run every invocation of this module (3 at a time) and return {case: (CompletedProcess, out dir)}."""
    base = tmp_path_factory.mktemp("cli")
    calls = {case: BAD_INPUT[case][:2] for case in IN_SUBPROCESS}
    calls["list"] = ("scenarios.run", ["--list"])
    # the documented form: options first, then key=value overrides
    calls["smoke"] = ("scenarios.run", [PERF, "--preset", "smoke", "--seed", "1", "n_seeds=3"])

    def one(case: str):
        module, args = calls[case]
        cwd = base / case
        cwd.mkdir()
        return case, (_cli(module, [*args, "--out", str(cwd / "out")], cwd), cwd / "out")

    with ThreadPoolExecutor(max_workers=3) as pool:  # the smoke run first: it is the longest
        return dict(pool.map(one, ["smoke", *(c for c in calls if c != "smoke")]))


def test_list_names_the_scenarios(cli) -> None:
    proc, _ = cli["list"]
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert SR in lines and PERF in lines
    for name in (SR, PERF):  # listed with their description (other scenarios may lack an optional extra)
        assert get_scenario(name).description in lines[name]


@pytest.mark.parametrize("case", IN_SUBPROCESS)
def test_bad_input_in_a_subprocess(cli, case: str) -> None:
    proc, out = cli[case]
    _check_one_line(proc.returncode, proc.stdout, proc.stderr, case, out)


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path, capsys) -> None:
    module, args, _ = BAD_INPUT[case]
    main = run_cli.main if module == "scenarios.run" else sweep_cli.main
    bounded = {"--preset": "smoke"} if module == "scenarios.run" else {"--preset": "smoke", "--seeds": "1"}
    for option, value in bounded.items():  # should a check regress, what runs stays small
        if option not in args:
            args = [*args, option, value]
    out = tmp_path / "out"
    try:
        code = main([*args, "--out", str(out)])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    _check_one_line(code, captured.out, captured.err, case, out)


def test_smoke_run_leaves_a_complete_run_directory(cli) -> None:
    proc, out = cli["smoke"]
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"^run directory: (.+)$", proc.stdout, re.M)
    assert match, proc.stdout
    run_dir = Path(match.group(1).strip())
    run_dir = run_dir if run_dir.is_absolute() else out.parent / run_dir
    assert run_dir.is_dir() and run_dir.parent == out / PERF
    # the compact results table precedes the run directory
    header, rule, *rows = proc.stdout[: match.start()].strip().splitlines()
    assert set(rule) <= {"-", " "} and "-" in rule and rows

    summary = json.loads((run_dir / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"summary.json is not strict JSON: {c}"))
    assert summary["status"] == "complete"
    assert summary["scenario"] == PERF and summary["seed"] == 1 and summary["preset"] == "smoke"
    assert summary["device"] == "cpu"
    assert {"python", "numpy", "torch", "recast"} <= set(summary["versions"])
    assert "git_commit" in summary
    assert summary["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", summary["git_commit"])
    assert isinstance(summary["duration_s"], (int, float)) and summary["duration_s"] > 0
    scenario = get_scenario(PERF)
    assert isinstance(summary["metrics"][scenario.main_metric], float)
    assert summary["table"] and len(summary["table"]) == len(rows)
    assert header.split()[0] == next(iter(summary["table"][0]))

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["n_seeds"] == 3  # the override, given after the options
    assert config == to_dict(build_config(scenario, "smoke", ["n_seeds=3"]))  # the smoke preset, resolved
    assert config != to_dict(build_config(scenario, "cpu", ["n_seeds=3"]))
    assert summary["config"] == config

    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) >= 2 and all(isinstance(r, dict) and r for r in records)

    pngs = list(run_dir.glob("*.png"))
    assert len(pngs) >= 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
