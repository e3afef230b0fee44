"""Networks that matter: the performative world by graph family, with reach and feed-formed beliefs.

Each round of the Mesa world (``envs.social.model``) with

* reach: misinformation views count every exposure along the cascades, and the platform's utility is
  v(θ, a) summed over every viewer's action (``envs.social.dynamics.reach_outcomes``);
* content dynamics from every share along the cascades, c_{t+1} = (1 − η) μ_base + η shared_t
  (``content_from="cascade"``: a post shared by 200 users weighs 200 times);
* belief dynamics from each user's own feed, b_i ← (1 − λ) b_i + λ (state frequencies of what i saw),

so who sees which shares — degree heterogeneity, clustering, size — changes beliefs, hence who obeys the
platform. Families: the random ER / BA / WS graphs, networkx's bundled real graphs, the user's own files
(``graph_files``), and a control without a network: the same dynamics with seed exposures only
(``max_hops = 0``, every feed is fresh content). Platforms:

* ``fixed``   the LP optimum for μ_base, deployed every round (the knife-edge scheme);
* ``slack``   the ε-slack LP for μ_base (``sensitivity.slack``), deployed every round;
* ``resolve`` re-solves each round: objective under the current content c_t, obedience at the users'
  mean belief (it sees the population average, not each feed);
* ``robust``  re-solves each round with obedience at *every* user's current belief (the vertices of their
  convex hull suffice: obedience is linear in the prior); when no scheme is obeyed by all, that round it
  falls back to ``resolve`` (the share of such rounds is reported);
* ``none``    no signal: every user acts on their own belief.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scipy.spatial import ConvexHull, QhullError

from agents.persuasion import InfeasibleSchemeError, solve_robust_signaling
from envs.social import GENERATED, GRAPHS, SocialGame, build_graph
from envs.social.model import MisinformationModel
from envs.social.networks import describe
from scenarios.persuasion.common import NetworkConfig, file_graph, optimal_scheme
from scenarios.plotting import save, wrap
from scenarios.rundir import RunContext
from scenarios.stats import aggregate
from scenarios.validation import param

NETWORK_POLICIES = ("fixed", "slack", "resolve", "robust", "none")
NO_NETWORK = "no cascade (seed exposures only)"
METRICS = {"misinformation_share_rate": "mis-share Mesa", "platform_utility": "utility Mesa",
           "misinformation_views": "mis views/post Mesa", "reach_platform_utility": "reach utility/post Mesa"}
TRACKED = (*METRICS, "views_per_post", "ignore_no_share_rate", "fallback")


@dataclass
class GraphFamiliesConfig:
    """Graph families of the network section; size and spreading parameters come from ``network``."""

    graphs: list[str] = param(list(GRAPHS), choices=GRAPHS, nonempty=True)
    graph_files: list[str] = param([])  # more families: edge-list or .graphml files
    n_users: int = param(500, ge=2, le=1_000_000)  # size of the random families
    posts_per_round: int = param(300, ge=1, le=10_000_000)
    belief_rate: float = param(0.5, gt=0, le=1)  # λ: weight of this round's feed in a user's belief
    policies: list[str] = param(list(NETWORK_POLICIES), choices=NETWORK_POLICIES, nonempty=True)
    rounds: int = param(12, ge=1, le=100_000)
    settle_rounds: int = param(4, ge=1, le=100_000)  # outcomes are averaged over the last rounds, per seed
    n_seeds: int = param(3, ge=2, le=10_000)
    simulate: bool = True

    def validate(self) -> None:
        if self.settle_rounds > self.rounds:
            raise ValueError(f"networks.settle_rounds ({self.settle_rounds}) must not exceed networks.rounds "
                             f"({self.rounds})")
        for i, path in enumerate(self.graph_files):
            file_graph(path, f"networks.graph_files[{i}]: ")


def settled(rounds: pd.DataFrame, window: int) -> pd.DataFrame:
    """One row per (family, policy, seed): each tracked outcome averaged over the last `window` rounds."""
    last = rounds[rounds["round"] >= rounds["round"].max() + 1 - window]
    return last.groupby(["family", "policy", "seed"], sort=False)[list(TRACKED)].mean().reset_index()


def families(cfg: GraphFamiliesConfig, network: NetworkConfig) -> dict[str, dict]:
    """family name → keyword arguments of the model's network (a name, or a graph read from a file)."""
    out = {}
    for name in cfg.graphs:
        size = {"n_users": cfg.n_users, "avg_degree": network.avg_degree} if name in GENERATED else {}
        out[name] = {"graph": name, **size}
    for path in cfg.graph_files:
        out[f"file {Path(path).name}"] = {"graph": file_graph(path)}
    out[NO_NETWORK] = {"graph": "erdos_renyi", "n_users": cfg.n_users, "avg_degree": network.avg_degree,
                       "max_hops": 0}
    return out


