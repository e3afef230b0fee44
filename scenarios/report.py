"""A claims report built from run directories: ``python -m scenarios.report [RUN_DIR ...]``.

    python -m scenarios.report                      # the latest complete run of every scenario under ./runs
    python -m scenarios.report runs/sharpness/20261201-101500-cpu-s0 --out report
    python -m scenarios.report --write docs/results.md     # rewrite its generated blocks from their runs
    python -m scenarios.report --check docs/results.md     # exit 1 when a block no longer matches its run

For each run: the scenario's claim in one line, its verdict (holds / does not hold / inconclusive, by the
rule the scenario declares in ``scenarios.claims``), each rule's evidence, the results table (mean ± 95 %
CI, n seeds) with the chance level or trivial baseline beside it, and provenance (command, preset, seeds,
commit and whether the tree was dirty, package versions, duration, machine). Writes ``report.md`` and a
self-contained ``report.html`` (figures embedded as data URIs; no external asset).

A generated block in a Markdown file is delimited by ``<!-- recast-report: RUN_DIR -->`` and
``<!-- /recast-report -->``; ``--write`` regenerates each block from its run directory and ``--check``
fails when one differs (a table edited by hand, a run directory changed or gone).
"""

from __future__ import annotations

import base64
import html
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scenarios.errors import UsageError
from scenarios.registry import get_scenario, scenario_names
from scenarios.rundir import default_runs_root, read_summary
from scenarios.stats import markdown_table

BLOCK = re.compile(r"<!-- recast-report: (?P<run>[^>]+?) -->\n(?P<body>.*?)<!-- /recast-report -->", re.S)


def latest_runs(root: Path) -> list[Path]:
    """The latest complete run directory of every scenario under `root` (by the UTC-stamped name)."""
    found = []
    for name in scenario_names():
        runs = sorted(p for p in (Path(root) / name).glob("*") if (read_summary(p) or {}).get("status") == "complete")
        if runs:
            found.append(runs[-1])
    return found


def section(run_dir: Path, level: int = 2) -> str:
    """The Markdown section for one run directory (deterministic: the same run gives the same text)."""
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    if summary is None:
        raise UsageError(f"{run_dir}: not a run directory (no readable summary.json)")
    name = summary["scenario"]
    try:
        scenario = get_scenario(name)
    except UsageError:
        scenario = None
    claim = getattr(scenario, "claim", None)
    table = summary.get("table") or []
    lines = [f"{'#' * level} `{name}` — {summary.get('status')}", ""]
    if claim is None:
        lines += ["**Claim:** no claim declared.", ""]
    else:
        overall, verdicts = claim.judge(table, run_dir)
        lines += [f"**Claim** ({claim.source}): {claim.statement}", "", f"**Verdict: {overall}**", ""]
        lines += [f"- {v.rule}: **{v.verdict}** — {v.evidence}" for v in verdicts]
        lines.append("")
    if table:
        lines += [markdown_table(table), ""]
        n = {row.get("n") for row in table if "n" in row}
        if n:
            lines += [f"Mean ± 95 % CI over n = {', '.join(map(str, sorted(n)))} seeds.", ""]
    if claim is not None and claim.chance:
        lines += ["Chance level / trivial baseline: " + "; ".join(f"{k}: {v}" for k, v in claim.chance.items()), ""]
    lines += _provenance(summary, run_dir)
    return "\n".join(lines) + "\n"


def _provenance(summary: dict[str, Any], run_dir: Path) -> list[str]:
    commit = summary.get("git_commit") or "unknown"
    dirty = {True: " (dirty work tree)", False: "", None: ""}[summary.get("git_dirty")]
    versions = ", ".join(f"{k} {v}" for k, v in (summary.get("versions") or {}).items() if v != "not installed")
    machine = summary.get("machine") or {}
    seeds = summary.get("config", {}).get("n_seeds")
    return [
        "<details><summary>provenance</summary>",
        "",
        f"- command: `{summary.get('command') or 'unknown (run before commands were recorded)'}`",
        f"- run directory: `{run_dir}`",
        f"- preset `{summary.get('preset')}`, root seed {summary.get('seed')}"
        + (f", {seeds} replicate seeds" if seeds else "") + f", device {summary.get('device')}",
        f"- commit {commit[:12]}{dirty}",
        f"- started {summary.get('started_utc')}, {summary.get('duration_s')} s, attempt {summary.get('attempt', 1)}",
        f"- machine: {machine.get('platform', 'unknown')}, {machine.get('cpus', '?')} CPUs",
        f"- versions: {versions}",
        "",
        "</details>",
    ]


