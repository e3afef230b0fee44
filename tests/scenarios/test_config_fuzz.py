"""Every numeric config field of every scenario: NaN, ±inf, below and above its declared range → exit 2, one line,
no run directory. And every numeric field a scenario module defines declares its range."""

from __future__ import annotations

import math
import sys
import typing
from pathlib import Path

import pytest

from scenarios.registry import SCENARIO_MODULES, get_scenario
from scenarios.run import main
from scenarios.validation import Check, field_check, leaf_fields

SCENARIOS = sorted(SCENARIO_MODULES)


def _numeric_kind(ftype: typing.Any) -> tuple[type | None, int]:
    """(int | float | None, list depth) for a field type like float, int | None, list[float], list[list[float]]."""
    origin, args = typing.get_origin(ftype), typing.get_args(ftype)
    if ftype in (int, float):
        return ftype, 0
    if origin in (list, tuple) and args:
        inner, depth = _numeric_kind(args[0])
        return inner, depth + 1
    if args and origin is not dict:  # Optional / union
        kinds = {k for k in (_numeric_kind(a)[0] for a in args if a is not type(None)) if k}
        return (kinds.pop() if len(kinds) == 1 else None), 0
    return None, 0


def _bad_values(kind: type, check: Check | None) -> list[str]:
    values = ["nan", "inf", "-inf"] if kind is float else []
    if check is not None and check.lower is not None:
        values.append(repr(kind(math.floor(check.lower) - 1)))
    if check is not None and check.upper is not None:
        upper = check.upper
        values.append(repr(kind(upper * 10 + 1)) if math.isfinite(upper) else "")
    return [v for v in values if v]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for name in SCENARIOS:
        for key, f, ftype in leaf_fields(get_scenario(name).config):
            kind, depth = _numeric_kind(ftype)
            if kind is None or f.type is bool:
                continue
            for value in _bad_values(kind, field_check(f)):
                cases.append((name, key, "[" * depth + value + "]" * depth))
    return cases


CASES = _cases()


def test_the_fuzz_covers_every_scenario() -> None:
    assert {name for name, _, _ in CASES} == set(SCENARIOS) and len(CASES) > 300


@pytest.mark.parametrize("name", SCENARIOS)
def test_bad_numeric_values_exit_2_with_one_line_and_no_run_directory(name, tmp_path, capsys) -> None:
    cases = [(key, value) for n, key, value in CASES if n == name]
    for key, value in cases:
        code = main([name, "--preset", "smoke", "--out", str(tmp_path), f"{key}={value}"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, f"{name} {key}={value} was accepted"
        assert len(err) == 1 and key.split(".")[-1] in err[0], (key, value, err)  # names the field
    assert not any(tmp_path.iterdir()), "a run directory was created for bad input"


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_numeric_field_of_a_scenario_module_declares_its_range(name) -> None:
    config = get_scenario(name).config
    undeclared = []
    for key, f, ftype in leaf_fields(config):
        kind, _ = _numeric_kind(ftype)
        owner = _owner(config, key)
        if kind is None or not sys.modules[owner.__module__].__name__.startswith("scenarios."):
            continue  # agents' own configs validate in their constructors
        check = field_check(f)
        if check is None or (check.lower is None and check.choices is None) or (
                kind is int and check.upper is None):
            undeclared.append(key)
    assert not undeclared, f"{name}: numeric fields without a declared range: {undeclared}"


def _owner(config: type, key: str) -> type:
    """The dataclass that defines the leaf field `key` (dotted)."""
    hints_owner = config
    for part in key.split(".")[:-1]:
        ftype = typing.get_type_hints(hints_owner)[part]
        hints_owner = ftype
    return hints_owner


def test_out_that_is_a_file_or_empty_is_one_line_exit_2(tmp_path, capsys) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    for out in (str(a_file), str(a_file / "below"), ""):
        assert main(["misinformation_single_round", "--preset", "smoke", "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--out" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert not Path("misinformation_single_round").exists()  # --out "" did not write into the cwd


def test_list_prints_every_scenario_without_importing_torch() -> None:
    import subprocess

    code = ("import sys; from scenarios.run import main; main(['--list']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(name in out.stdout for name in SCENARIOS)
    assert "unavailable" not in out.stdout


@pytest.mark.parametrize("name", SCENARIOS)
def test_agents_own_config_fields_never_raise_past_the_spine(name) -> None:
    """Agent configs (no declared ranges: agents never import the spine) check themselves; whatever they make
    of -1, 0 or a huge value, the spine turns it into a UsageError or accepts it — never a traceback."""
    from scenarios.config import build_config
    from scenarios.errors import UsageError

    scenario = get_scenario(name)
    for key, f, ftype in leaf_fields(scenario.config):
        kind, depth = _numeric_kind(ftype)
        if kind is None or field_check(f) is not None:
            continue
        for value in ("-1", "0", "1000000000000"):
            try:
                build_config(scenario, "smoke", [f"{key}={'[' * depth}{value}{']' * depth}"])
            except UsageError:
                pass
