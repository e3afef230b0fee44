"""Solve-time benchmark for :func:`agents.persuasion.solve_signaling`.

Run ``python -m benchmarks.bench_signaling [--repeats N]`` from the repository root.

Instances:
  * default: 4 states (TU, TP, MU, MP), prior (0.3, 0.4, 0.1, 0.2), symmetric
    Kronecker classifier Qb(0.8, 0.8), u(share) = ±1 by popularity, v(share) = −1
    for misinformation and α = 0.1 for truthful; no-share payoffs 0 (spec §1, §6).
  * large: the same game observed through a fine-grained random classifier with
    Ŝ = 10⁴ predicted states (rows of Q ~ Dirichlet(0.05), seed 0), A = 2.

Targets: ≤ 2 ms (default) and ≤ 1 s (large), median wall time per solve
(validation + LP build + HiGHS + evaluation).
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

from agents.persuasion import solve_signaling

TARGETS_S = {"default (S=4, A=2)": 2e-3, "large (Ŝ=10^4, A=2)": 1.0}


def default_instance(alpha: float = 0.1):
    """Default 4-state misinformation game: (prior, u, v, Q)."""
    acc = np.array([[0.8, 0.2], [0.2, 0.8]])
    q = np.kron(acc, acc)
    prior = np.array([0.3, 0.4, 0.1, 0.2])
    u = np.column_stack([np.zeros(4), [-1.0, 1.0, -1.0, 1.0]])
    v = np.column_stack([np.zeros(4), [alpha, alpha, -1.0, -1.0]])
    return prior, u, v, q


def large_instance(n_pred: int = 10_000, seed: int = 0):
    """Default game with a random (4, ``n_pred``) classifier: (prior, u, v, Q)."""
    prior, u, v, _ = default_instance()
    q = np.random.default_rng(seed).dirichlet(np.full(n_pred, 0.05), size=prior.size)
    return prior, u, v, q


def median_time(args: tuple, repeats: int, number: int) -> float:
    """Median over ``repeats`` of the mean time of ``number`` consecutive solves (s)."""
    times = timeit.repeat(lambda: solve_signaling(*args), number=number, repeat=repeats)
    return float(np.median(times)) / number


def main(argv: list[str] | None = None) -> None:
    """Prints a table of median solve times against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200,
                        help="timing repeats for the default instance (large: repeats // 20, ≥ 3)")
    args = parser.parse_args(argv)
    cases = [("default (S=4, A=2)", default_instance(), max(args.repeats, 3), 10),
             ("large (Ŝ=10^4, A=2)", large_instance(), max(args.repeats // 20, 3), 1)]
    print(f"{'instance':<22}{'V*':>12}{'median':>14}{'target':>12}  ok")
    for name, inst, repeats, number in cases:
        value = solve_signaling(*inst).value                 # warm-up + value
        t = median_time(inst, repeats, number)
        target = TARGETS_S[name]
        print(f"{name:<22}{value:>12.6f}{t * 1e3:>11.3f} ms{target * 1e3:>9.0f} ms  "
              f"{'yes' if t <= target else 'NO'}")


if __name__ == "__main__":
    main()
