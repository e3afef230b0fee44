"""Shared wiring of the persuasion scenarios: game config, sender policies, network simulation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agents.persuasion import (
    full_reveal_scheme,
    no_signal_scheme,
    solve_signaling,
    tag_only_scheme,
    threshold_flagging_scheme,
)
from envs.social import SocialGame
from envs.social.model import MisinformationModel

GRAPHS = ("erdos_renyi", "barabasi_albert", "watts_strogatz")


@dataclass
class GameConfig:
    """The default instance of the spec (§6): states TU, TP, MU, MP; popularity-driven users."""

    prior: list[float] = field(default_factory=lambda: [0.3, 0.4, 0.1, 0.2])  # μ over (TU, TP, MU, MP)
    misinformation_accuracy: float = 0.8  # diagonal of the misinformation classifier Q_m
    popularity_accuracy: float = 0.8  # diagonal of the popularity classifier Q_p
    engagement_weight: float = 0.1  # α: platform's gain per truthful share (a misinformation share costs 1)
    misinformation_aversion: float = 0.0  # users' own cost of sharing misinformation

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

    n_users: int = 1000
    graph: str = "erdos_renyi"  # erdos_renyi | barabasi_albert | watts_strogatz
    avg_degree: float = 8.0
    posts_per_round: int = 1000
    view_probability: float = 0.3  # a follower sees a share with this probability
    max_hops: int = 6
    rounds: int = 5  # rounds simulated per seed
    prior_concentration: float | None = None  # None: homogeneous user priors; else Dirichlet(conc · μ)

    def validate(self) -> None:
        if self.graph not in GRAPHS:
            raise ValueError(f"network.graph must be one of {', '.join(GRAPHS)}, got '{self.graph}'")
        if self.n_users < 2 or self.posts_per_round < 1 or self.rounds < 1:
            raise ValueError("network.n_users >= 2, network.posts_per_round >= 1 and network.rounds >= 1 required")
        if not 0.0 <= self.view_probability <= 1.0:
            raise ValueError(f"network.view_probability must lie in [0, 1], got {self.view_probability}")

    def build(self, game: SocialGame, scheme: np.ndarray, seed: int, performative_eta: float = 0.0):
        return MisinformationModel(
            game, n_users=self.n_users, graph=self.graph, avg_degree=self.avg_degree,
            posts_per_round=self.posts_per_round, view_probability=self.view_probability,
            max_hops=self.max_hops, prior_concentration=self.prior_concentration,
            performative_eta=performative_eta, scheme=scheme, rng=seed,
        )


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
