"""Gymnasium env: the platform repeatedly commits to a signalling scheme in a performative world.

Each step is one round of noisy persuasion (`envs.social.game`). The platform — the learning agent —
picks φ(θ̂) = P(recommend share | θ̂) for every classifier prediction θ̂; users with the common prior
μ_t best-respond to the recommendation; the platform earns its utility v for the round. Deploying φ
changes tomorrow's world (spec §5.2, our reconstruction of Hossain et al., ICML 2024):

    s_t(θ)    = P(share | θ) under φ and the users' best responses
    post_t(θ) = μ_t(θ) s_t(θ) / Σ_θ' μ_t(θ') s_t(θ')          (what got shared; μ_t if nothing did)
    μ_{t+1}   = (1 − η) μ_base + η · post_t

η = 0 is a static world (μ_t = μ_base every round). In ``mode="exact"`` a round is the exact expectation
(`SocialGame.outcomes`); in ``mode="simulate"`` a Mesa network model (`envs.social.model`) plays it with
finitely many users and posts, and the reward is the simulated platform utility.

>>> import gymnasium, envs
>>> env = gymnasium.make("recast/PersuasionPlatform-v0", eta=0.5, n_rounds=10)
>>> obs, info = env.reset(seed=0)
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.social.game import SocialGame, as_scheme, performative_update

MODES = ("exact", "simulate")
OUTCOME_KEYS = ("share_rate", "misinformation_share_rate", "platform_utility")


class PersuasionPlatformEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """The platform commits to a signalling scheme each round; the content prior responds performatively.

    ## Description
    A post has a true state θ (default order TU, TP, MU, MP: Truthful/Misinformation × Unpopular/Popular)
    drawn from the content prior μ_t. The platform sees only θ̂ ~ Q(·|θ) and recommends "share" with
    probability φ(θ̂). Users know μ_t, Q and φ, update by Bayes' rule and share iff sharing has
    non-negative expected utility (ties follow the recommendation). The distribution of shared content
    feeds back into the next round's prior: μ_{t+1} = (1 − η) μ_base + η · post_t (module docstring).

    ## Action Space
    ``Box(0, 1, shape=(Ŝ,), float32)``: φ(θ̂) = P(recommend share | θ̂) for each of the Ŝ predictions
    (4 by default). Values outside [0, 1] are clipped.

    ## Observation Space
    ``Box(float32)`` of size S + S·Ŝ + 4 (24 by default), what the platform knows:

    | slice | meaning | bounds |
    |---|---|---|
    | [0, S) | content prior μ_t (exact mode) / the model's content prior (simulate mode) | [0, 1] |
    | [S, S + S·Ŝ) | classifier confusion Q, row-major (rows P(θ̂ | θ)) | [0, 1] |
    | next | last round's share rate P(share) | [0, 1] |
    | next | last round's misinformation share rate P(share ∧ misinformation) | [0, 1] |
    | next | last round's platform utility | [min v, max v] |
    | last | round fraction t / n_rounds | [0, 1] |

    Last-round outcomes are 0 after ``reset``.

    ## Rewards
    The platform's utility for the round. Exact mode: Σ_θ μ_t(θ) [s_t(θ) v(θ, share) + (1 − s_t(θ)) v(θ, no)]
    = ``SocialGame.outcomes(φ).platform_utility`` with prior μ_t. Simulate mode: the model's
    ``last_round["platform_utility"]``. Default v: −1 per misinformation share, α per truthful share.

    ## Starting State
    μ_0 = μ_base (the ``prior`` argument), or ``options["prior"]`` in exact mode. Simulate mode rebuilds
    the Mesa model on every reset, seeded from ``self.np_random``.

    Info: the round's metrics (exact mode: ``share_rate``, ``misinformation_share_rate``,
    ``platform_utility``, ``user_utility``, ``share_given_state``; simulate mode: the model's
    ``last_round``), ``prior`` (μ_t), ``next_prior`` (μ_{t+1}), ``prior_change`` (‖μ_{t+1} − μ_t‖∞),
    ``nothing_shared`` and ``round``.

    ## Episode End
    Never terminates; truncated after ``n_rounds`` rounds.

    ## Arguments
    ``prior`` (μ_base, default (0.3, 0.4, 0.1, 0.2)), ``misinformation_accuracy`` and
    ``popularity_accuracy`` (diagonals of the Kronecker-symmetric classifier, default 0.8),
    ``engagement_weight`` (α, default 0.1), ``eta`` (η ∈ [0, 1], default 0.5), ``n_rounds`` (20),
    ``mode`` ("exact" | "simulate"), and for simulate mode ``n_users`` (300), ``posts_per_round`` (200),
    ``graph`` ("erdos_renyi"), ``view_probability`` (0.3) and ``model_kwargs`` (any other
    ``MisinformationModel`` keyword).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        prior: tuple[float, ...] | np.ndarray | None = None,
        misinformation_accuracy: float = 0.8,
        popularity_accuracy: float = 0.8,
        engagement_weight: float = 0.1,
        eta: float = 0.5,
        n_rounds: int = 20,
        mode: str = "exact",
        n_users: int = 300,
        posts_per_round: int = 200,
        graph: str = "erdos_renyi",
        view_probability: float = 0.3,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Build the game and the spaces; see the class docstring for the arguments."""
        check_choice("render_mode", render_mode, (None, *self.metadata["render_modes"]))
        check_choice("mode", mode, MODES)
        check_positive_int("n_rounds", n_rounds)
        self.game = build_game(prior, misinformation_accuracy, popularity_accuracy, engagement_weight, eta)
        self.render_mode = render_mode
        self.mode = mode
        self.eta = float(eta)
        self.n_rounds = int(n_rounds)
        self.model_kwargs = {
            "n_users": n_users,
            "posts_per_round": posts_per_round,
            "graph": graph,
            "view_probability": view_probability,
            **(model_kwargs or {}),
        }
        self.base_prior = self.game.prior.copy()

        n_states, n_predictions = self.game.n_states, self.game.n_predictions
        v = self.game.platform_utility
        self.action_space = spaces.Box(0.0, 1.0, shape=(n_predictions,), dtype=np.float32)
        low = np.zeros(n_states + n_states * n_predictions + 4, dtype=np.float32)
        high = np.ones_like(low)
        low[-2], high[-2] = v.min(), v.max()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)

        # The Mesa model (simulate mode), rebuilt on every reset; built here once so bad model kwargs fail early.
        self.model: Any = self._build_model(seed=0) if mode == "simulate" else None
        self.prior = self.base_prior.copy()  # μ_t, the prior of the coming round
        self.round = 0
        self.scheme: np.ndarray | None = None  # (Ŝ,) last deployed φ
        self._outcomes = dict.fromkeys(OUTCOME_KEYS, 0.0)

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start a new episode at μ_0 (``options["prior"]`` in exact mode, else μ_base)."""
        super().reset(seed=seed)
        options = options or {}
        self.round = 0
        self.scheme = None
        self._outcomes = dict.fromkeys(OUTCOME_KEYS, 0.0)
        if self.mode == "exact":
            self.prior = start_prior(self.game, options.get("prior"))
        else:
            if options.get("prior") is not None:
                raise ValueError("options['prior']: a starting prior is supported only in exact mode")
            self.model = self._build_model(seed=int(self.np_random.integers(2**31)))
            self.prior = np.asarray(self.model.content_prior, dtype=float).copy()
        return self._observation(), {"prior": self.prior.copy(), "round": 0}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Deploy φ = ``action`` for one round; return the round's utility and the next prior."""
        phi = np.clip(np.asarray(action, dtype=float).reshape(-1), 0.0, 1.0)
        scheme = as_scheme(phi, self.game.n_predictions)
        prior = self.prior
        if self.mode == "exact":
            metrics, next_prior, degenerate = self._exact_round(scheme, prior)
        else:
            metrics, next_prior, degenerate = self._simulated_round(scheme)
        self.scheme = phi
        self.round += 1
        self.prior = next_prior
        self._outcomes = {key: float(metrics[key]) for key in OUTCOME_KEYS}
        info = {
            **metrics,
            "prior": prior.copy(),
            "next_prior": next_prior.copy(),
            "prior_change": float(np.max(np.abs(next_prior - prior))),
            "nothing_shared": degenerate,
            "round": self.round,
        }
        truncated = self.round >= self.n_rounds
        return self._observation(), float(metrics["platform_utility"]), False, truncated, info

    def render(self) -> str | None:
        """``"ansi"``: one line with the round, the last scheme and outcomes, and the current prior."""
        if self.render_mode != "ansi":
            return None
        scheme = "-" if self.scheme is None else "[" + " ".join(f"{p:.3f}" for p in self.scheme) + "]"
        names = self.game.state_names or [str(i) for i in range(self.game.n_states)]
        out = self._outcomes
        return (
            f"round {self.round}/{self.n_rounds} | φ(share|θ̂) {scheme} | share {out['share_rate']:.3f} "
            f"mis-share {out['misinformation_share_rate']:.3f} utility {out['platform_utility']:+.4f} | "
            f"μ {dict(zip(names, np.round(self.prior, 3).tolist()))}"
        )

    def close(self) -> None:
        """Drop the Mesa model (if any); safe to call repeatedly."""
        self.model = None

    # ------------------------------------------------------------------ rounds
    def _exact_round(self, scheme: np.ndarray, prior: np.ndarray) -> tuple[dict[str, float], np.ndarray, bool]:
        """Exact expectation: users with prior μ_t best-respond; μ_{t+1} by `performative_update`."""
        outcomes = self.game.with_prior(prior).outcomes(scheme)
        next_prior, degenerate = performative_update(prior, self.base_prior, outcomes.share_given_state, self.eta)
        metrics = {
            "share_rate": outcomes.p_share,
            "misinformation_share_rate": outcomes.p_share_and_misinformation,
            "platform_utility": outcomes.platform_utility,
            "user_utility": outcomes.user_utility,
            "share_given_state": outcomes.share_given_state.copy(),
        }
        return metrics, next_prior / next_prior.sum(), degenerate

    def _simulated_round(self, scheme: np.ndarray) -> tuple[dict[str, Any], np.ndarray, bool]:
        """One round of the Mesa model; the model applies the performative update to its own prior."""
        self.model.set_scheme(scheme)
        self.model.step()
        last = self.model.last_round
        metrics = {
            key: (np.asarray(value, dtype=float).copy() if np.ndim(value) else float(value))
            for key, value in last.items()
        }
        next_prior = np.asarray(self.model.content_prior, dtype=float).copy()
        return metrics, next_prior, bool(last["share_rate"] == 0.0)

    def _build_model(self, seed: int) -> Any:
        """A fresh `MisinformationModel` with Mesa seed `seed` (lazy import: Mesa only when needed)."""
        from envs.social.model import MisinformationModel

        return MisinformationModel(self.game, performative_eta=self.eta, rng=seed, **self.model_kwargs)

    def _observation(self) -> np.ndarray:
        out = self._outcomes
        obs = np.concatenate(
            [
                self.prior,
                self.game.confusion.ravel(),
                [out["share_rate"], out["misinformation_share_rate"], out["platform_utility"]],
                [self.round / self.n_rounds],
            ]
        ).astype(np.float32)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)


