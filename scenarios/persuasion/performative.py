"""``misinformation_performative``: repeated persuasion whose interventions change future behaviour.

Round t: the platform commits to a scheme φ_t for the users' current prior μ_t, users best-respond,
and next round's prior is formed from what got shared (spec §5.2, our reconstruction):

    μ_{t+1} = (1 − η) μ_base + η · post_t,     post_t(θ) ∝ μ_t(θ) P(share | θ; φ_t).

Three platforms are compared on the same dynamics: ``resolve`` re-solves the LP every round,
``fixed`` keeps its round-0 LP scheme, ``none`` sends no signal (users act on their prior). For every
(η, classifier accuracy) we report whether the dynamics converge (‖μ_{t+1} − μ_t‖∞ < tol), after
how many rounds, the fixed point's misinformation share and utility, cycles, and — by restarting
from perturbed fixed points — whether the fixed point is stable. The Mesa network replays the
reference cell over seeds (its prior formed from the empirically shared posts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from envs.social import SocialGame, performative_update
from scenarios.persuasion.common import GameConfig, NetworkConfig, optimal_scheme
from scenarios.plotting import line_with_ci, lines
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.stats import markdown_table, mean_ci

PLATFORMS = ("resolve", "fixed", "none")
FIGURE_ROUNDS = 80


@dataclass
class PerformativeConfig:
    game: GameConfig = field(default_factory=GameConfig)  # game.prior is μ_base, the fresh content
    network: NetworkConfig = field(default_factory=lambda: NetworkConfig(rounds=25, posts_per_round=500))
    eta: float = 0.5  # reference feedback weight η (figures, simulation, stability)
    etas: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0])
    accuracies: list[float] = field(default_factory=lambda: [0.6, 0.7, 0.8, 0.9, 1.0])
    max_rounds: int = 200
    tol: float = 1e-10  # convergence: ‖μ_{t+1} − μ_t‖∞ < tol
    perturbation: float = 0.02  # size of the perturbations of the fixed point (‖δ‖∞)
    n_perturbations: int = 8
    n_seeds: int = 5  # Mesa replicates of the reference cell
    simulate: bool = True

    def validate(self) -> None:
        self.game.validate()
        self.network.validate()
        for eta in [self.eta, *self.etas]:
            if not 0.0 < eta <= 1.0:
                raise ValueError(f"eta must lie in (0, 1], got {eta}")
        if any(not 0.0 <= a <= 1.0 for a in self.accuracies) or not self.accuracies:
            raise ValueError(f"accuracies must be a non-empty list in [0, 1], got {self.accuracies}")
        if self.max_rounds < 2 or self.tol <= 0 or self.n_seeds < 2:
            raise ValueError("max_rounds >= 2, tol > 0 and n_seeds >= 2 required")


def uninformative_scheme(game: SocialGame) -> np.ndarray:
    """No intervention: the same recommendation for every θ̂, so users act on their prior."""
    return np.ones(game.n_predictions)


def platform_policy(name: str, base: SocialGame) -> Callable[[SocialGame], np.ndarray]:
    if name == "resolve":
        return optimal_scheme
    if name == "fixed":
        round0 = optimal_scheme(base)
        return lambda game: round0
    return uninformative_scheme


@dataclass
class Trajectory:
    priors: np.ndarray  # (T + 1, S)
    misinformation: np.ndarray  # (T,) P(share ∧ misinformation) per round
    utility: np.ndarray  # (T,) platform utility per round
    converged_at: int | None  # first t with ‖μ_{t+1} − μ_t‖∞ < tol
    cycle: int | None  # period of a detected cycle when not converged

    def settled(self, values: np.ndarray) -> float:
        """Where a per-round quantity settles: its last value, or its mean over the final cycle."""
        return float(values[-self.cycle:].mean() if self.cycle else values[-1])

    def describe(self) -> str:
        if self.converged_at is not None:
            return f"converged in {self.converged_at}"
        return f"cycle of period {self.cycle}" if self.cycle else f"no convergence in {len(self.misinformation)}"


def run_dynamics(base: SocialGame, eta: float, platform: str, max_rounds: int, tol: float,
                 start: np.ndarray | None = None) -> Trajectory:
    """Iterate the performative map from `start` (default μ_base) until convergence or max_rounds."""
    policy = platform_policy(platform, base)
    prior = base.prior if start is None else start
    priors, mis, util, converged = [prior], [], [], None
    for t in range(max_rounds):
        game = base.with_prior(prior)
        out = game.outcomes(policy(game))
        mis.append(out.p_share_and_misinformation)
        util.append(out.platform_utility)
        prior_next, _ = performative_update(prior, base.prior, out.share_given_state, eta)
        priors.append(prior_next)
        if np.max(np.abs(prior_next - prior)) < tol:
            converged = t + 1
            break
        prior = prior_next
    priors_arr = np.array(priors)
    cycle = None if converged is not None else _cycle_period(priors_arr)
    return Trajectory(priors_arr, np.array(mis), np.array(util), converged, cycle)


def _cycle_period(priors: np.ndarray, atol: float = 1e-8) -> int | None:
    for p in range(2, len(priors) // 2):
        if len(priors) > 2 * p and np.all(np.abs(priors[-p:] - priors[-2 * p:-p]) < atol):
            return p
    return None


def perturbation_test(base: SocialGame, eta: float, fixed_point: np.ndarray, cfg: PerformativeConfig,
                      rng: np.random.Generator) -> tuple[float, float]:
    """Restart the re-solving dynamics from perturbed fixed points.

    Returns (fraction that return to within 1e-6 of μ*, largest ‖μ_end − μ*‖∞).
    """
    returned, worst = 0, 0.0
    for _ in range(cfg.n_perturbations):
        direction = rng.normal(size=fixed_point.size)
        direction -= direction.mean()  # stay on the simplex's plane
        start = np.clip(fixed_point + cfg.perturbation * direction / np.abs(direction).max(), 0.0, None)
        start /= start.sum()
        end = run_dynamics(base, eta, "resolve", cfg.max_rounds, cfg.tol, start).priors[-1]
        distance = float(np.abs(end - fixed_point).max())
        returned += distance < 1e-6
        worst = max(worst, distance)
    return returned / cfg.n_perturbations, worst


def simulate_platform(cfg: PerformativeConfig, base: SocialGame, platform: str, seed: int) -> pd.DataFrame:
    """The Mesa world under the performative dynamics; the platform re-solves on the model's prior."""
    policy = platform_policy(platform, base)
    model = cfg.network.build(base, policy(base), seed, performative_eta=cfg.eta)
    rows = []
    for t in range(cfg.network.rounds):
        game = base.with_prior(model.content_prior)
        model.set_scheme(policy(game))
        model.step()
        rows.append({"round": t, "platform": platform, "misinformation_share_rate":
                     float(model.last_round["misinformation_share_rate"]),
                     "platform_utility": float(model.last_round["platform_utility"]),
                     **{f"prior_{n}": float(p) for n, p in zip(base.state_names, model.content_prior)}})
    return pd.DataFrame(rows)


