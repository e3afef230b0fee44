"""PettingZoo ParallelEnv: the platform and K users play the repeated persuasion game as a Markov game.

Agents ``"platform"`` and ``"user_0" … "user_{K-1}"``. At step t the world holds a content prior μ_t and
the scheme φ_t the platform committed to at step t − 1 (commitment: users see the scheme before they act,
the platform cannot change it after seeing the posts). Each user i has been shown a fresh post

    θ_i ~ μ_t,   θ̂_i ~ Q(·|θ_i),   σ_i ~ φ_t(·|θ̂_i)      (σ ∈ {0 = don't share, 1 = share})

and observes (σ_i, φ_t, μ_t) — enough for the Bayes posterior P(θ | σ_i) ∝ μ_t(θ) Σ_θ̂ Q(θ̂|θ) φ_t(σ_i|θ̂).
Users act a_i ∈ {0, 1}; user i earns u(θ_i, a_i); the platform earns (1/K) Σ_i v(θ_i, a_i) and commits
φ_{t+1}. The realised shares move the prior (the empirical analogue of spec §5.2):

    post_t  = empirical distribution of {θ_i : a_i = 1}      (μ_t if nobody shared, as in `performative_update`)
    μ_{t+1} = (1 − η) μ_base + η · post_t

Every agent is truncated after ``max_cycles`` steps; nobody terminates.

>>> from envs.social.parallel_env import parallel_env
>>> env = parallel_env(n_users=4)
>>> obs, infos = env.reset(seed=0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.social.game import NO_SHARE, SHARE, as_scheme
from envs.social.platform_env import build_game, check_choice, check_positive_int, start_prior

PLATFORM = "platform"


def sample_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of an (N, K) row-stochastic matrix (inverse-CDF sampling)."""
    cdf = np.cumsum(probabilities, axis=1)
    draws = (rng.random(probabilities.shape[0])[:, None] * cdf[:, -1:] >= cdf).sum(axis=1)
    return np.minimum(draws, probabilities.shape[1] - 1)


