"""The persuasion game behind the social-media world: post states, classifier, utilities, Bayesian users.

A post has a true state θ = (misinformation level m, popularity level p). The platform sees only a
classifier's prediction θ̂ ~ Q(·|θ) and commits to a signalling scheme φ(σ | θ̂) over recommendations
σ ∈ {don't share, share}. A user with prior μ over θ who sees σ forms the posterior

    P(θ | σ) ∝ μ(θ) Σ_θ̂ Q(θ̂|θ) φ(σ|θ̂)                                         (Bayes' rule)

and shares iff sharing has non-negative expected utility. An indifferent user follows the
recommendation (sender-preferred tie-breaking, the usual convention in persuasion).

A population of user types (``UserPopulation``: priors μ_k drawn around μ, weights w_k) reads the same
signal with different priors; ``population_outcomes`` gives each type's outcome and their weighted sum.

This module is the exact (expectation) layer of the world; `envs.social.model` simulates it on a
network. The formal model is our reconstruction of Hossain, Mladenovic, Chen & Gidel, "A Persuasive
Approach to Combating Misinformation" (ICML 2024): see ../shared/specs/persuasion.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NO_SHARE, SHARE = 0, 1
ACTIONS = ("no_share", "share")
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PostStates:
    """The grid of post states θ = (m, p), indexed s = m · popularity_levels + p.

    With the default binary × binary grid the order is TU, TP, MU, MP (Truthful/Misinformation ×
    Unpopular/Popular). Levels are mapped to [0, 1]: m / (L_m − 1) and p / (L_p − 1).
    """

    misinformation_levels: int = 2
    popularity_levels: int = 2

    def __post_init__(self) -> None:
        for name in ("misinformation_levels", "popularity_levels"):
            if int(getattr(self, name)) < 2:
                raise ValueError(f"{name} must be >= 2, got {getattr(self, name)}")

    @property
    def size(self) -> int:
        return self.misinformation_levels * self.popularity_levels

    @property
    def misinformation(self) -> np.ndarray:
        """(S,) misinformation level of each state in [0, 1]."""
        m = np.repeat(np.arange(self.misinformation_levels), self.popularity_levels)
        return m / (self.misinformation_levels - 1)

    @property
    def popularity(self) -> np.ndarray:
        """(S,) popularity level of each state in [0, 1]."""
        p = np.tile(np.arange(self.popularity_levels), self.misinformation_levels)
        return p / (self.popularity_levels - 1)

    @property
    def names(self) -> list[str]:
        if self.misinformation_levels == self.popularity_levels == 2:
            return ["TU", "TP", "MU", "MP"]
        return [f"M{m}P{p}" for m in range(self.misinformation_levels) for p in range(self.popularity_levels)]


def symmetric_classifier(levels: int, accuracy: float) -> np.ndarray:
    """(L, L) confusion matrix with `accuracy` on the diagonal, the error spread evenly elsewhere."""
    if not 0.0 <= accuracy <= 1.0 or not np.isfinite(accuracy):
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy}")
    off = (1.0 - accuracy) / (levels - 1)
    return np.full((levels, levels), off) + (accuracy - off) * np.eye(levels)


def kronecker_confusion(states: PostStates, misinformation_accuracy: float, popularity_accuracy: float) -> np.ndarray:
    """Q = Q_m ⊗ Q_p: independent misinformation and popularity classifiers, rows P(θ̂ | θ)."""
    q_m = symmetric_classifier(states.misinformation_levels, misinformation_accuracy)
    q_p = symmetric_classifier(states.popularity_levels, popularity_accuracy)
    return np.kron(q_m, q_p)


def random_garbling(n: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """(n, n) row-stochastic G = (1 − g) I + g R with rows of R ~ Dirichlet(1, …, 1).

    Q·G is a Blackwell garbling of Q (θ̂ is re-drawn through G): a platform that sees Q's prediction can
    simulate Q·G, so its optimal utility can only be lower under Q·G (spec §4.2).
    """
    if not (np.isfinite(strength) and 0.0 < strength <= 1.0):
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    return (1.0 - strength) * np.eye(n) + strength * rng.dirichlet(np.ones(n), size=n)


def garbling_chain(confusion: np.ndarray, steps: int, strength: float, rng: np.random.Generator) -> list[np.ndarray]:
    """[Q, Q G_1, Q G_1 G_2, …] (steps + 1 classifiers): each one a garbling of the one before."""
    chain = [np.asarray(confusion, float)]
    for _ in range(int(steps)):
        chain.append(chain[-1] @ random_garbling(chain[-1].shape[1], strength, rng))
    return chain


def popularity_user_utility(states: PostStates, misinformation_aversion: float = 0.0) -> np.ndarray:
    """(S, 2) user utility: sharing pays 2p − 1 (±1 for unpopular/popular) minus aversion · m."""
    share = 2.0 * states.popularity - 1.0 - misinformation_aversion * states.misinformation
    return np.stack([np.zeros(states.size), share], axis=1)


def platform_utility(states: PostStates, engagement_weight: float = 0.0) -> np.ndarray:
    """(S, 2) platform utility: a share costs m (−1 for misinformation) and earns α (1 − m) engagement."""
    share = engagement_weight * (1.0 - states.misinformation) - states.misinformation
    return np.stack([np.zeros(states.size), share], axis=1)


@dataclass(frozen=True)
class Outcomes:
    """Exact outcome statistics of one round under a scheme and the users' best responses."""

    share_given_state: np.ndarray  # (S,) P(share | θ)
    p_share: float
    p_share_and_misinformation: float
    platform_utility: float
    user_utility: float

    def as_dict(self) -> dict[str, float]:
        return {
            "p_share": self.p_share,
            "p_share_and_misinformation": self.p_share_and_misinformation,
            "platform_utility": self.platform_utility,
            "user_utility": self.user_utility,
        }