def markdown_report(run_dirs: Sequence[Path]) -> str:
    parts = ["# Recast claims report", ""]
    parts += [f"<!-- recast-report: {d} -->\n{section(d)}<!-- /recast-report -->\n" for d in run_dirs]
    return "\n".join(parts)


def html_report(run_dirs: Sequence[Path], markdown: str) -> str:
    """A self-contained page: the Markdown (escaped, in <pre>) per run and its PNG figures as data URIs."""
    body = ["<h1>Recast claims report</h1>"]
    for run_dir in run_dirs:
        text = section(run_dir)
        verdict = re.search(r"\*\*Verdict: ([^*]+)\*\*", text)
        colour = {"holds": "#1a7f37", "does not hold": "#cf222e"}.get(verdict.group(1) if verdict else "", "#6e7781")
        body.append(f'<section><h2 style="color:{colour}">{html.escape(text.splitlines()[0].lstrip("# "))}</h2>')
        body.append(f"<pre>{html.escape(text)}</pre>")
        for png in sorted(Path(run_dir).glob("*.png")):
            data = base64.b64encode(png.read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(png.name)}</figcaption></figure>")
        body.append("</section>")
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}pre{white-space:pre-wrap}img{max-width:100%}"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Recast claims report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def rewrite_blocks(text: str) -> str:
    """`text` with every generated block regenerated from its run directory."""
    return BLOCK.sub(lambda m: f"<!-- recast-report: {m['run']} -->\n{section(Path(m['run']))}"
                               f"<!-- /recast-report -->", text)


def stale_blocks(text: str) -> list[str]:
    """The run directories whose generated block no longer matches what the run gives."""
    stale = []
    for match in BLOCK.finditer(text):
        try:
            fresh = section(Path(match["run"]))
        except UsageError:
            fresh = None
        if fresh != match["body"]:
            stale.append(match["run"])
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    from scenarios.run import _OneLineParser

    parser = _OneLineParser(prog="python -m scenarios.report", description=__doc__.split("\n")[0])
    parser.add_argument("run_dirs", nargs="*", help="run directories (default: the latest complete run per scenario)")
    parser.add_argument("--runs", default=None, help="runs root to search (default ./runs or $RECAST_RUNS)")
    parser.add_argument("--out", default="report", help="folder for report.md and report.html (default ./report)")
    parser.add_argument("--write", metavar="MD", help="regenerate the generated blocks of this Markdown file")
    parser.add_argument("--check", metavar="MD", help="exit 1 when a generated block of this file is stale")
    args = parser.parse_args(argv)
    try:
        if args.check or args.write:
            path = Path(args.check or args.write)
            if not path.is_file():
                raise UsageError(f"{path}: no such file")
            text = path.read_text()
            if args.check:
                stale = stale_blocks(text)
                for run in stale:
                    print(f"stale: the block for {run} does not match its run directory", file=sys.stderr)
                print(f"{len(BLOCK.findall(text))} generated block(s), {len(stale)} stale")
                return 1 if stale else 0
            path.write_text(rewrite_blocks(text))
            print(f"rewrote {len(BLOCK.findall(text))} block(s) in {path}")
            return 0
        run_dirs = [Path(d) for d in args.run_dirs] or latest_runs(Path(args.runs or default_runs_root()))
        if not run_dirs:
            raise UsageError("no complete run found; run a scenario first or name run directories")
        markdown = markdown_report(run_dirs)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(markdown)
        (out / "report.html").write_text(html_report(run_dirs, markdown))
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {out / 'report.md'} and {out / 'report.html'} ({len(run_dirs)} run(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
