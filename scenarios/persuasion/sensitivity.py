"""Knife-edge sensitivity: how each platform's scheme fares when users' priors differ from μ.

The LP optimum leaves users exactly indifferent after "don't share", so a population whose priors
spread around μ partly ignores it. For each spread r a population of K equally weighted types
μ_k = μ + r d_k (``envs.social.UserPopulation.around``; the same directions d_k at every r) meets:

* ``optimal``      today's LP, solved for μ;
* ``slack``        the ε-slack LP (posterior margin ε, no knowledge of the types);
* ``robust``       the LP obeyed at every type prior (the polytope of the K priors), public;
* ``public_optimal`` the optimal public scheme over recommendation profiles σ ∈ {0,1}^K (K ≤ 12; types may
                   act differently on one post). On the Mesa network each type gets its marginal as a
                   private signal: the seed-exposure rates are exact, but the cascade draws the types'
                   recommendations independently instead of as one profile;
* ``personalised`` one private LP per known type;
* ``full_reveal``  honest revelation of θ̂ (for μ); ``no_signal`` users act on their prior.

Outcomes are exact per type and aggregated (``population_outcomes``), and simulated on the Mesa
network whose users are the K types (seed exposures: the expectation is the analytic aggregate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.persuasion import (
    InfeasibleSchemeError,
    full_reveal_scheme,
    no_signal_scheme,
    solve_personalized_signaling,
    solve_public_population_signaling,
    solve_robust_signaling,
)
from envs.social import SocialGame, UserPopulation, population_outcomes
from scenarios.persuasion.common import NetworkConfig, optimal_scheme
from scenarios.plotting import line_with_ci
from scenarios.rundir import RunContext
from scenarios.stats import aggregate
from scenarios.validation import param

POLICIES = ("optimal", "slack", "robust", "public_optimal", "personalised", "full_reveal", "no_signal")
MAX_PROFILE_TYPES = 12
METRICS = ("p_share_and_misinformation", "platform_utility")
SIMULATED = {"misinformation_share_rate": "p_share_and_misinformation", "platform_utility": "platform_utility"}


@dataclass
class SensitivityConfig:
    """Prior spreads r = ‖μ_k − μ‖∞ of the user types, and the robust schemes' parameters."""

    spreads: list[float] = param([0.0, 1e-6, 0.02, 0.05], ge=0, le=1, nonempty=True)
    n_types: int = param(8, ge=1, le=1000)  # K user types per population
    slack: float = param(0.01, ge=0, le=1)  # ε of the ε-slack scheme (posterior utility margin)
    rounds: int = param(1, ge=1, le=10_000)  # Mesa rounds per seed (static world)
    simulate: bool = True

    def validate(self, prior: list[float]) -> None:
        limit = min(p for p in prior if p > 0)
        if max(self.spreads) > limit:
            raise ValueError(f"sensitivity.spreads must not exceed the smallest positive prior probability "
                             f"{limit:g} (every type prior stays a distribution), got {max(self.spreads):g}")


def schemes(game: SocialGame, population: UserPopulation, slack: float
            ) -> dict[str, tuple[np.ndarray | None, bool, str]]:
    """policy → (scheme, personalised, note); scheme None (and why in note) when not available."""
    mu, u, v, q = game.prior, game.user_utility, game.platform_utility, game.confusion
    try:
        robust, note = solve_robust_signaling(mu, u, v, q, user_priors=population.priors).scheme, ""
    except InfeasibleSchemeError:
        robust, note = None, "robust LP infeasible"
    public, public_note = None, f"K > {MAX_PROFILE_TYPES}: 2^K profiles not solved"
    if population.n_types <= MAX_PROFILE_TYPES:
        public = solve_public_population_signaling(mu, u, v, q, population.priors, weights=population.weights)[2]
        public_note = "Mesa: per-type marginals"
    private, _ = solve_personalized_signaling(mu, u, v, q, population.priors, weights=population.weights)
    return {
        "optimal": (optimal_scheme(game), False, ""),
        "slack": (solve_robust_signaling(mu, u, v, q, slack=slack).scheme, False, ""),
        "robust": (robust, False, note),
        "public_optimal": (public, True, public_note),
        "personalised": (np.stack([s.scheme for s in private]), True, ""),
        "full_reveal": (full_reveal_scheme(mu, u, q, v), False, ""),
        "no_signal": (no_signal_scheme(mu, u, q, v), False, ""),
    }


def simulate(model, scheme: np.ndarray, personalised: bool, rounds: int) -> dict[str, float]:
    """Deploy `scheme` on a Mesa model whose users are the K types; mean per-round seed-exposure rates
    and reach over `rounds` rounds (static world: the model's counters do not affect the rates)."""
    model.set_scheme(scheme, personalised=personalised)
    keys = (*SIMULATED, "misinformation_views", "reach_platform_utility")
    rows = []
    for _ in range(rounds):
        model.step()
        rows.append({k: float(model.last_round[k]) for k in keys})
    return pd.DataFrame(rows).mean().to_dict()