@dataclass(frozen=True)
class SocialGame:
    """One round of noisy persuasion: content prior μ, classifier Q, user utility u, platform utility v."""

    prior: np.ndarray  # (S,) content distribution μ over true states
    confusion: np.ndarray  # (S, Ŝ) rows P(θ̂ | θ)
    user_utility: np.ndarray  # (S, 2)
    platform_utility: np.ndarray  # (S, 2)
    misinformation: np.ndarray  # (S,) misinformation level in [0, 1]
    state_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.prior.shape[0]
        check_distribution("prior", self.prior)
        if self.confusion.ndim != 2 or self.confusion.shape[0] != s:
            raise ValueError(f"confusion: expected shape ({s}, Ŝ), got {self.confusion.shape}")
        for row in self.confusion:
            check_distribution("confusion row", row)
        for name in ("user_utility", "platform_utility"):
            u = getattr(self, name)
            if u.shape != (s, 2) or not np.all(np.isfinite(u)):
                raise ValueError(f"{name}: expected finite array of shape ({s}, 2), got {u.shape}")

    @classmethod
    def default(
        cls,
        prior: tuple[float, ...] | np.ndarray = (0.3, 0.4, 0.1, 0.2),
        misinformation_accuracy: float = 0.8,
        popularity_accuracy: float = 0.8,
        engagement_weight: float = 0.1,
        misinformation_aversion: float = 0.0,
        states: PostStates | None = None,
    ) -> SocialGame:
        """The spec's default instance: popularity-driven users, Kronecker-symmetric classifier."""
        states = states or PostStates()
        prior = np.asarray(prior, dtype=float)
        if prior.shape != (states.size,):
            raise ValueError(f"prior: expected {states.size} probabilities (one per state), got {prior.shape}")
        return cls(
            prior=prior,
            confusion=kronecker_confusion(states, misinformation_accuracy, popularity_accuracy),
            user_utility=popularity_user_utility(states, misinformation_aversion),
            platform_utility=platform_utility(states, engagement_weight),
            misinformation=states.misinformation,
            state_names=states.names,
        )

    @property
    def n_states(self) -> int:
        return self.prior.shape[0]

    @property
    def n_predictions(self) -> int:
        return self.confusion.shape[1]

    def with_prior(self, prior: np.ndarray) -> SocialGame:
        return SocialGame(np.asarray(prior, float), self.confusion, self.user_utility, self.platform_utility,
                          self.misinformation, self.state_names)

    def with_confusion(self, confusion: np.ndarray) -> SocialGame:
        """The same game observed through another classifier Q (rows P(θ̂ | θ))."""
        return SocialGame(self.prior, np.asarray(confusion, float), self.user_utility, self.platform_utility,
                          self.misinformation, self.state_names)

    def outcomes(self, scheme: np.ndarray, user_prior: np.ndarray | None = None) -> Outcomes:
        """Exact outcomes when users with `user_prior` (default: μ) best-respond to `scheme`."""
        scheme = as_scheme(scheme, self.n_predictions)
        user_prior = self.prior if user_prior is None else user_prior
        response = best_response(user_prior, self.confusion, scheme, self.user_utility)  # (σ,) action
        share_given_prediction = scheme @ (response == SHARE).astype(float)  # (Ŝ,)
        share_given_state = self.confusion @ share_given_prediction
        p_share_state = self.prior * share_given_state
        v_share, v_none = self.platform_utility[:, SHARE], self.platform_utility[:, NO_SHARE]
        u_share, u_none = self.user_utility[:, SHARE], self.user_utility[:, NO_SHARE]
        return Outcomes(
            share_given_state=share_given_state,
            p_share=float(p_share_state.sum()),
            p_share_and_misinformation=float((p_share_state * self.misinformation).sum()),
            platform_utility=float(self.prior @ (share_given_state * v_share + (1 - share_given_state) * v_none)),
            user_utility=float(self.prior @ (share_given_state * u_share + (1 - share_given_state) * u_none)),
        )