def family_statistics(kwargs: dict, seed: int) -> dict[str, float]:
    """Size, mean degree, max/mean degree and clustering of one family's network (one draw)."""
    graph = kwargs["graph"]
    if isinstance(graph, str):
        graph = build_graph(graph, kwargs.get("n_users", 0), kwargs.get("avg_degree", 0.0), seed)
    return describe(graph)


class NetworkPlatform:
    """The platform as a function of the model: ``scheme(model)`` is its scheme for this round;
    ``fell_back`` says whether the robust LP had no solution this round (then it played ``resolve``)."""

    def __init__(self, name: str, base: SocialGame, slack: float) -> None:
        self.name, self.base, self.fell_back = name, base, False
        mu, u, v, q = base.prior, base.user_utility, base.platform_utility, base.confusion
        self.fixed = {"fixed": optimal_scheme(base), "none": np.ones(base.n_predictions),
                      "slack": solve_robust_signaling(mu, u, v, q, slack=slack).scheme}.get(name)

    def scheme(self, model: MisinformationModel) -> np.ndarray:
        if self.fixed is not None:
            return self.fixed
        beliefs = np.asarray(model.user_priors)
        solve = lambda priors: solve_robust_signaling(  # noqa: E731
            model.content_prior, self.base.user_utility, self.base.platform_utility, self.base.confusion,
            user_priors=priors).scheme
        self.fell_back = False
        if self.name == "robust":
            try:
                return solve(hull_vertices(beliefs))
            except InfeasibleSchemeError:
                self.fell_back = True
        return solve(beliefs.mean(axis=0))


def hull_vertices(points: np.ndarray) -> np.ndarray:
    """The distinct points that span the convex hull of rows on the simplex (all distinct rows if degenerate)."""
    distinct = np.unique(np.round(points, 12), axis=0)
    if len(distinct) <= points.shape[1]:
        return distinct
    try:  # drop one coordinate: the simplex's plane is (S − 1)-dimensional
        return distinct[ConvexHull(distinct[:, :-1]).vertices]
    except QhullError:  # flat (e.g. coplanar) clouds: every distinct point is a vertex candidate
        return distinct


