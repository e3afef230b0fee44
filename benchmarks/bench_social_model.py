"""User-decision throughput of :class:`envs.social.model.MisinformationModel`: vectorised vs per-agent loop.

Run ``python -m benchmarks.bench_social_model [--users N] [--rounds R] [--posts P]`` from the repository root.

Instance: the spec's default game (prior (0.3, 0.4, 0.1, 0.2), Kronecker classifier Qb(0.8, 0.8),
u(share) = ±1 by popularity, α = 0.1) under full revelation of θ̂ (the model's default scheme:
recommend share iff θ̂ is popular, so about half the posts cascade), homogeneous Bayesian users on an
Erdős–Rényi network with average degree 8, view probability 0.3, max 6 hops. Both modes are built with
the same seed and config (hence the same network) and run the same number of rounds.

A user decision is one exposure of a user to a post (each is a share/no-share decision). Throughput is
the total number of decisions over the wall time of the ``step()`` calls (sampling, cascades, counters,
DataCollector; model construction excluded). Targets: vectorised ≥ 1,000,000 decisions/s and ≥ 50× the
per-agent loop. Both paths compute each user's decision per signal once per round (the per-agent loop
caches ``agent.decide(σ)`` per (agent, σ)), so the speed-up measures the loop, not repeated Bayes updates.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from envs.social.game import SocialGame
from envs.social.model import MisinformationModel, full_revelation_scheme

TARGET_DECISIONS_PER_S = 1_000_000
TARGET_SPEEDUP = 50.0
STATISTICS = ("share_rate", "misinformation_share_rate", "mean_cascade_size", "n_decisions")


def time_rounds(step_mode: str, users: int, posts: int, rounds: int, seed: int) -> tuple[float, pd.DataFrame]:
    """Build a model, run ``rounds`` rounds; return (decisions per second, per-round DataFrame)."""
    model = MisinformationModel(SocialGame.default(), n_users=users, graph="erdos_renyi", avg_degree=8.0,
                                posts_per_round=posts, view_probability=0.3, max_hops=6,
                                step_mode=step_mode, rng=seed)
    start = time.perf_counter()
    for _ in range(rounds):
        model.step()
    elapsed = time.perf_counter() - start
    frame = model.datacollector.get_model_vars_dataframe()
    return float(frame.n_decisions.sum()) / elapsed, frame


def main(argv: list[str] | None = None) -> None:
    """Print decisions/s of both modes, their ratio, and the outcome statistics side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode (vectorised runs 4x as many)")
    parser.add_argument("--posts", type=int, default=500, help="posts per round")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    time_rounds("vectorized", args.users, args.posts, 1, args.seed)  # warm-up (imports, allocator)
    fast, fast_frame = time_rounds("vectorized", args.users, args.posts, 4 * args.rounds, args.seed)
    slow, slow_frame = time_rounds("agents", args.users, args.posts, args.rounds, args.seed)
    speedup = fast / slow

    print(f"N={args.users} users, ER avg degree 8, {args.posts} posts/round, view p=0.3, max 6 hops; "
          f"rounds: vectorised {4 * args.rounds}, agents {args.rounds}")
    print(f"{'mode':<12}{'decisions/s':>16}{'target':>14}  ok")
    print(f"{'vectorized':<12}{fast:>16,.0f}{TARGET_DECISIONS_PER_S:>14,}  "
          f"{'yes' if fast >= TARGET_DECISIONS_PER_S else 'NO'}")
    print(f"{'agents':<12}{slow:>16,.0f}")
    print(f"{'speed-up':<12}{speedup:>15.1f}x{TARGET_SPEEDUP:>13.0f}x  {'yes' if speedup >= TARGET_SPEEDUP else 'NO'}")
    game = SocialGame.default()
    exact = game.outcomes(full_revelation_scheme(game))
    exact_values = {"share_rate": exact.p_share, "misinformation_share_rate": exact.p_share_and_misinformation}
    print("\nper-round outcome statistics, mean ± standard error (exact: game.outcomes, seed exposures)")
    print(f"{'statistic':<28}{'vectorized':>24}{'agents':>24}{'exact':>10}")
    for name in STATISTICS:
        cells = [f"{frame[name].mean():.4g} ± {frame[name].sem():.2g}" for frame in (fast_frame, slow_frame)]
        exact_cell = f"{exact_values[name]:.4g}" if name in exact_values else "-"
        print(f"{name:<28}{cells[0]:>24}{cells[1]:>24}{exact_cell:>10}")


if __name__ == "__main__":
    main()
