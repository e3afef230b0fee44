"""Benchmark at one dimension: ln Z error and likelihood calls of GGNS (adaptive default, official kernel) vs dynesty.

Run ``python -m benchmarks.bench_ggns [--dim 32] [--n-live 200] [--seeds 8] [--official-seeds 3]
[--dynesty-seeds 2] [--problems gaussian shells]`` from the repository root. Every sampler queries the same
:class:`envs.inference.LikelihoodMeter`; "L+∇L" counts a value and a gradient as two evaluations, "calls"
counts one value(+gradient) call per point (how gradNS and the paper count). Each finished run is printed
as it ends (``--log``), then the table and the target verdicts.

Targets (issue 21): at d = 32 on the Gaussian and the shells the default kernel's |mean Δln Z| ≤ 0.5.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from agents.samplers import GGNS, run_dynesty, run_nautilus
from envs.inference import LikelihoodMeter, make_problem
from scenarios.stats import format_table, mean_ci


def one_run(sampler: str, problem, dim: int, n_live: int, seed: int) -> dict:
    meter = LikelihoodMeter(problem)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a warning is kept in the result and counted below
        if sampler == "dynesty":
            r = run_dynesty(meter.log_likelihood, dim, problem.prior_transform, n_live=n_live, seed=seed)
        elif sampler == "nautilus":  # its own default n_live (2000): it reuses every evaluation
            r = run_nautilus(meter.log_likelihood, dim, problem.prior_transform, seed=seed)
        else:
            r = GGNS(meter.log_likelihood, dim, problem.prior_transform, n_live=n_live, seed=seed, progress=False,
                     kernel=sampler.split("-")[1]).run()
    return {"error": r.log_z - problem.log_z, "reported": r.log_z_err, "total": meter.n_total,
            "calls": meter.n_likelihood, "wall": time.perf_counter() - start, "warned": bool(r.warnings),
            "decorrelation": r.decorrelation}


def bench(problem_name: str, dim: int, n_live: int, seeds: dict[str, int], log: bool, first: int = 0) -> list[dict]:
    problem = make_problem(problem_name, dim)
    rows = []
    for sampler, n_seeds in seeds.items():
        runs = []
        for seed in range(first, first + n_seeds):
            runs.append(one_run(sampler, problem, dim, n_live, seed))
            if log:
                print(f"{problem_name} d={dim} {sampler} seed {seed}: " + ", ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in runs[-1].items()), flush=True)
        if not runs:
            continue
        errors = [r["error"] for r in runs]
        m, h = mean_ci(errors) if len(errors) > 1 else (errors[0], float("nan"))
        rows.append({
            "problem": problem_name, "d": dim, "sampler": sampler, "n_live": n_live, "seeds": n_seeds,
            "Δln Z": f"{m:+.3f} ± {h:.3f}", "|Δln Z|": round(abs(m), 3),
            "scatter / reported σ": (f"{np.std(errors, ddof=1):.2f} / " if len(errors) > 1 else "– / ")
            + f"{np.mean([r['reported'] for r in runs]):.2f}",
            "calls": int(np.mean([r["calls"] for r in runs])), "L+∇L": int(np.mean([r["total"] for r in runs])),
            "wall s": round(float(np.mean([r["wall"] for r in runs])), 1),
            "warned": f"{sum(r['warned'] for r in runs)}/{n_seeds}", "_bias": m,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=8, help="seeds of the default (adaptive) kernel")
    parser.add_argument("--official-seeds", type=int, default=3)
    parser.add_argument("--dynesty-seeds", type=int, default=2)
    parser.add_argument("--nautilus-seeds", type=int, default=0, help="the optional nautilus peer (its n_live 2000)")
    parser.add_argument("--problems", nargs="+", default=["gaussian", "shells"])
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (to split a run)")
    parser.add_argument("--log", action="store_true", help="print every run as it finishes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = {"ggns-adaptive": args.seeds, "ggns-official": args.official_seeds, "dynesty": args.dynesty_seeds,
             "nautilus": args.nautilus_seeds}
    rows = [row for p in args.problems for row in bench(p, args.dim, args.n_live, seeds, args.log, args.first_seed)]
    print(format_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]))
    for r in rows:
        if r["sampler"] == "ggns-adaptive":
            print(f"{r['problem']} d={r['d']} default kernel |Δln Z| ≤ 0.5: {'yes' if abs(r['_bias']) <= 0.5 else 'no'}")


if __name__ == "__main__":
    main()
