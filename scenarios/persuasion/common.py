"""Shared wiring of the persuasion scenarios: game config, sender policies, network simulation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from agents.persuasion import (
    full_reveal_scheme,
    no_signal_scheme,
    solve_signaling,
    tag_only_scheme,
    threshold_flagging_scheme,
)
from envs.social import GENERATED, GRAPHS, SocialGame, read_graph_file
from envs.social.model import MisinformationModel
from scenarios.validation import param


@dataclass
class GameConfig:
    """The default instance of the spec (§6): states TU, TP, MU, MP; popularity-driven users."""

    prior: list[float] = param([0.3, 0.4, 0.1, 0.2], ge=0, le=1, nonempty=True)  # μ over (TU, TP, MU, MP)
    misinformation_accuracy: float = param(0.8, ge=0, le=1)  # diagonal of the misinformation classifier Q_m
    popularity_accuracy: float = param(0.8, ge=0, le=1)  # diagonal of the popularity classifier Q_p
    # α: platform's gain per truthful share (a misinformation share costs 1)
    engagement_weight: float = param(0.1, ge=0, le=1000)
    misinformation_aversion: float = param(0.0, ge=0, le=1000)  # users' own cost of sharing misinformation

    def validate(self) -> None:
        for name in ("misinformation_accuracy", "popularity_accuracy"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"game.{name} must lie in [0, 1], got {getattr(self, name)}")
        p = np.asarray(self.prior, dtype=float)
        if p.shape != (4,) or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-8:
            raise ValueError(f"game.prior must be 4 non-negative probabilities summing to 1, got {self.prior}")

    def build(self, accuracy: float | None = None, engagement_weight: float | None = None) -> SocialGame:
        """The game, optionally with both classifier accuracies and/or α replaced."""
        return SocialGame.default(
            prior=np.asarray(self.prior, dtype=float),
            misinformation_accuracy=self.misinformation_accuracy if accuracy is None else accuracy,
            popularity_accuracy=self.popularity_accuracy if accuracy is None else accuracy,
            engagement_weight=self.engagement_weight if engagement_weight is None else engagement_weight,
            misinformation_aversion=self.misinformation_aversion,
        )


@dataclass
class NetworkConfig:
    """The simulated social network (Mesa model) that plays each round."""

    n_users: int = param(1000, ge=2, le=1_000_000)  # random families; a real graph brings its own size
    # erdos_renyi | barabasi_albert | watts_strogatz | karate_club | les_miserables | florentine_families |
    # davis_southern_women (networkx's bundled real graphs)
    graph: str = param("erdos_renyi", choices=GRAPHS)
    graph_file: str | None = param(None, allow_none=True)  # edge list or .graphml; replaces `graph` when set
    avg_degree: float = param(8.0, gt=0, le=10_000)
    posts_per_round: int = param(1000, ge=1, le=10_000_000)
    view_probability: float = param(0.3, ge=0, le=1)  # a follower sees a share with this probability
    max_hops: int = param(6, ge=0, le=1000)
    rounds: int = param(5, ge=1, le=100_000)  # rounds simulated per seed
    # None: homogeneous user priors; else Dirichlet(conc · μ)
    prior_concentration: float | None = param(None, gt=0, le=1e9, allow_none=True)

    def validate(self) -> None:
        if self.graph not in GRAPHS:
            raise ValueError(f"network.graph must be one of {', '.join(GRAPHS)}, got '{self.graph}'")
        if self.graph_file is not None:
            file_graph(self.graph_file, "network.")
        if self.n_users < 2 or self.posts_per_round < 1 or self.rounds < 1:
            raise ValueError("network.n_users >= 2, network.posts_per_round >= 1 and network.rounds >= 1 required")
        if not 0.0 <= self.view_probability <= 1.0:
            raise ValueError(f"network.view_probability must lie in [0, 1], got {self.view_probability}")

    def build(self, game: SocialGame, scheme: np.ndarray, seed: int, performative_eta: float = 0.0,
              user_types: np.ndarray | None = None, type_weights: np.ndarray | None = None):
        """The Mesa model; ``user_types`` (K type priors) replaces ``prior_concentration`` when given."""
        graph = file_graph(self.graph_file) if self.graph_file is not None else self.graph
        return MisinformationModel(
            game, n_users=self.n_users if graph in GENERATED else None, graph=graph, avg_degree=self.avg_degree,
            posts_per_round=self.posts_per_round, view_probability=self.view_probability,
            max_hops=self.max_hops, prior_concentration=None if user_types is not None else self.prior_concentration,
            user_types=user_types, type_weights=type_weights,
            performative_eta=performative_eta, scheme=scheme, rng=seed,
        )


def file_graph(path: str, prefix: str = ""):
    """The network read from an edge-list or GraphML file (cached); ValueError naming ``prefix + graph_file``."""
    try:
        return _read_graph(path)
    except ValueError as err:
        raise ValueError(f"{prefix}{err}") from None


@lru_cache(maxsize=8)
def _read_graph(path: str):
    return read_graph_file(path)


def optimal_scheme(game: SocialGame) -> np.ndarray:
    return solve_signaling(game.prior, game.user_utility, game.platform_utility, game.confusion).scheme


def _tag_groups(game: SocialGame) -> np.ndarray:
    """Misinformation prediction m̂ of each predicted state (Kronecker grid: θ̂ has θ's layout)."""
    return (game.misinformation > 0.5).astype(int)


SENDERS: dict[str, Callable[[SocialGame], np.ndarray]] = {
    "optimal": optimal_scheme,
    "no_signal": lambda g: no_signal_scheme(g.prior, g.user_utility, g.confusion, g.platform_utility),
    "full_reveal": lambda g: full_reveal_scheme(g.prior, g.user_utility, g.confusion, g.platform_utility),
    "tag_only": lambda g: tag_only_scheme(g.prior, g.user_utility, g.confusion, _tag_groups(g), g.platform_utility),
    "threshold": lambda g: threshold_flagging_scheme(g.prior, g.confusion, g.misinformation, 0.5),
}


def check_policies(policies: list[str]) -> None:
    unknown = [p for p in policies if p not in SENDERS]
    if unknown or not policies:
        raise ValueError(f"policies: unknown {unknown or 'empty list'}; choose from {', '.join(SENDERS)}")