@dataclass(frozen=True)
class UserPopulation:
    """K user types: type k (a share w_k of the users) holds prior μ_k over post states.

    Types see the same posts (drawn from the content prior) but read signals with their own prior.
    """

    priors: np.ndarray  # (K, S)
    weights: np.ndarray  # (K,) Σ_k w_k = 1

    def __post_init__(self) -> None:
        priors, weights = np.asarray(self.priors, float), np.asarray(self.weights, float)
        if priors.ndim != 2 or weights.shape != (priors.shape[0],):
            raise ValueError(f"priors/weights: expected shapes (K, S) and (K,), got {priors.shape}, {weights.shape}")
        for k, row in enumerate(priors):
            check_distribution(f"priors[{k}]", row)
        check_distribution("weights", weights)

    @property
    def n_types(self) -> int:
        return self.priors.shape[0]

    @classmethod
    def homogeneous(cls, prior: np.ndarray) -> UserPopulation:
        return cls(np.asarray(prior, float)[None, :], np.ones(1))

    @classmethod
    def around(cls, prior: np.ndarray, n_types: int, spread: float, rng: np.random.Generator) -> UserPopulation:
        """K equally weighted types μ_k = μ + r d_k, d_k random in the simplex's plane with ‖d_k‖∞ = 1.

        d_k = (z − z̄) / ‖z − z̄‖∞ with z ~ N(0, I) on μ's support, so ‖μ_k − μ‖∞ = r exactly; r must not
        exceed the smallest positive μ(θ) (every μ_k stays a distribution).
        """
        prior = np.asarray(prior, float)
        check_distribution("prior", prior)
        if int(n_types) != n_types or n_types < 1:
            raise ValueError(f"n_types must be an integer >= 1, got {n_types}")
        support = prior > 0
        limit = float(prior[support].min())
        if not (np.isfinite(spread) and 0.0 <= spread <= limit):
            raise ValueError(f"spread must lie in [0, min positive prior = {limit:g}], got {spread}")
        z = rng.normal(size=(int(n_types), int(support.sum())))
        d = z - z.mean(axis=1, keepdims=True)
        d /= np.maximum(np.abs(d).max(axis=1, keepdims=True), 1e-300)
        priors = np.tile(prior, (int(n_types), 1))
        priors[:, support] += spread * d
        priors = np.clip(priors, 0.0, None)
        return cls(priors / priors.sum(axis=1, keepdims=True), np.full(int(n_types), 1.0 / n_types))


@dataclass(frozen=True)
class PopulationOutcomes:
    """Per-type outcomes (each type best-responding with its own prior) and their weighted aggregate."""

    per_type: list[Outcomes]
    aggregate: Outcomes