def run_networks(cfg: GraphFamiliesConfig, network: NetworkConfig, base: SocialGame, eta: float, slack: float,
                 ctx: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-round rows for every family × policy × seed, one row of statistics per family)."""
    seeds = ctx.seeds.replicates(cfg.n_seeds)
    rows, stats = [], []
    for family, kwargs in ctx.progress(list(families(cfg, network).items()), desc="graph families"):
        stats.append({"family": family, **family_statistics(kwargs, seeds[0])})
        settings = {"posts_per_round": cfg.posts_per_round, "view_probability": network.view_probability,
                    "max_hops": network.max_hops, **kwargs}
        for policy in cfg.policies:
            platform = NetworkPlatform(policy, base, slack)
            for r, seed in enumerate(seeds):  # the same seeds (networks, posts) for every policy
                model = MisinformationModel(base, **settings, performative_eta=eta, content_from="cascade",
                                            belief_rate=cfg.belief_rate, rng=seed)
                for t in range(cfg.rounds):
                    model.set_scheme(platform.scheme(model))
                    model.step()
                    rows.append({"family": family, "policy": policy, "seed": r, "round": t,
                                 "fallback": float(platform.fell_back),
                                 **{k: float(model.last_round[k]) for k in TRACKED if k != "fallback"}})
    return pd.DataFrame(rows), pd.DataFrame(stats)


def network_table(rounds: pd.DataFrame, stats: pd.DataFrame, cfg: GraphFamiliesConfig) -> list[dict]:
    """One row per (family, policy): the settled outcomes, mean ± 95 % CI over seeds."""
    agg = aggregate(settled(rounds, cfg.settle_rounds), ["family", "policy"], list(TRACKED))
    info = stats.set_index("family")
    table = []
    for _, r in agg.iterrows():
        s = info.loc[r.family]
        row = {"setting": f"network {r.family}: N={s.n_users:.0f}, degree {s.mean_degree:.1f} "
                          f"(max/mean {s.max_over_mean_degree:.1f}), clustering {s.clustering:.2f}",
               "policy": r.policy}
        for metric, column in METRICS.items():
            digits = 4 if column in ("mis-share Mesa", "utility Mesa") else 2
            row[column] = f"{r[f'{metric}_mean']:.{digits}f} ± {r[f'{metric}_ci95']:.{digits}f}"
        row["note"] = (f"feeds λ={cfg.belief_rate:g}, rounds {cfg.rounds - cfg.settle_rounds + 1}–{cfg.rounds}; "
                       f"users ignoring 'don't share' {r.ignore_no_share_rate_mean:.2f}; "
                       f"views/post {r.views_per_post_mean:.1f}"
                       + (f"; robust LP infeasible in {r.fallback_mean:.0%} of rounds" if r.policy == "robust" else ""))
        table.append(row)
    return table


def network_metrics(rounds: pd.DataFrame, window: int) -> dict[str, float]:
    """Settled misinformation views per post and seed misinformation share, per family and policy."""
    out = {}
    for (family, policy), group in settled(rounds, window).groupby(["family", "policy"], sort=False):
        key = "no_cascade" if family == NO_NETWORK else family.replace(" ", "_").replace(".", "_")
        out[f"network_{key}_{policy}_misinformation_views"] = float(group.misinformation_views.mean())
        out[f"network_{key}_{policy}_misinformation_share"] = float(group.misinformation_share_rate.mean())
    return out


def network_figure(rounds: pd.DataFrame, window: int, path: Path) -> Path:
    """Grouped bars by graph family, one bar per policy: settled misinformation shared at seed exposures
    and misinformation views per post (every view in the cascade), mean ± 95 % CI over seeds."""
    metrics = ["misinformation_share_rate", "misinformation_views"]
    agg = aggregate(settled(rounds, window), ["family", "policy"], metrics)
    family_names = list(dict.fromkeys(agg.family))
    policies = list(dict.fromkeys(agg.policy))
    width = 0.8 / len(policies)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, metric, label in ((axes[0], "misinformation_share_rate", "P(share ∧ mis) at seed exposures"),
                              (axes[1], "misinformation_views", "misinformation views per post (reach)")):
        for i, policy in enumerate(policies):
            part = agg[agg.policy == policy].set_index("family").reindex(family_names)
            ax.bar(np.arange(len(family_names)) + (i - (len(policies) - 1) / 2) * width, part[f"{metric}_mean"],
                   width, yerr=part[f"{metric}_ci95"], capsize=2, label=policy)
        labels = [wrap(f.replace("_", " "), 18) for f in family_names]
        ax.set_xticks(np.arange(len(family_names)), labels, fontsize="small", rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    axes[1].set_yscale("symlog", linthresh=0.1)
    axes[0].legend(fontsize="small", title="platform")
    last = int(rounds["round"].max()) + 1
    fig.suptitle(f"Performative world by graph family (rounds {last - window + 1}–{last}; content from every share, "
                 f"beliefs from own feeds; ± 95% CI over seeds)", fontsize="medium")
    return save(fig, path)