def run(cfg: PerformativeConfig, ctx: RunContext) -> ScenarioResult:
    rng = ctx.seeds.generator("perturbations")
    cells = [(eta, acc) for eta in cfg.etas for acc in cfg.accuracies]
    reference = (cfg.eta, None)
    grid_rows, trajectories = [], {}
    for eta, acc in ctx.progress([*cells, reference], desc="cells"):
        base = cfg.game.build(accuracy=acc)
        for platform in PLATFORMS:
            traj = run_dynamics(base, eta, platform, cfg.max_rounds, cfg.tol)
            row = {"eta": eta, "accuracy": acc if acc is not None else cfg.game.misinformation_accuracy,
                   "cell": "reference" if acc is None else "grid", "platform": platform,
                   "converged": traj.converged_at is not None, "rounds": traj.converged_at or cfg.max_rounds,
                   "cycle_period": traj.cycle or 0,
                   "round0_misinformation": traj.misinformation[0],
                   "final_misinformation": traj.settled(traj.misinformation),
                   "final_utility": traj.settled(traj.utility),
                   "final_prior": np.round(traj.priors[-1], 6).tolist()}
            if platform == "resolve" and traj.converged_at is not None:
                row["stable_fraction"], row["max_return_distance"] = perturbation_test(
                    base, eta, traj.priors[-1], cfg, rng)
            grid_rows.append(row)
            ctx.log({k: v for k, v in row.items()})
            if acc is None:
                trajectories[platform] = traj
    grid = pd.DataFrame(grid_rows)
    grid.to_csv(ctx.path("dynamics.csv"), index=False)

    sims = pd.DataFrame()
    if cfg.simulate:
        base = cfg.game.build()
        frames = [simulate_platform(cfg, base, platform, seed).assign(seed=r)
                  for platform in PLATFORMS for r, seed in enumerate(ctx.seeds.replicates(cfg.n_seeds))]
        sims = pd.concat(frames, ignore_index=True)
        sims.to_csv(ctx.path("simulated.csv"), index=False)

    _figures(cfg, ctx, trajectories, grid, sims)

    ref = grid[grid.cell == "reference"].set_index("platform")
    table = []
    for platform in PLATFORMS:
        r = ref.loc[platform]
        entry = {"platform": platform, "dynamics": trajectories[platform].describe(),
                 "round-0 mis-share": round(r.round0_misinformation, 4),
                 "settled mis-share": round(r.final_misinformation, 4), "settled utility": round(r.final_utility, 4)}
        if not sims.empty:
            last = sims[(sims.platform == platform) & (sims["round"] == cfg.network.rounds - 1)]
            mean, half = mean_ci(last.misinformation_share_rate)
            entry[f"Mesa mis-share, round {cfg.network.rounds}"] = f"{mean:.4f} ± {half:.4f}"
        table.append(entry)
    (ctx.path("table.md")).write_text(markdown_table(table) + "\n\n" + markdown_table(
        grid[grid.platform == "resolve"].drop(columns=["final_prior"]).round(4).to_dict("records")) + "\n")

    resolve = ref.loc["resolve"]
    metrics = {
        "resolve_final_misinformation": float(resolve.final_misinformation),
        "resolve_round0_misinformation": float(resolve.round0_misinformation),
        "resolve_converged": float(resolve.converged),
        "resolve_rounds_to_converge": float(resolve.rounds),
        "resolve_final_utility": float(resolve.final_utility),
        "fixed_final_misinformation": float(ref.loc["fixed"].final_misinformation),
        "none_final_misinformation": float(ref.loc["none"].final_misinformation),
        "resolve_stable_fraction": float(resolve.get("stable_fraction", np.nan)),
        "grid_converged_fraction": float(grid[grid.platform == "resolve"].converged.mean()),
    }
    if not sims.empty:
        last = sims[(sims.platform == "resolve") & (sims["round"] == cfg.network.rounds - 1)]
        metrics["resolve_simulated_final_misinformation"] = float(last.misinformation_share_rate.mean())
    return ScenarioResult(metrics=metrics, table=table)