def population_outcomes(game: SocialGame, scheme: np.ndarray, population: UserPopulation, *,
                        personalised: bool = False) -> PopulationOutcomes:
    """Exact outcomes of a public scheme ((Ŝ, 2) or (Ŝ,)), or with ``personalised`` one scheme per type
    ((K, Ŝ, 2) or (K, Ŝ)) sent privately to the users of that type.

    Every quantity of `Outcomes` is linear in P(share | θ), so the aggregate is Σ_k w_k (outcome of type k).
    """
    scheme = np.asarray(scheme, dtype=float)
    if personalised and scheme.shape[0] != population.n_types:
        raise ValueError(f"scheme: {scheme.shape[0]} personalised schemes for {population.n_types} types")
    per_type = [game.outcomes(scheme[k] if personalised else scheme, user_prior=population.priors[k])
                for k in range(population.n_types)]
    w = population.weights
    mix = lambda key: float(sum(wk * getattr(o, key) for wk, o in zip(w, per_type)))  # noqa: E731
    aggregate = Outcomes(
        share_given_state=sum(wk * o.share_given_state for wk, o in zip(w, per_type)),
        p_share=mix("p_share"), p_share_and_misinformation=mix("p_share_and_misinformation"),
        platform_utility=mix("platform_utility"), user_utility=mix("user_utility"),
    )
    return PopulationOutcomes(per_type, aggregate)


def check_distribution(name: str, p: np.ndarray, atol: float = 1e-8) -> None:
    """Raise ValueError naming `name` unless `p` is a finite, non-negative vector summing to 1."""
    p = np.asarray(p)
    if p.ndim != 1 or not np.all(np.isfinite(p)):
        raise ValueError(f"{name}: expected a finite 1-D probability vector, got {p!r}")
    if np.any(p < -atol):
        raise ValueError(f"{name}: probabilities must be non-negative, got {p!r}")
    if abs(p.sum() - 1.0) > atol:
        raise ValueError(f"{name}: probabilities sum to {p.sum():.6g}, expected 1")


def as_scheme(scheme: np.ndarray, n_predictions: int) -> np.ndarray:
    """Accept a (Ŝ, 2) scheme or a (Ŝ,) vector of P(recommend share | θ̂); return the (Ŝ, 2) scheme."""
    scheme = np.asarray(scheme, dtype=float)
    if scheme.shape == (n_predictions,):
        scheme = np.stack([1.0 - scheme, scheme], axis=1)
    if scheme.shape != (n_predictions, 2) or not np.all(np.isfinite(scheme)):
        raise ValueError(f"scheme: expected finite shape ({n_predictions}, 2) or ({n_predictions},), got {scheme.shape}")
    if np.any(scheme < -1e-9) or np.any(np.abs(scheme.sum(axis=1) - 1.0) > 1e-6):
        raise ValueError("scheme: rows must be probability vectors over (no_share, share)")
    return np.clip(scheme, 0.0, 1.0)


def best_response(
    user_prior: np.ndarray, confusion: np.ndarray, scheme: np.ndarray, user_utility: np.ndarray
) -> np.ndarray:
    """Each user's action after each recommendation σ, vectorised over users.

    `user_prior` is (S,) for one (representative) user or (N, S) for N users; the result is (2,) or
    (N, 2) actions indexed by σ. The expected gain of sharing after σ is, up to the positive factor
    P(σ), Σ_θ μ(θ) P(σ | θ) [u(θ, share) − u(θ, no share)]; an indifferent user (|gain| ≤ tolerance)
    follows the recommendation.
    """
    signal_given_state = confusion @ scheme  # (S, σ)
    gain = user_utility[:, SHARE] - user_utility[:, NO_SHARE]  # (S,)
    expected_gain = np.asarray(user_prior) @ (signal_given_state * gain[:, None])  # (..., σ)
    scale = np.asarray(user_prior) @ (signal_given_state * np.abs(gain)[:, None])
    recommended = np.array([NO_SHARE, SHARE])
    tie = np.abs(expected_gain) <= TIE_TOLERANCE * np.maximum(scale, 1.0)
    return np.where(tie, recommended, np.where(expected_gain > 0, SHARE, NO_SHARE))


def performative_update(
    prior: np.ndarray, base_prior: np.ndarray, share_given_state: np.ndarray, eta: float
) -> tuple[np.ndarray, bool]:
    """Next round's prior μ_{t+1} = (1 − η) μ_base + η · post_t, post_t(θ) ∝ μ_t(θ) P(share | θ).

    post_t is the distribution of what got shared (spec §5.2, our reconstruction of the paper's
    "stable posterior" dynamics). If nothing is shared, post_t = μ_t and the flag is True.
    """
    shared = prior * share_given_state
    total = shared.sum()
    degenerate = total <= 1e-15
    posterior = prior if degenerate else shared / total
    return (1.0 - eta) * base_prior + eta * posterior, bool(degenerate)