def run_sensitivity(cfg: SensitivityConfig, network: NetworkConfig, game: SocialGame, n_seeds: int,
                    ctx: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(analytic rows per spread × policy × type incl. ``type = "all"``, simulated rows per seed).

    One Mesa network per (spread, seed) plays every policy in turn (same users and graph for all).
    """
    root = int(ctx.seeds.generator("sensitivity").integers(2**31))
    seeds = ctx.seeds.replicates(n_seeds)
    analytic, simulated = [], []
    for spread in ctx.progress(cfg.spreads, desc="prior spreads"):
        population = UserPopulation.around(game.prior, cfg.n_types, spread, np.random.default_rng(root))
        deployed = {}
        for policy, (scheme, personalised, note) in schemes(game, population, cfg.slack).items():
            if scheme is None:                               # robust LP infeasible, or too many profiles
                analytic.append({"spread": spread, "policy": policy, "type": "all", "feasible": False, "note": note})
                continue
            deployed[policy] = (scheme, personalised)
            out = population_outcomes(game, scheme, population, personalised=personalised)
            for k, o in [*enumerate(out.per_type), ("all", out.aggregate)]:
                analytic.append({"spread": spread, "policy": policy, "type": k, "feasible": True, "note": note,
                                 **{m: getattr(o, m) for m in METRICS}})
        if not cfg.simulate:
            continue
        for r, seed in enumerate(seeds):
            model = network.build(game, None, seed, user_types=population.priors, type_weights=population.weights)
            for policy, (scheme, personalised) in deployed.items():
                sim = simulate(model, scheme, personalised, cfg.rounds)
                row = {"spread": spread, "policy": policy, "seed": r, **{SIMULATED[k]: sim[k] for k in SIMULATED},
                       "misinformation_views": sim["misinformation_views"],
                       "reach_platform_utility": sim["reach_platform_utility"]}
                simulated.append(row)
                ctx.log({"sensitivity": True, **row})
    return pd.DataFrame(analytic), pd.DataFrame(simulated)


def sensitivity_table(analytic: pd.DataFrame, simulated: pd.DataFrame) -> list[dict]:
    """One row per (spread, policy): aggregate analytic outcomes and simulated mean ± 95 % CI."""
    total = analytic[analytic["type"].astype(str) == "all"]
    by = ["spread", "policy"]
    agg = (aggregate(simulated, by, [*METRICS, "misinformation_views", "reach_platform_utility"]).set_index(by)
           if not simulated.empty else None)
    rows = []
    for _, r in total.iterrows():
        row = {"setting": f"one round, prior spread {r.spread:g}", "policy": r.policy}
        if not r.feasible:
            rows.append({**row, "note": r.note})
            continue
        row["mis-share"] = round(float(r.p_share_and_misinformation), 4)
        if agg is not None:
            s = agg.loc[(r.spread, r.policy)]
            row["mis-share Mesa"] = f"{s.p_share_and_misinformation_mean:.4f} ± {s.p_share_and_misinformation_ci95:.4f}"
        row["utility"] = round(float(r.platform_utility), 4)
        if agg is not None:
            row["utility Mesa"] = f"{s.platform_utility_mean:.4f} ± {s.platform_utility_ci95:.4f}"
            row["mis views/post Mesa"] = f"{s.misinformation_views_mean:.2f} ± {s.misinformation_views_ci95:.2f}"
            reach, reach_ci = s.reach_platform_utility_mean, s.reach_platform_utility_ci95
            row["reach utility/post Mesa"] = f"{reach:.2f} ± {reach_ci:.2f}"
        row["note"] = r.note if isinstance(r.note, str) else ""
        rows.append(row)
    return rows


def sensitivity_figures(analytic: pd.DataFrame, simulated: pd.DataFrame, ctx: RunContext) -> None:
    """Misinformation shared and platform utility vs prior spread (Mesa ± 95 % CI; dashed: analytic)."""
    total = analytic[(analytic["type"].astype(str) == "all") & analytic.feasible]
    total = total.drop(columns=["type", "feasible", "note"])
    frame = simulated if not simulated.empty else total
    for metric, label in (("p_share_and_misinformation", "P(share ∧ misinformation)"),
                          ("platform_utility", "platform utility")):
        line_with_ci(frame, "spread", metric, "policy", ctx.path(f"sensitivity_{metric}.png"), reference=total,
                     xlabel="prior spread ‖μ_k − μ‖∞", ylabel=label,
                     title=f"{label} vs users' prior spread (Mesa ± 95% CI; dashed: analytic)")