def _figures(cfg: PerformativeConfig, ctx: RunContext, trajectories: dict[str, Trajectory], grid: pd.DataFrame,
             sims: pd.DataFrame) -> None:
    # Exact trajectories are drawn until they converge (then held flat) or up to FIGURE_ROUNDS rounds.
    horizon = min(cfg.max_rounds, max(FIGURE_ROUNDS, cfg.network.rounds if not sims.empty else 0))

    def held(values: np.ndarray, length: int) -> np.ndarray:  # a converged trajectory stays at its fixed point
        values = values[:length]
        return np.concatenate([values, np.repeat(values[-1:], length - len(values), axis=0)])

    series: dict = {f"{p} (exact)": held(t.misinformation, horizon) for p, t in trajectories.items()}
    bands = {}
    if not sims.empty:
        for p in PLATFORMS:
            per_round = sims[sims.platform == p].groupby("round").misinformation_share_rate.agg(list)
            ci = np.array([mean_ci(v) for v in per_round])
            series[f"{p} (Mesa, ±95% CI)"] = (per_round.index.to_numpy(), ci[:, 0])
            bands[f"{p} (Mesa, ±95% CI)"] = ci[:, 1]
    lines(np.arange(horizon), series, ctx.path("misinformation_over_rounds.png"), bands=bands, xlabel="round",
          ylabel="P(share ∧ misinformation)", title=f"Performative dynamics (η = {cfg.eta})")

    priors = held(trajectories["resolve"].priors, horizon + 1)
    names = cfg.game.build().state_names
    lines(np.arange(horizon + 1), {f"μ({n})": priors[:, i] for i, n in enumerate(names)},
          ctx.path("prior_over_rounds.png"), xlabel="round", ylabel="prior probability",
          title=f"User prior under the re-solving platform (η = {cfg.eta})")

    fixed_points = grid[grid.cell == "grid"].rename(columns={"eta": "η"})
    line_with_ci(fixed_points, "accuracy", "final_misinformation", "platform", ctx.path("fixed_point_misinformation.png"),
                 facet="η", ylabel="P(share ∧ misinformation) at the end",
                 title="Where the dynamics settle, by classifier accuracy and η")


PRESETS = {
    "smoke": {"etas": [0.5, 1.0], "accuracies": [0.8, 1.0], "max_rounds": 60, "n_perturbations": 2, "n_seeds": 2,
              "network": {"n_users": 200, "posts_per_round": 200, "rounds": 5}},
    "cpu": {},
    "paper": {"etas": [0.1, 0.25, 0.5, 0.75, 1.0], "accuracies": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0],
              "max_rounds": 2000, "n_perturbations": 32, "n_seeds": 20,
              "network": {"n_users": 10000, "posts_per_round": 5000, "rounds": 60}},
}

SCENARIO = Scenario(
    name="misinformation_performative",
    description="Repeated persuasion with performative priors: convergence, fixed point, stability (+ Mesa)",
    config=PerformativeConfig,
    run=run,
    presets=PRESETS,
    main_metric="resolve_final_misinformation",
)
