"""Benchmark of the GGNS targets at one dimension: ln Z bias and calls vs dynesty (not a timed test).

Run ``python -m benchmarks.bench_ggns [--dim 32] [--n-live 200] [--seeds 16] [--dynesty-seeds 2]`` from the
repository root. Both samplers query the same :class:`envs.inference.LikelihoodMeter`. GGNS is cheap, so
it gets many seeds (its bias is resolved to ~0.1); dynesty's call count varies little between seeds, so
a couple of seeds give its cost (and a rough ln Z).

Targets (issue 3): at d = 32 on the Gaussian and the shells, |Δ ln Z| ≤ 0.5 and at least 5× fewer
likelihood + gradient evaluations than dynesty.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents.samplers import GGNS, run_dynesty
from envs.inference import LikelihoodMeter, make_problem
from scenarios.stats import format_table, mean_ci


def bench(problem_name: str, dim: int, n_live: int, seeds: int, dynesty_seeds: int) -> dict:
    problem = make_problem(problem_name, dim)
    out = {"problem": problem_name, "d": dim, "n_live": n_live}
    for sampler, n_seeds in (("ggns", seeds), ("dynesty", dynesty_seeds)):
        errors, reported, calls, like, wall = [], [], [], [], []
        for seed in range(n_seeds):
            meter = LikelihoodMeter(problem)
            start = time.perf_counter()
            if sampler == "ggns":
                r = GGNS(meter.log_likelihood, dim, problem.prior_transform, n_live=n_live, seed=seed,
                         progress=False).run()
            else:
                r = run_dynesty(meter.log_likelihood, dim, problem.prior_transform, n_live=n_live, seed=seed)
            wall.append(time.perf_counter() - start)
            errors.append(r.log_z - problem.log_z)
            reported.append(r.log_z_err)
            calls.append(meter.n_total)
            like.append(meter.n_likelihood)
        if not n_seeds:
            continue
        m, h = mean_ci(errors)
        out[f"{sampler} Δln Z"] = f"{m:+.3f} ± {h:.3f}"
        out[f"{sampler} scatter/reported"] = (f"{np.std(errors, ddof=1):.2f}/{np.mean(reported):.2f}"
                                              if n_seeds > 1 else f"-/{np.mean(reported):.2f}")
        out[f"{sampler} L+∇L"] = int(np.mean(calls))
        out[f"{sampler} wall s"] = round(float(np.mean(wall)), 1)
        out[f"_{sampler}_calls"], out[f"_{sampler}_like"], out[f"_{sampler}_bias"] = np.mean(calls), np.mean(like), m
    if "_dynesty_calls" in out:
        out["ratio L+∇L"] = round(out["_dynesty_calls"] / out["_ggns_calls"], 2)
        out["ratio value+grad calls"] = round(out["_dynesty_calls"] / out["_ggns_like"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--n-live", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--dynesty-seeds", type=int, default=2)
    parser.add_argument("--problems", nargs="+", default=["gaussian", "shells"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [bench(p, args.dim, args.n_live, args.seeds, args.dynesty_seeds) for p in args.problems]
    print(format_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]))
    for r in rows:
        verdicts = [f"|Δln Z| ≤ 0.5: {'yes' if abs(r['_ggns_bias']) <= 0.5 else 'no'}"]
        if "ratio L+∇L" in r:
            verdicts.append(f"≥ 5× fewer L+∇L evaluations: {'yes' if r['ratio L+∇L'] >= 5 else 'no'} "
                            f"(value+gradient calls: {'yes' if r['ratio value+grad calls'] >= 5 else 'no'})")
        print(f"{r['problem']} d={r['d']}: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
