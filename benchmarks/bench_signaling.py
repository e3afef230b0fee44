"""Solve-time benchmark for :func:`agents.persuasion.solve_signaling`.

Run ``python -m benchmarks.bench_signaling [--repeats N]`` from the repository root.

Instances:
  * default: 4 states (TU, TP, MU, MP), prior (0.3, 0.4, 0.1, 0.2), symmetric
    Kronecker classifier Qb(0.8, 0.8), u(share) = ±1 by popularity, v(share) = −1
    for misinformation and α = 0.1 for truthful; no-share payoffs 0 (spec §1, §6).
  * large: the same game observed through a fine-grained random classifier with
    Ŝ = 10⁴ predicted states (rows of Q ~ Dirichlet(0.05), seed 0), A = 2.
  * robust: the default game with obedience imposed at 100 user priors (the vertices of the
    polytope, μ_k = μ + 0.05 d_k, ``robust_instance``) and ε = 0.01 slack —
    :func:`agents.persuasion.solve_robust_signaling`, 200 obedience rows.

Targets: ≤ 2 ms (default), ≤ 1 s (large) and ≤ 100 ms (robust), median wall time per solve
(validation + LP build + HiGHS + evaluation).
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np

from agents.persuasion import solve_robust_signaling, solve_signaling

TARGETS_S = {"default (S=4, A=2)": 2e-3, "large (Ŝ=10^4, A=2)": 1.0, "robust (V=100, ε=0.01)": 0.1}


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


def robust_instance(n_vertices: int = 100, spread: float = 0.05, seed: int = 0):
    """Default game plus ``n_vertices`` user priors μ + spread·d_k (d_k centred, ‖d_k‖∞ = 1)."""
    prior, u, v, q = default_instance()
    z = np.random.default_rng(seed).normal(size=(n_vertices, prior.size))
    d = z - z.mean(axis=1, keepdims=True)
    vertices = prior + spread * d / np.abs(d).max(axis=1, keepdims=True)
    return prior, u, v, q, vertices


def solve(args: tuple):
    """The plain LP for (prior, u, v, Q); the robust LP (ε = 0.01) when vertices are appended."""
    if len(args) == 5:
        return solve_robust_signaling(*args[:4], user_priors=args[4], slack=0.01)
    return solve_signaling(*args)


def median_time(args: tuple, repeats: int, number: int) -> float:
    """Median over ``repeats`` of the mean time of ``number`` consecutive solves (s)."""
    times = timeit.repeat(lambda: solve(args), number=number, repeat=repeats)
    return float(np.median(times)) / number


def main(argv: list[str] | None = None) -> None:
    """Prints a table of median solve times against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200,
                        help="timing repeats for the default instance (large: repeats // 20, ≥ 3)")
    args = parser.parse_args(argv)
    cases = [("default (S=4, A=2)", default_instance(), max(args.repeats, 3), 10),
             ("large (Ŝ=10^4, A=2)", large_instance(), max(args.repeats // 20, 3), 1),
             ("robust (V=100, ε=0.01)", robust_instance(), max(args.repeats // 4, 3), 1)]
    print(f"{'instance':<24}{'V*':>12}{'median':>14}{'target':>12}  ok")
    for name, inst, repeats, number in cases:
        value = solve(inst).value                            # warm-up + value
        t = median_time(inst, repeats, number)
        target = TARGETS_S[name]
        print(f"{name:<24}{value:>12.6f}{t * 1e3:>11.3f} ms{target * 1e3:>9.0f} ms  "
              f"{'yes' if t <= target else 'NO'}")


if __name__ == "__main__":
    main()
