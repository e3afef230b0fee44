"""The claims report: verdict rules on hand-made results, a report over real smoke runs, self-contained HTML,
and ``--check`` catching a table edited by hand."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import fake_scenarios as fake
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scenarios import registry
from scenarios.claims import FAILS, HOLDS, INCONCLUSIVE, AtMost, Better, Claim, Flat
from scenarios.report import main as report_main
from scenarios.report import markdown_report
from scenarios.run import execute


def _table(a: str, b: str) -> list[dict]:
    return [{"method": "new", "acc": a, "n": 5}, {"method": "old", "acc": b, "n": 5}]


@pytest.mark.parametrize("a, b, expected", [
    ("0.50 ± 0.05", "0.20 ± 0.05", HOLDS),  # Δ = 0.30 ± 0.07
    ("0.20 ± 0.05", "0.50 ± 0.05", FAILS),
    ("0.50 ± 0.20", "0.40 ± 0.20", INCONCLUSIVE),  # Δ = 0.10 ± 0.28
    ("0.50 ± 0.05", "n/a", INCONCLUSIVE),
])
def test_table_rule(a, b, expected) -> None:
    assert Better("acc", "new", "old", per_seed=None).judge(_table(a, b)).verdict == expected


def test_lower_is_better_and_margin() -> None:
    table = _table("0.20 ± 0.01", "0.50 ± 0.01")
    assert Better("acc", "new", "old", higher_is_better=False, per_seed=None).judge(table).verdict == HOLDS
    assert Better("acc", "new", "old", higher_is_better=False, margin=0.5, per_seed=None).judge(table).verdict == FAILS


def test_paired_rule_agrees_with_a_paired_t_test(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for trial in range(40):
        n, shift = int(rng.integers(3, 9)), float(rng.normal(0, 0.4))
        base = rng.normal(0, 3, n)  # big seed-to-seed spread: unpaired intervals would overlap
        rows = [{"method": m, "seed": s, "acc": base[s] + (shift + rng.normal(0, 0.5) if m == "new" else 0)}
                for s in range(n) for m in ("new", "old")]
        pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
        verdict = Better("acc", "new", "old").judge([], tmp_path)
        wide = pd.DataFrame(rows).pivot(index="seed", columns="method", values="acc")
        test = stats.ttest_rel(wide["new"], wide["old"])
        expected = INCONCLUSIVE if test.pvalue >= 0.05 else HOLDS if test.statistic > 0 else FAILS
        assert verdict.verdict == expected, (trial, verdict, test)
        assert "paired over" in verdict.evidence


def test_flat_rule_on_hand_made_memory(tmp_path) -> None:
    """Peak memory of 'const' stays at 1 MB from N = 10 to 10⁴ (ratio 1); 'lin' grows 1000× (ratio 1000)."""
    rows = [{"model": m, "N": n, "peak_MB": 1.0 if m == "const" else n / 10} for m in ("const", "lin")
            for n in (10, 100, 10_000)]
    pd.DataFrame(rows).to_csv(tmp_path / "memory.csv", index=False)
    assert Flat("peak_MB", "const", "memory.csv").judge([], tmp_path).verdict == HOLDS
    verdict = Flat("peak_MB", "lin", "memory.csv").judge([], tmp_path)
    assert verdict.verdict == FAILS and "ratio 1e+03" in verdict.evidence
    assert Flat("peak_MB", "lin", "memory.csv", max_ratio=1000).judge([], tmp_path).verdict == HOLDS
    assert Flat("peak_MB", "absent", "memory.csv").judge([], tmp_path).verdict == INCONCLUSIVE
    assert Flat("peak_MB", "const", "missing.csv").judge([], tmp_path).verdict == INCONCLUSIVE


def test_at_most_rule_takes_the_worst_row_and_fails_on_nan(tmp_path) -> None:
    frame = pd.DataFrame({"err_a": [1e-7, 3e-6], "err_b": [2e-6, 9e-6]})
    frame.to_csv(tmp_path / "errors.csv", index=False)
    assert AtMost(("err_a", "err_b"), 1e-5, "errors.csv").judge([], tmp_path).verdict == HOLDS
    assert AtMost(("err_a", "err_b"), 5e-6, "errors.csv").judge([], tmp_path).verdict == FAILS  # 9e-6 in err_b
    assert AtMost(("err_a",), 5e-6, "errors.csv").judge([], tmp_path).verdict == HOLDS
    frame.assign(err_a=[np.nan, 0.0]).to_csv(tmp_path / "errors.csv", index=False)
    assert AtMost(("err_a",), 1.0, "errors.csv").judge([], tmp_path).verdict == FAILS


def test_a_claim_holds_only_when_every_rule_holds() -> None:
    holds, fails = Better("acc", "new", "old", per_seed=None), Better("acc", "old", "new", per_seed=None)
    table = _table("0.5 ± 0.01", "0.2 ± 0.01")
    assert Claim("x", "y", (holds,)).judge(table)[0] == HOLDS
    assert Claim("x", "y", (holds, fails)).judge(table)[0] == FAILS


@pytest.fixture
def two_runs(monkeypatch, tmp_path) -> list[Path]:
    monkeypatch.setitem(registry.SCENARIO_MODULES, fake.NAME, fake.MODULE)
    a = execute(fake.NAME, preset="smoke", runs_root=tmp_path, show_progress=False)
    b = execute("misinformation_single_round", preset="smoke", overrides=["accuracies=[0.9]"], runs_root=tmp_path,
                show_progress=False)
    return [Path(a["run_dir"]), Path(b["run_dir"])]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external, self.images = [], 0

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "href") and value and not value.startswith("data:"):
                self.external.append((tag, value))
        self.images += tag == "img"


def test_report_over_two_runs_has_both_with_provenance_and_self_contained_html(two_runs, tmp_path) -> None:
    assert report_main([*map(str, two_runs), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "`fake_spine`" in md and "`misinformation_single_round`" in md
    assert "no claim declared" in md
    assert md.count("- command: `python -m scenarios.run") == 2 and "--preset smoke" in md
    assert md.count("- commit ") == 2 and md.count("- versions: python") == 2
    page = (tmp_path / "report" / "report.html").read_text()
    assets = _Assets()
    assets.feed(page)
    assert assets.external == [] and assets.images == len(list(two_runs[1].glob("*.png"))) > 0


def test_check_fails_after_a_table_is_edited_by_hand(two_runs, tmp_path, capsys) -> None:
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nprose stays\n\n" + markdown_report(two_runs))
    assert report_main(["--check", str(doc)]) == 0
    lines = doc.read_text().splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.startswith("|") and i > 1 and lines[i - 1].startswith("|-"))
    lines[row] = lines[row].rstrip("|\n ") + "1 |\n"  # one number changed by hand
    edited = "".join(lines)
    assert edited != doc.read_text()
    doc.write_text(edited)
    assert report_main(["--check", str(doc)]) == 1
    assert str(two_runs[0]) in capsys.readouterr().err
    assert report_main(["--write", str(doc)]) == 0 and report_main(["--check", str(doc)]) == 0
    assert "prose stays" in doc.read_text()


def test_the_committed_results_page_matches_its_run_directories(monkeypatch) -> None:
    root = Path(__file__).resolve().parents[2]
    if not (root / "docs" / "results.md").exists():
        pytest.skip("no docs/results.md in this checkout")
    monkeypatch.chdir(root)  # the blocks name run directories relative to the repository root
    assert report_main(["--check", "docs/results.md"]) == 0, "regenerate: python -m scenarios.report --write docs/results.md"
