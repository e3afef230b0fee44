"""Units of the spine: configs, seeds, statistics, grid parsing, tables, JSON conversion."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scenarios.config import build_config, config_keys, to_dict
from scenarios.errors import UsageError
from scenarios.registry import PRESETS, get_scenario, scenario_names
from scenarios.rundir import to_jsonable
from scenarios.seeding import SeedFlow, resolve_device
from scenarios.stats import aggregate, format_table, mean_ci
from scenarios.sweep import parse_grid

SR = "misinformation_single_round"
PERF = "misinformation_performative"


@pytest.fixture(scope="module")
def single_round():
    return get_scenario(SR)


# --- registry ----------------------------------------------------------------------------------------


def test_registry_lists_and_loads_scenarios() -> None:
    names = scenario_names()
    assert {SR, PERF} <= set(names) and names == sorted(names)
    for name in (SR, PERF):
        scenario = get_scenario(name)
        assert scenario.name == name and set(PRESETS) <= set(scenario.presets)
    with pytest.raises(UsageError, match="unknown scenario 'nope'.*misinformation_performative"):
        get_scenario("nope")


# --- config: dataclass defaults <- preset <- overrides --------------------------------------------------


def test_cpu_preset_is_the_dataclass_defaults(single_round) -> None:
    assert build_config(single_round, "cpu") == single_round.config()


def _merged(base: dict, over) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("name", [SR, PERF])
def test_presets_are_applied_over_the_defaults(name: str, preset: str) -> None:
    scenario = get_scenario(name)
    cfg = build_config(scenario, preset)
    assert isinstance(cfg, scenario.config)
    assert to_dict(cfg) == _merged(to_dict(scenario.config()), scenario.presets[preset])


def test_smoke_preset_differs_from_cpu(single_round) -> None:
    assert build_config(single_round, "smoke") != build_config(single_round, "cpu")


def test_overrides_win_over_the_preset(single_round) -> None:
    smoke = build_config(single_round, "smoke")
    cfg = build_config(single_round, "smoke", ["n_seeds=7", "network.n_users=333", "game.engagement_weight=0.25"])
    assert cfg.n_seeds == 7 and cfg.network.n_users == 333 and cfg.game.engagement_weight == 0.25
    # the rest of the preset (and of its nested blocks) stays
    assert cfg.network.posts_per_round == smoke.network.posts_per_round and cfg.accuracies == smoke.accuracies
    assert cfg.game.misinformation_accuracy == smoke.game.misinformation_accuracy


def test_fake_preset_nested_overrides_and_lists() -> None:
    import fake_scenarios as fake

    scenario = fake.SCENARIO
    cfg = build_config(scenario, "smoke")
    assert (cfg.steps, cfg.inner.label, cfg.inner.gain, cfg.weights) == (2, "smoke", 1.0, [1.0])
    cfg = build_config(scenario, "smoke", ["steps=5", "inner.gain=3", "weights=[0.5,2]"])
    assert (cfg.steps, cfg.inner.label, cfg.inner.gain, cfg.weights) == (5, "smoke", 3.0, [0.5, 2.0])
    assert isinstance(cfg.inner, fake.Inner) and all(isinstance(w, float) for w in cfg.weights)
    cfg = build_config(scenario, "smoke", ["inner.label=b"])  # a nested key the preset set, overridden
    assert cfg.inner.label == "b"
    with pytest.raises(UsageError, match="steps=0: must be >= 1"):
        build_config(scenario, "cpu", ["steps=0"])
    with pytest.raises(UsageError, match="mode=bogus: must be one of: ok, interrupt"):
        build_config(scenario, "cpu", ["mode=bogus"])
    with pytest.raises(UsageError, match="weights=.*must not be empty"):
        build_config(scenario, "cpu", ["weights=[]"])
    with pytest.raises(UsageError, match="needs steps <= 1000"):  # the scenario's own cross-field rule
        build_config(scenario, "cpu", ["mode=bad_result", "steps=2000"])
    with pytest.raises(UsageError, match="inner.gain"):
        build_config(scenario, "cpu", ["inner.gain=big"])


def test_list_values_and_type_coercion(single_round) -> None:
    cfg = build_config(single_round, "cpu", ["accuracies=[0.6,0.9]", "policies=[optimal,no_signal]",
                                             "game.engagement_weight=1", "network.prior_concentration=5"])
    assert cfg.accuracies == [0.6, 0.9] and all(isinstance(a, float) for a in cfg.accuracies)
    assert cfg.policies == ["optimal", "no_signal"]
    assert cfg.game.engagement_weight == 1.0 and isinstance(cfg.game.engagement_weight, float)
    assert cfg.network.prior_concentration == 5.0
    assert to_dict(cfg)["accuracies"] == [0.6, 0.9] and to_dict(cfg)["game"]["engagement_weight"] == 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["foo=1"], "'foo'"),
        (["game.foo=1"], "'foo'"),
        (["n_seeds=abc"], "n_seeds"),
        (["n_seeds=2.5"], "n_seeds"),
        (["accuracies=abc"], "accuracies"),
        (["game.misinformation_accuracy=high"], "game.misinformation_accuracy"),
        (["n_seeds"], "expected key=value"),
        (["=3"], "expected key=value"),
        # dataclass validate() errors
        (["n_seeds=1"], "n_seeds must be >= 2"),
        (["game.misinformation_accuracy=1.5"], "misinformation_accuracy"),
        (["policies=[optimal,psychic]"], "psychic"),
        (["accuracies=[]"], "accuracies"),
        (["game.prior=[0.5,0.5]"], "game.prior"),
    ],
)
def test_bad_overrides_are_one_line_usage_errors(single_round, overrides, message) -> None:
    with pytest.raises(UsageError) as info:
        build_config(single_round, "smoke", overrides)
    text = str(info.value)
    assert message in text and "\n" not in text


def test_unknown_key_error_lists_the_valid_dotted_keys(single_round) -> None:
    with pytest.raises(UsageError) as info:
        build_config(single_round, "cpu", ["game.foo=1"])
    assert "game.engagement_weight" in str(info.value) and "network.n_users" in str(info.value)


def test_config_keys_are_dotted() -> None:
    import fake_scenarios as fake

    assert config_keys(fake.FakeConfig) == ["mode", "steps", "sleep_s", "weights", "inner.gain", "inner.label"]


def test_unknown_preset(single_round) -> None:
    with pytest.raises(UsageError, match="unknown preset 'huge' for scenario 'misinformation_single_round'; choose one of: smoke, cpu, paper"):
        build_config(single_round, "huge")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in {"cpu", "cuda"}
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        resolve_device("tpu")


# --- seeds -------------------------------------------------------------------------------------------


def test_seedflow_same_name_same_seed() -> None:
    assert SeedFlow(7).seed("env") == SeedFlow(7).seed("env")
    assert SeedFlow(7).replicates(4) == SeedFlow(7).replicates(4)
    a, b = SeedFlow(7).generator("agent").random(5), SeedFlow(7).generator("agent").random(5)
    np.testing.assert_array_equal(a, b)


def test_seedflow_names_and_roots_differ() -> None:
    flow = SeedFlow(7)
    names = ["env", "agent", "torch", "global", "replicate", "sweep"]
    assert len({flow.seed(n) for n in names}) == len(names)
    assert flow.seed("env") != SeedFlow(8).seed("env")
    assert not np.allclose(flow.generator("env").random(5), flow.generator("agent").random(5))
    assert flow.replicates(3, "a") != flow.replicates(3, "b")


def test_seedflow_replicates_distinct_and_31_bit() -> None:
    seeds = SeedFlow(0).replicates(50)
    assert len(seeds) == 50 and len(set(seeds)) == 50
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)
    assert all(0 <= SeedFlow(r).seed("env") < 2**31 for r in range(20))


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_seedflow_rejects_bad_roots(bad) -> None:
    with pytest.raises(ValueError):
        SeedFlow(bad)


# --- statistics ----------------------------------------------------------------------------------------


def test_mean_ci_matches_scipy_t_interval() -> None:
    data = [1.0, 2.0, 3.0, 4.0]
    mean, half = mean_ci(data)
    lo, hi = stats.t.interval(0.95, df=3, loc=np.mean(data), scale=stats.sem(data))
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx((hi - lo) / 2)
    # by hand: t_{0.975,3} · s / √n with s = √(5/3)
    assert half == pytest.approx(3.182446305284263 * math.sqrt(5 / 3) / 2, rel=1e-12)
    assert half == pytest.approx(2.0542603, rel=1e-6)


def test_mean_ci_other_confidence_and_edge_cases() -> None:
    data = [0.2, 0.4, 0.1, 0.9, 0.5]
    lo, hi = stats.t.interval(0.9, df=4, loc=np.mean(data), scale=stats.sem(data))
    assert mean_ci(data, confidence=0.9)[1] == pytest.approx((hi - lo) / 2)
    assert mean_ci([1.0, 2.0, 3.0, 4.0, math.nan, math.inf]) == pytest.approx(mean_ci([1.0, 2.0, 3.0, 4.0]))
    assert mean_ci([3.0]) == (3.0, 0.0)
    assert all(math.isnan(v) for v in mean_ci([]))
    assert all(math.isnan(v) for v in mean_ci([math.nan]))
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 0.0)


def test_aggregate_columns_and_values() -> None:
    frame = pd.DataFrame({"k": [1, 1, 1, 2, 2, 2], "seed": [0, 1, 2] * 2,
                          "m": [1.0, 2.0, 3.0, 10.0, 10.0, 13.0], "u": [0.0, 1.0, 0.0, 1.0, 1.0, 1.0]})
    agg = aggregate(frame, ["k"], ["m", "u"])
    assert list(agg.columns) == ["k", "n", "m_mean", "m_std", "m_ci95", "u_mean", "u_std", "u_ci95"]
    assert agg["k"].tolist() == [1, 2] and agg["n"].tolist() == [3, 3]
    assert agg["m_mean"].tolist() == pytest.approx([2.0, 11.0])
    assert agg["m_std"].tolist() == pytest.approx([1.0, math.sqrt(3.0)])
    t = stats.t.ppf(0.975, 2)
    assert agg["m_ci95"].tolist() == pytest.approx([t * 1.0 / math.sqrt(3), t * math.sqrt(3.0) / math.sqrt(3)])
    assert agg["u_std"].tolist()[1] == 0.0 and agg["u_ci95"].tolist()[1] == 0.0


def test_aggregate_two_keys_keeps_group_order_and_single_rows() -> None:
    frame = pd.DataFrame({"a": ["x", "x", "y"], "b": [2, 1, 1], "m": [1.0, 5.0, 7.0]})
    agg = aggregate(frame, ["a", "b"], ["m"])
    assert agg[["a", "b"]].values.tolist() == [["x", 2], ["x", 1], ["y", 1]]
    assert agg["n"].tolist() == [1, 1, 1] and agg["m_std"].tolist() == [0.0] * 3 and agg["m_ci95"].tolist() == [0.0] * 3


# --- grid parsing --------------------------------------------------------------------------------------


def test_parse_grid_plain_and_bracketed() -> None:
    assert parse_grid(["a=1,2", "b.c=x"]) == {"a": ["1", "2"], "b.c": ["x"]}
    assert parse_grid(["accuracies=[0.6,0.9],[1.0]"]) == {"accuracies": ["[0.6,0.9]", "[1.0]"]}
    assert parse_grid(["m={a: 1, b: 2},{a: 3}"]) == {"m": ["{a: 1, b: 2}", "{a: 3}"]}
    assert parse_grid(["p=[[1,2],[3]],[4]"]) == {"p": ["[[1,2],[3]]", "[4]"]}
    assert parse_grid([" a = 1 , 2 "]) == {"a": ["1", "2"]}
    assert parse_grid([]) == {}


@pytest.mark.parametrize("spec", ["foo", "a=", "=1,2", "a= ", "a=1,,2", "a=1,", "a=[1,2", "a=1],[2", "a=]1[,2",
                                  "a=(1,2"])
def test_parse_grid_rejects_bad_syntax(spec: str) -> None:
    with pytest.raises(UsageError, match="bad grid"):
        parse_grid([spec])


def test_parse_grid_rejects_a_repeated_key() -> None:
    with pytest.raises(UsageError, match="twice"):
        parse_grid(["a=1", "a=2"])


_atom = st.text(alphabet="abcxyz0123456789.-_", min_size=1, max_size=6)
_value = st.one_of(_atom, st.lists(_atom, min_size=1, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"))


@settings(max_examples=60, deadline=None)
@given(st.lists(_value, min_size=1, max_size=5))
def test_parse_grid_round_trips(values: list[str]) -> None:
    assert parse_grid(["key=" + ",".join(values)]) == {"key": values}


# --- tables and JSON -----------------------------------------------------------------------------------


def test_format_table() -> None:
    text = format_table([{"policy": "optimal", "value": 0.123456789}, {"policy": "no_signal", "n": 12}])
    header, rule, first, second = text.splitlines()
    assert header.split() == ["policy", "value", "n"]
    assert rule.split() == ["-" * len("no_signal"), "-" * len("0.1235"), "-" * len("12")]  # widest cell or header
    assert first.split() == ["optimal", "0.1235"]  # 4 significant digits, the missing cell blank
    assert second.split() == ["no_signal", "12"]
    # columns line up: every value starts where its header starts
    for line in (first, second):
        assert line.index(line.split()[0]) == 0
    assert first.index("0.1235") == header.index("value") and second.index("12") == header.index("n")
    assert format_table([]) == "(no rows)"


def test_format_table_truncates() -> None:
    text = format_table([{"i": i} for i in range(45)], max_rows=40)
    lines = text.splitlines()
    assert len(lines) == 2 + 40 + 1 and lines[-1] == "... 5 more rows"


def test_to_jsonable_gives_strict_json() -> None:
    value = {"a": np.float32(1.5), "b": np.int64(3), "c": np.array([1, 2]), "d": (np.bool_(True), math.inf),
             "e": math.nan, 1: [-math.inf]}
    out = to_jsonable(value)
    assert out == {"a": 1.5, "b": 3, "c": [1, 2], "d": [True, None], "e": None, "1": [None]}
    json.loads(json.dumps(out), parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))


def test_long_titles_and_labels_fit_the_canvas(tmp_path, monkeypatch) -> None:
    import pandas as pd

    import scenarios.plotting as plotting

    seen = {}
    real_save = plotting.save
    monkeypatch.setattr(plotting, "save", lambda fig, path: (seen.setdefault("fig", fig), real_save(fig, path))[1])
    x, y = "network.prior_concentration_of_the_users", "p_share_and_misinformation_optimal_resolve_platform"
    frame = pd.DataFrame({x: np.repeat([1, 2, 3], 3), y: np.arange(9.0)})
    plotting.line_with_ci(frame, x, y, None, tmp_path / "f.png",
                          title=f"misinformation_performative: {y} (mean ± 95% CI over 5 seeds)")
    fig = seen["fig"]
    fig.canvas.draw()
    canvas = fig.bbox
    ax = fig.axes[0]
    for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
        box = text.get_window_extent()
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1 and box.y0 >= canvas.y0 - 1 and \
            box.y1 <= canvas.y1 + 1, f"{text.get_text()!r} is cut off"