class PersuasionParallelEnv(ParallelEnv):
    """A committing platform and K Bayesian-or-learning users sharing posts under a performative prior.

    Spaces (S true states, Ŝ predictions; 4 and 4 by default):

    * user observation ``Box(0, 1, (2 + Ŝ + S,), float32)``: one-hot σ_i, the committed scheme
      φ_t(share | θ̂) (Ŝ), the prior μ_t (S); user action ``Discrete(2)`` (0 don't share, 1 share);
      user reward u(θ_i, a_i).
    * platform observation ``Box(0, 1, (S + S·Ŝ + 2,), float32)``: μ_t, Q row-major, last step's share rate
      (1/K) Σ a_i and misinformation share rate (1/K) Σ a_i m(θ_i) (0 after reset); platform action
      ``Box(0, 1, (Ŝ,), float32)`` = φ_{t+1}(share | θ̂) (clipped to [0, 1]; if the platform sends no action
      the committed scheme stays); platform reward (1/K) Σ_i v(θ_i, a_i).

    Infos (for analysis, never observed): user i gets the true state, prediction and signal of the post now
    shown (``state``, ``prediction``, ``signal``); the platform gets the step's metrics, the prior μ_t and
    ‖μ_{t+1} − μ_t‖∞.

    Args:
        n_users: K, the number of user agents.
        max_cycles: steps before every agent is truncated.
        prior: μ_base (default (0.3, 0.4, 0.1, 0.2), order TU, TP, MU, MP).
        misinformation_accuracy: diagonal of the misinformation classifier factor.
        popularity_accuracy: diagonal of the popularity classifier factor.
        engagement_weight: α, the platform's value of a truthful share.
        eta: η ∈ [0, 1], weight of the shared-content feedback in the next prior (0: static world).
        render_mode: None or "ansi".

    ``reset(options=...)`` accepts ``"prior"`` (μ_0, default μ_base) and ``"scheme"`` (the initially
    committed φ_0, (Ŝ,) P(share | θ̂); default all-share φ ≡ 1).
    """

    metadata = {"name": "recast_persuasion_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(
        self,
        n_users: int = 8,
        max_cycles: int = 25,
        prior: tuple[float, ...] | np.ndarray | None = None,
        misinformation_accuracy: float = 0.8,
        popularity_accuracy: float = 0.8,
        engagement_weight: float = 0.1,
        eta: float = 0.5,
        render_mode: str | None = None,
    ) -> None:
        """Build the game, the agents and their (cached) spaces."""
        check_positive_int("n_users", n_users)
        check_positive_int("max_cycles", max_cycles)
        check_choice("render_mode", render_mode, (None, *self.metadata["render_modes"]))
        self.game = build_game(prior, misinformation_accuracy, popularity_accuracy, engagement_weight, eta)
        self.n_users = int(n_users)
        self.max_cycles = int(max_cycles)
        self.eta = float(eta)
        self.render_mode = render_mode
        self.base_prior = self.game.prior.copy()
        self.users = [f"user_{i}" for i in range(self.n_users)]
        self.possible_agents = [PLATFORM, *self.users]
        self.agents: list[str] = []

        n_states, n_predictions = self.game.n_states, self.game.n_predictions
        user_obs = spaces.Box(0.0, 1.0, shape=(2 + n_predictions + n_states,), dtype=np.float32)
        self.observation_spaces = {
            PLATFORM: spaces.Box(0.0, 1.0, shape=(n_states + n_states * n_predictions + 2,), dtype=np.float32),
            **{user: user_obs for user in self.users},
        }
        self.action_spaces = {
            PLATFORM: spaces.Box(0.0, 1.0, shape=(n_predictions,), dtype=np.float32),
            **{user: spaces.Discrete(2) for user in self.users},
        }

        self.np_random, self.np_random_seed = seeding.np_random(None)
        self.t = 0
        self.prior = self.base_prior.copy()  # μ_t
        self.scheme = np.ones(n_predictions)  # φ_t(share | θ̂), committed at t − 1
        self.states = np.zeros(self.n_users, dtype=int)  # θ_i of the posts now shown
        self.predictions = np.zeros(self.n_users, dtype=int)  # θ̂_i
        self.signals = np.zeros(self.n_users, dtype=int)  # σ_i
        self.last_metrics = {"share_rate": 0.0, "misinformation_share_rate": 0.0}

    def observation_space(self, agent: str) -> spaces.Space:
        """The (cached) observation space of `agent`."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """The (cached) action space of `agent`."""
        return self.action_spaces[agent]

    # ------------------------------------------------------------------ PettingZoo API
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start at μ_0 with scheme φ_0 committed; show every user a first post."""
        if seed is not None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
        options = options or {}
        self.agents = self.possible_agents[:]
        self.t = 0
        self.prior = start_prior(self.game, options.get("prior"))
        scheme = options.get("scheme")
        self.scheme = np.ones(self.game.n_predictions) if scheme is None else self._scheme(scheme)
        self.last_metrics = {"share_rate": 0.0, "misinformation_share_rate": 0.0}
        self._show_posts()
        infos = self._user_infos()
        infos[PLATFORM] = {"prior": self.prior.copy(), "step": 0}
        return self._observations(), infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Users act on their posts, the platform commits φ_{t+1}, the prior moves, new posts are shown."""
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset()")
        missing = [user for user in self.users if user not in actions]
        if missing:
            raise ValueError(f"actions: missing actions for {missing}")
        shares = np.array([int(actions[user]) for user in self.users])
        if np.any((shares != NO_SHARE) & (shares != SHARE)):
            raise ValueError(f"actions: user actions must be 0 or 1, got {shares.tolist()}")

        # Payoffs of the posts the users just acted on.
        u, v = self.game.user_utility, self.game.platform_utility
        user_rewards = u[self.states, shares]
        misinformation = self.game.misinformation[self.states]
        self.last_metrics = {
            "share_rate": float(shares.mean()),
            "misinformation_share_rate": float((shares * misinformation).mean()),
        }

        # Performative update from the realised shares.
        shared_states = self.states[shares == SHARE]
        if shared_states.size:
            posterior = np.bincount(shared_states, minlength=self.game.n_states) / shared_states.size
        else:
            posterior = self.prior
        prior = self.prior
        self.prior = (1.0 - self.eta) * self.base_prior + self.eta * posterior
        if PLATFORM in actions:
            self.scheme = self._scheme(actions[PLATFORM])
        self.t += 1

        rewards = {PLATFORM: float(v[self.states, shares].mean())}
        rewards.update({user: float(r) for user, r in zip(self.users, user_rewards)})
        platform_info = {
            **self.last_metrics,
            "prior": prior.copy(),
            "next_prior": self.prior.copy(),
            "prior_change": float(np.max(np.abs(self.prior - prior))),
            "nothing_shared": not shared_states.size,
            "step": self.t,
        }
        self._show_posts()
        observations = self._observations()
        infos = self._user_infos()
        infos[PLATFORM] = platform_info
        truncated = self.t >= self.max_cycles
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, truncated)
        if truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        """``"ansi"``: the step, the committed scheme, last step's share rates and the prior."""
        if self.render_mode != "ansi":
            return None
        names = self.game.state_names or [str(i) for i in range(self.game.n_states)]
        metrics = self.last_metrics
        return (
            f"step {self.t}/{self.max_cycles} | φ(share|θ̂) {np.round(self.scheme, 3).tolist()} | "
            f"share {metrics['share_rate']:.3f} mis-share {metrics['misinformation_share_rate']:.3f} | "
            f"μ {dict(zip(names, np.round(self.prior, 3).tolist()))} | signals {self.signals.tolist()}"
        )

    def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ internals
    def _scheme(self, action: Any) -> np.ndarray:
        """(Ŝ,) P(share | θ̂) from a platform action, clipped to [0, 1] and validated by `as_scheme`."""
        phi = np.clip(np.asarray(action, dtype=float).reshape(-1), 0.0, 1.0)
        return as_scheme(phi, self.game.n_predictions)[:, SHARE]

    def _show_posts(self) -> None:
        """Draw θ_i ~ μ_t, θ̂_i ~ Q(·|θ_i), σ_i ~ φ_t(·|θ̂_i) for every user."""
        rng = self.np_random
        self.states = sample_rows(rng, np.broadcast_to(self.prior, (self.n_users, self.game.n_states)))
        self.predictions = sample_rows(rng, self.game.confusion[self.states])
        self.signals = (rng.random(self.n_users) < self.scheme[self.predictions]).astype(int)

    def _observations(self) -> dict[str, np.ndarray]:
        scheme, prior = self.scheme.astype(np.float32), self.prior.astype(np.float32)
        rates = [self.last_metrics["share_rate"], self.last_metrics["misinformation_share_rate"]]
        observations = {PLATFORM: np.concatenate([prior, self.game.confusion.ravel(), rates]).astype(np.float32)}
        for user, signal in zip(self.users, self.signals):
            observations[user] = np.concatenate([np.eye(2, dtype=np.float32)[signal], scheme, prior])
        return {agent: np.clip(obs, 0.0, 1.0) for agent, obs in observations.items()}

    def _user_infos(self) -> dict[str, dict[str, Any]]:
        return {
            user: {"state": int(s), "prediction": int(p), "signal": int(g)}
            for user, s, p, g in zip(self.users, self.states, self.predictions, self.signals)
        }


def parallel_env(**kwargs: Any) -> PersuasionParallelEnv:
    """Factory in the PettingZoo style: ``parallel_env(n_users=8, max_cycles=25, ...)``."""
    return PersuasionParallelEnv(**kwargs)
