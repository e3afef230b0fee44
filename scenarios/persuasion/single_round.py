"""``misinformation_single_round``: optimal signalling vs baselines across classifier accuracy and α.

For every engagement weight α and classifier accuracy (both Kronecker factors), each sender policy
(the LP optimum and the baselines of spec §6) commits to a scheme; we report P(share ∧ misinformation),
P(share) and the platform's utility twice, side by side:

* analytic — exact expectations of the game (users best-respond to the scheme by Bayes' rule);
* simulated — the Mesa social network plays ``network.rounds`` rounds per seed; mean ± 95 % CI over
  ``n_seeds`` seeds of the seed-exposure rates (whose expectations are the analytic values).

Classifier quality the right way (spec §4): "better" means Blackwell more informative, not a higher
accuracy number. Along chains Q, Q G_1, Q G_1 G_2, … of random garblings of the reference classifier
(``envs.social.garbling_chain``) the optimal platform utility V* can never rise (a theorem: the platform
with Q can simulate Q G); the figure ``garbling_chain.png`` draws V* along each chain with the
no-signal value, where an uninformative classifier ends.

The formal model is our reconstruction of Hossain et al. (ICML 2024); see the README.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from agents.persuasion import solve_signaling
from envs.social import garbling_chain
from scenarios.claims import Better, Claim
from scenarios.persuasion.common import SENDERS, GameConfig, NetworkConfig, check_policies
from scenarios.plotting import line_with_ci, lines
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.stats import aggregate, ci_table, markdown_table
from scenarios.validation import param

METRICS = ("p_share_and_misinformation", "p_share", "platform_utility")
SIMULATED = {"misinformation_share_rate": "p_share_and_misinformation", "share_rate": "p_share",
             "platform_utility": "platform_utility"}


@dataclass
class SingleRoundConfig:
    game: GameConfig = field(default_factory=GameConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    accuracies: list[float] = param([0.5, 0.6, 0.7, 0.8, 0.9, 1.0], ge=0, le=1, nonempty=True)
    engagement_weights: list[float] = param([0.0, 0.1, 0.3], ge=0, le=1000, nonempty=True)
    policies: list[str] = param(list(SENDERS), choices=tuple(SENDERS), nonempty=True)
    n_seeds: int = param(5, ge=1, le=10_000)  # simulated replicates (fresh network and posts) per cell
    garbling_chains: int = param(6, ge=1, le=10_000)  # random chains Q, Q G_1, Q G_1 G_2, … (reference game)
    garbling_steps: int = param(12, ge=1, le=10_000)  # garblings per chain
    garbling_strength: float = param(0.15, gt=0, le=1)  # G = (1 − g) I + g R, rows of R ~ Dirichlet(1)

    def validate(self) -> None:
        self.game.validate()
        self.network.validate()
        check_policies(self.policies)
        if any(not 0.0 <= a <= 1.0 for a in self.accuracies) or not self.accuracies:
            raise ValueError(f"accuracies must be a non-empty list in [0, 1], got {self.accuracies}")
        if self.n_seeds < 2:
            raise ValueError(f"n_seeds must be >= 2 for a confidence interval, got {self.n_seeds}")


def simulate(network: NetworkConfig, game, scheme: np.ndarray, seed: int) -> dict[str, float]:
    """Mean per-round statistics of the Mesa world over ``network.rounds`` rounds."""
    model = network.build(game, scheme, seed)
    rounds = []
    for _ in range(network.rounds):
        model.step()
        rounds.append({k: float(model.last_round[k]) for k in
                       ("share_rate", "misinformation_share_rate", "platform_utility", "mean_cascade_size",
                        "misinformation_cascade_size")})
    return pd.DataFrame(rounds).mean().to_dict()


def coverage(agg: pd.DataFrame, metrics=METRICS) -> dict[str, float]:
    """How often the simulated 95 % CIs cover the analytic values, over (cell, policy, metric) triples.

    A triple whose replicates are all identical has a zero-width CI: it says nothing about coverage, so
    it is excluded from ``analytic_covered_fraction`` and counted in ``zero_variance_cells``; for those,
    ``zero_variance_exact_fraction`` is the share whose constant equals the analytic value (to 1e-9).
    ``agg`` has ``<m>_mean``, ``<m>_ci95`` and the analytic ``<m>`` columns.
    """
    covered, zero, exact = [], 0, 0
    for m in metrics:
        diff = (agg[m] - agg[f"{m}_mean"]).abs()
        width = agg[f"{m}_ci95"]
        degenerate = width <= 1e-15
        zero += int(degenerate.sum())
        exact += int((degenerate & (diff <= 1e-9)).sum())
        covered += (diff <= width)[~degenerate].tolist()
    return {"analytic_covered_fraction": float(np.mean(covered)) if covered else float("nan"),
            "analytic_covered_cells": float(len(covered)), "zero_variance_cells": float(zero),
            "zero_variance_exact_fraction": exact / zero if zero else float("nan")}


def garbling_values(cfg: SingleRoundConfig, rng: np.random.Generator) -> pd.DataFrame:
    """V* and the LP's P(share ∧ mis) along random garbling chains of the reference game's classifier."""
    game = cfg.game.build()
    rows = []
    for chain in range(cfg.garbling_chains):
        for step, confusion in enumerate(garbling_chain(game.confusion, cfg.garbling_steps, cfg.garbling_strength,
                                                        rng)):
            solution = solve_signaling(game.prior, game.user_utility, game.platform_utility, confusion)
            outcome = game.with_confusion(confusion).outcomes(solution.scheme)
            rows.append({"chain": chain, "step": step, "value": solution.value,
                         "p_share_and_misinformation": outcome.p_share_and_misinformation})
    return pd.DataFrame(rows)


def garbling_figure(frame: pd.DataFrame, no_signal_value: float, path) -> None:
    steps = np.sort(frame.step.unique())
    series = {f"chain {c}": part.sort_values("step").value.to_numpy() for c, part in frame.groupby("chain")}
    series["no signal (uninformative classifier)"] = np.full(steps.size, no_signal_value)
    lines(steps, series, path, xlabel="garblings applied (Q → Q G_1 → Q G_1 G_2 → …)",
          ylabel="optimal platform utility V*",
          title="V* along random Blackwell-garbling chains (reference game)")


def run(cfg: SingleRoundConfig, ctx: RunContext) -> ScenarioResult:
    seeds = ctx.seeds.replicates(cfg.n_seeds)
    cells = [("grid", a, acc) for a in cfg.engagement_weights for acc in cfg.accuracies] + [("reference", None, None)]
    analytic, simulated = [], []
    for kind, alpha, acc in ctx.progress(cells, desc="cells"):
        game = cfg.game.build(accuracy=acc, engagement_weight=alpha)
        alpha = cfg.game.engagement_weight if alpha is None else alpha
        key = {"cell": kind, "alpha": alpha, "accuracy": acc if acc is not None else cfg.game.misinformation_accuracy}
        for policy in cfg.policies:
            scheme = SENDERS[policy](game)
            exact = game.outcomes(scheme).as_dict()
            analytic.append({**key, "policy": policy, **{m: exact[m] for m in METRICS}})
            for r, seed in enumerate(seeds):  # the same seeds for every policy: common random numbers
                sim = simulate(cfg.network, game, scheme, seed)
                row = {**key, "policy": policy, "seed": r, **{SIMULATED[k]: sim[k] for k in SIMULATED},
                       "mean_cascade_size": sim["mean_cascade_size"],
                       "misinformation_cascade_size": sim["misinformation_cascade_size"]}
                simulated.append(row)
                ctx.log(row)
    analytic_df, sim_df = pd.DataFrame(analytic), pd.DataFrame(simulated)
    analytic_df.to_csv(ctx.path("analytic.csv"), index=False)
    sim_df.to_csv(ctx.path("simulated.csv"), index=False)

    # Side-by-side table: analytic value, simulated mean ± CI, and whether the CI covers the analytic value.
    by = ["cell", "alpha", "accuracy", "policy"]
    agg = aggregate(sim_df, by, [*METRICS, "mean_cascade_size"]).merge(analytic_df, on=by, suffixes=("", "_analytic"))
    for m in METRICS:  # zero-width CIs (identical replicates) are not coverage evidence: NaN here
        agg[f"{m}_covered"] = ((agg[m] - agg[f"{m}_mean"]).abs() <= agg[f"{m}_ci95"]).where(agg[f"{m}_ci95"] > 1e-15)
    agg.to_csv(ctx.path("comparison.csv"), index=False)

    ref_sim, ref_an = sim_df[sim_df.cell == "reference"], analytic_df[analytic_df.cell == "reference"]
    short = {"p_share_and_misinformation": "P(share∧mis)", "p_share": "P(share)", "platform_utility": "utility"}
    simulated_ci = {row["policy"]: row for row in ci_table(ref_sim, ["policy"], [*METRICS, "mean_cascade_size"])}
    table = []
    for _, exact in ref_an.iterrows():
        sim = simulated_ci[exact["policy"]]
        row = {"policy": exact["policy"]}
        for m in METRICS:
            row[short[m]] = round(float(exact[m]), 4)
            row[f"{short[m]} sim"] = sim[m]
        row["cascade sim"] = sim["mean_cascade_size"]
        table.append(row)
    sections = [f"Reference game (α = {cfg.game.engagement_weight}, accuracy = {cfg.game.misinformation_accuracy}):",
                markdown_table(table)]
    for alpha, part in agg[agg.cell == "grid"].groupby("alpha"):
        pivot = part.pivot_table(index="accuracy", columns="policy", values="p_share_and_misinformation", sort=False)
        sections += [f"P(share ∧ misinformation), analytic, α = {alpha}:",
                     markdown_table([{"accuracy": acc, **row.round(4).to_dict()} for acc, row in pivot.iterrows()])]
    ctx.path("table.md").write_text("\n\n".join(sections) + "\n")

    grid_sim, grid_an = sim_df[sim_df.cell == "grid"], analytic_df[analytic_df.cell == "grid"]
    line_with_ci(grid_sim, "accuracy", "p_share_and_misinformation", "policy", ctx.path("misinformation_vs_accuracy.png"),
                 facet="alpha", reference=grid_an, ylabel="P(share ∧ misinformation)",
                 title="Misinformation shared vs classifier accuracy (simulated ± 95% CI; dashed: analytic)")
    line_with_ci(grid_sim, "accuracy", "platform_utility", "policy", ctx.path("platform_utility_vs_accuracy.png"),
                 facet="alpha", reference=grid_an, ylabel="platform utility",
                 title="Platform utility vs classifier accuracy (simulated ± 95% CI; dashed: analytic)")

    metrics: dict[str, float] = {}
    for _, row in ref_an.iterrows():
        for m in METRICS:
            metrics[f"{row['policy']}_{m}"] = float(row[m])
    for policy, group in ref_sim.groupby("policy"):
        metrics[f"{policy}_simulated_p_share_and_misinformation"] = float(group["p_share_and_misinformation"].mean())
    if {"optimal", "no_signal"} <= set(cfg.policies):
        base = metrics["no_signal_p_share_and_misinformation"]
        metrics["optimal_misinformation_reduction_vs_no_signal"] = (
            1.0 - metrics["optimal_p_share_and_misinformation"] / base if base > 0 else 0.0)
    metrics.update(coverage(agg))

    garbled = garbling_values(cfg, ctx.seeds.generator("garbling"))
    garbled.to_csv(ctx.path("garbling_chain.csv"), index=False)
    reference = cfg.game.build()
    no_signal_value = reference.outcomes(SENDERS["no_signal"](reference)).platform_utility
    garbling_figure(garbled, no_signal_value, ctx.path("garbling_chain.png"))
    increase = garbled.sort_values(["chain", "step"]).groupby("chain").value.diff().max()
    metrics.update({"garbling_max_value_increase": float(increase),
                    "garbling_start_value": float(garbled[garbled.step == 0].value.iloc[0]),
                    "garbling_end_value_mean": float(garbled[garbled.step == garbled.step.max()].value.mean()),
                    "garbling_no_signal_value": float(no_signal_value)})
    return ScenarioResult(metrics=metrics, table=table)


PRESETS = {
    "smoke": {"accuracies": [0.6, 0.9], "engagement_weights": [0.1], "n_seeds": 2,
              "network": {"n_users": 200, "posts_per_round": 200, "rounds": 2}, "garbling_chains": 2,
              "garbling_steps": 4},
    "cpu": {},
    "paper": {"accuracies": [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0],
              "engagement_weights": [0.0, 0.1, 0.2, 0.3, 0.5], "n_seeds": 10,
              "network": {"n_users": 10000, "posts_per_round": 5000, "rounds": 10}},
}

REFERENCE_CELL = (("cell", "grid"), ("accuracy", 0.8), ("alpha", 0.1))  # the spec's default instance (§6)

CLAIM = Claim(
    statement="With an 80 %-accurate classifier, the optimal signalling scheme cuts the misinformation shared "
              "on the network below both no signal and full revelation of the classifier's prediction",
    source="Hossain et al., ICML 2024",
    rules=tuple(Better("p_share_and_misinformation", "optimal", peer, key="policy", higher_is_better=False,
                       per_seed="simulated.csv", where=REFERENCE_CELL) for peer in ("no_signal", "full_reveal")),
    chance={"P(share∧mis)": "0.30 with no signal (everyone shares; μ(MU) + μ(MP) = 0.3)"},
)

SCENARIO = Scenario(
    name="misinformation_single_round",
    description="Optimal signalling vs baselines across classifier accuracy and α (analytic + Mesa network)",
    config=SingleRoundConfig,
    run=run,
    presets=PRESETS,
    main_metric="optimal_simulated_p_share_and_misinformation",
    claim=CLAIM,
)