# ---------------------------------------------------------------------- argument checks (shared with parallel_env)
def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Raise ValueError naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")


def check_positive_int(name: str, value: Any) -> None:
    """Raise ValueError naming `name` unless `value` is an integer ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise ValueError naming `name` unless `value` is a finite number in [0, 1]."""
    if not (isinstance(value, (int, float, np.number)) and np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")


def build_game(
    prior: tuple[float, ...] | np.ndarray | None,
    misinformation_accuracy: float,
    popularity_accuracy: float,
    engagement_weight: float,
    eta: float,
) -> SocialGame:
    """Validate the shared env arguments and build `SocialGame.default` (its prior errors name "prior")."""
    check_unit_interval("eta", eta)
    check_unit_interval("misinformation_accuracy", misinformation_accuracy)
    check_unit_interval("popularity_accuracy", popularity_accuracy)
    if not np.isfinite(engagement_weight):
        raise ValueError(f"engagement_weight: expected a finite number, got {engagement_weight!r}")
    game_kwargs: dict[str, Any] = {} if prior is None else {"prior": np.asarray(prior, dtype=float)}
    return SocialGame.default(
        misinformation_accuracy=misinformation_accuracy,
        popularity_accuracy=popularity_accuracy,
        engagement_weight=engagement_weight,
        **game_kwargs,
    )


def start_prior(game: SocialGame, prior: Any) -> np.ndarray:
    """μ_0: a copy of μ_base when `prior` is None, else `prior` validated as a distribution over states."""
    if prior is None:
        return game.prior.copy()
    prior = np.asarray(prior, dtype=float)
    if prior.shape != (game.n_states,):
        raise ValueError(f"prior: expected {game.n_states} probabilities, got shape {prior.shape}")
    return game.with_prior(prior).prior.copy()
