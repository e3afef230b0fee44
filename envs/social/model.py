"""Mesa 3 model: Bayesian users on a follower network share posts under a platform signalling scheme.

One round (``MisinformationModel.step``):

1. ``posts_per_round`` fresh posts arrive. Each has a true state θ ~ μ_t (the current content
   prior), a classifier prediction θ̂ ~ Q(·|θ) (``game.confusion``) and ONE public recommendation
   σ ~ φ(·|θ̂) drawn from the platform's scheme; every viewer of the post sees the same σ.
2. Each post is shown to one uniformly random seed user (its first exposure).
3. An exposed user shares iff sharing is their best response to σ given their own prior
   (``envs.social.game.best_response``: Bayes' rule over θ, share iff E[gain] ≥ 0, ties follow σ).
4. A user who shares exposes each network neighbour independently with ``view_probability``; the
   cascade proceeds hop by hop for at most ``max_hops`` hops, and nobody sees a post twice
   (independent cascade; see ``envs.social.cascade``).
5. Metrics are recorded (``last_round`` and the DataCollector). With ``performative_eta`` > 0 the
   world then moves (spec §5.2): μ_{t+1} = (1 − η) μ_base + η · post_t with post_t(θ) ∝ μ_t(θ) ŝ_t(θ),
   where ŝ_t is the empirical P(share | θ) at seed exposures this round (``game.performative_update``;
   a state with no posts this round counts as never shared). User priors follow μ_{t+1}.

Seed exposures are exactly the single-round game, so ``share_rate`` and
``misinformation_share_rate`` have expectation ``game.outcomes(scheme).p_share`` and
``p_share_and_misinformation`` when priors are homogeneous.

Users: homogeneous (every user's prior is μ_t) or, with ``prior_concentration`` = c, heterogeneous:
prior_i ~ Dirichlet(c · μ_base) is drawn once and kept as a fixed tilt w_i = prior_i / μ_base, so that
prior_i(t) ∝ μ_t · w_i as the content prior moves. With ``user_types`` (K priors μ_k, weights w_k) each
user belongs to one type (round(w_k N) users of type k, placed at random on the network), with tilt
μ_k / μ_base; metrics are also reported per type (at seed exposures). A *personalised* deployment
(``set_scheme(schemes, personalised=True)``, one scheme per type) draws one private recommendation per
type for each post; a user of type k sees the post with σ_k.

Reach: besides seed-exposure rates, ``views_per_post``, ``misinformation_views`` (every exposure in the
cascade, weighted by the post's m) and ``reach_platform_utility`` (v summed over every exposed user's
action, per post) count the whole cascade (``envs.social.dynamics.reach_outcomes``).

Content vs beliefs (``envs.social.dynamics``): with ``content_from="cascade"`` the content update counts
every share along the cascades (a post's weight is its reach) instead of seed shares; with
``belief_rate`` λ > 0 each user holds their own belief b_i (initially their prior above), updated from
their own feed, b_i ← (1 − λ) b_i + λ · (state frequencies of the posts i saw), and no longer follows
the content prior: the network's structure (who sees which shares) then changes who obeys.

Networks (``envs.social.networks``): the random families of ``GENERATED``, networkx's bundled real
graphs (``BUNDLED``, by name) or any ``nx.Graph`` (e.g. ``read_graph_file``), relabelled 0..N−1.

Default scheme: honest revelation of θ̂ (spec §6 baseline 2, ``full_revelation_scheme``); any scheme
is deployed with ``set_scheme`` and stays fixed (it is not re-optimised as μ_t moves).

Two implementations of the same random process: ``step_mode="vectorized"`` (numpy over a cached CSR adjacency;
the decision table best_response(user_priors) is computed once per round and all cascades advance
together) and ``step_mode="agents"`` (the straightforward per-agent Mesa loop: a Python BFS over
``agent.cell.neighborhood``; each agent's ``decide(σ)`` is computed at its first exposure to σ in a
round and cached for the rest of the round, as the vectorised path caches its table, so the benchmark's
speed-up compares like with like). They draw from different random streams (numpy ``model.rng`` vs
stdlib ``model.random``) but have the same outcome distribution.
"""

from __future__ import annotations

import itertools
from typing import Any

import mesa
import networkx as nx
import numpy as np
import scipy.sparse as sp
from mesa.discrete_space import FixedAgent, Network

from envs.social.cascade import propagate_cascades
from envs.social.dynamics import belief_update, content_update, feed_counts, reach_outcomes
from envs.social.game import NO_SHARE, SHARE, SocialGame, as_scheme, best_response, performative_update
from envs.social.networks import GENERATED, GRAPHS, as_user_graph, build_graph, check_generated

STEP_MODES = ("vectorized", "agents")
CONTENT_SOURCES = ("seeds", "cascade")
DEFAULT_USERS = 1000
REPORTERS = (
    "share_rate",
    "misinformation_share_rate",
    "mean_cascade_size",
    "misinformation_cascade_size",
    "platform_utility",
    "n_decisions",
    "views_per_post",
    "misinformation_views",
    "reach_platform_utility",
    "ignore_no_share_rate",
)


def full_revelation_scheme(game: SocialGame) -> np.ndarray:
    """(Ŝ,) honest revelation of θ̂ (spec §6 baseline 2): recommend share iff a user told θ̂ would share.

    For each prediction j this is the representative user's (prior ``game.prior``) best response to a
    signal that is sent exactly when θ̂ = j, i.e. φ(j) = 1[Σ_θ μ(θ) Q(j|θ) gain(θ) ≥ 0] (ties → share).
    """
    revealed = np.eye(game.n_predictions)
    return np.array([
        best_response(game.prior, game.confusion, as_scheme(revealed[j], game.n_predictions), game.user_utility)[SHARE]
        for j in range(game.n_predictions)
    ], dtype=float)


class UserAgent(FixedAgent):
    """One user, fixed to a cell of the follower network.

    Per-user state lives in model-owned numpy arrays (so the vectorised step can update it in bulk);
    the agent exposes read-only views indexed by ``self.index`` (= its network node).
    """

    def __init__(self, model: MisinformationModel, cell: Any, index: int) -> None:
        super().__init__(model)
        self.cell = cell
        self.index = int(index)

    @property
    def prior(self) -> np.ndarray:
        """(S,) this user's current prior over post states."""
        return self.model.user_priors[self.index]

    @property
    def exposures(self) -> int:
        return int(self.model.user_exposures[self.index])

    @property
    def shares(self) -> int:
        return int(self.model.user_shares[self.index])

    @property
    def misinformation_shares(self) -> float:
        """Shares weighted by the shared post's misinformation level m ∈ [0, 1]."""
        return float(self.model.user_misinformation_shares[self.index])

    def decide(self, signal: int) -> int:
        """This user's action after seeing the post's public recommendation.

        Bayes' rule on this user's prior over the true state given σ, then share iff the expected gain
        of sharing is ≥ 0; an indifferent user follows σ (``envs.social.game.best_response``).

        Args:
            signal: the recommendation σ (0 = don't share, 1 = share).

        Returns:
            1 (share) or 0 (don't share).
        """
        model = self.model
        game = model.game
        scheme = model.schemes[model.signal_group[self.index]]   # the public scheme, or this type's own
        return int(best_response(self.prior, game.confusion, scheme, game.user_utility)[signal])

    def record(self, shared: bool, misinformation: float) -> None:
        """Count one exposure of this user in the model's per-user arrays (per-agent mode).

        Args:
            shared: whether the user shared the post.
            misinformation: the post's misinformation level m ∈ [0, 1] (weight of the share).
        """
        model = self.model
        model.user_exposures[self.index] += 1
        if shared:
            model.user_shares[self.index] += 1
            model.user_misinformation_shares[self.index] += misinformation


class MisinformationModel(mesa.Model):
    """Users on a network sharing posts under a signalling scheme (process in the module docstring).

    Args:
        game: the single-round persuasion game (content prior μ_base, classifier Q, utilities).
        n_users: number of users N (network nodes), ≥ 2, for a random family (default 1000); a real
            graph brings its own N (then n_users must be None or equal to it).
        graph: "erdos_renyi" (G(N, p), p = avg_degree / (N − 1)), "barabasi_albert"
            (m = round(avg_degree / 2)), "watts_strogatz" (k = round(avg_degree), rewiring 0.1), the
            name of a bundled real graph (``envs.social.networks.BUNDLED``) or an ``nx.Graph``.
        avg_degree: target mean degree (random families only).
        posts_per_round: fresh posts per round, ≥ 1.
        view_probability: probability that a sharer exposes a given neighbour, in [0, 1].
        max_hops: propagation hops after the seed exposure (0 = seed exposures only).
        prior_concentration: None for homogeneous priors; else c > 0, user priors ~ Dirichlet(c · μ_base).
        user_types: None, or (K, S) type priors μ_k (exclusive with ``prior_concentration``).
        type_weights: (K,) share of users of each type; default uniform.
        performative_eta: η ∈ [0, 1]; 0 keeps the content static.
        content_from: "seeds" (the spec's map from seed shares) or "cascade" (every share counts).
        belief_rate: λ ∈ [0, 1]; 0: users' beliefs follow the content prior; > 0: from their own feeds.
        scheme: (Ŝ, 2) or (Ŝ,) P(recommend share | θ̂); default ``full_revelation_scheme(game)``.
            The scheme is fixed until ``set_scheme`` (it is not re-optimised when μ_t moves).
        step_mode: "vectorized" or "agents" (per-agent loop, the benchmark baseline).
        rng: seed of the model's random streams (Mesa 3 ``rng``).

    Attributes:
        content_prior: (S,) current content distribution μ_t (μ_0 = ``game.prior`` = μ_base).
        user_priors: (N, S) read-only current user priors (a broadcast of μ_t when homogeneous; each
            user's own feed-formed belief when ``belief_rate`` > 0).
        scheme: (Ŝ, 2) the deployed public scheme φ(σ | θ̂) (type 0's when personalised).
        schemes: (1, Ŝ, 2) the public scheme, or (K, Ŝ, 2) personalised schemes.
        user_type: (N,) type of each user (all 0 without ``user_types``); type_priors: (K, S) current.
        users: the UserAgents, ``users[i]`` on network node i; ``G``, ``grid`` (Mesa ``Network``) and
            ``adjacency`` (CSR) are the same network.
        user_exposures, user_shares, user_misinformation_shares: (N,) cumulative per-user counters
            (misinformation shares are weighted by the post's m ∈ [0, 1]).
        last_round: metrics of the last round — the DataCollector's ``share_rate`` (fraction of seed
            exposures shared), ``misinformation_share_rate`` (mean of shared · m at seed exposures),
            ``mean_cascade_size`` (sharers per post, seed included), ``misinformation_cascade_size``
            (sharers per post, posts weighted by m; 0 without misinformation), ``platform_utility``
            (mean v(θ, seed action)), ``n_decisions`` (exposures = share decisions) — plus ``max_depth``
            (deepest hop reached), ``performative_degenerate`` (1.0 if nothing was shared in a
            performative update) and ``share_given_state`` ((S,) empirical P(share | θ) at seed
            exposures, NaN for states with no post this round), the reach metrics (module docstring) and
            ``share_rate_by_type``, ``misinformation_share_rate_by_type``, ``platform_utility_by_type``
            ((K,) seed-exposure rates per user type, NaN for a type without seed exposures), and
            ``ignore_no_share_rate`` (fraction of users who share even when told not to, this round).
        datacollector: Mesa DataCollector, one row of the ten reporters per round.
    """

    def __init__(
        self,
        game: SocialGame,
        *,
        n_users: int | None = None,
        graph: str | nx.Graph = "erdos_renyi",
        avg_degree: float = 8.0,
        posts_per_round: int = 500,
        view_probability: float = 0.3,
        max_hops: int = 6,
        prior_concentration: float | None = None,
        user_types: np.ndarray | None = None,
        type_weights: np.ndarray | None = None,
        performative_eta: float = 0.0,
        content_from: str = "seeds",
        belief_rate: float = 0.0,
        scheme: np.ndarray | None = None,
        step_mode: str = "vectorized",
        rng: int | None = None,
    ) -> None:
        fixed_graph = _fixed_graph(graph, n_users)
        if fixed_graph is None:
            n_users = DEFAULT_USERS if n_users is None else n_users
            check_generated(graph, n_users, avg_degree)
        else:
            n_users = fixed_graph.number_of_nodes()
        _validate(posts_per_round, view_probability, max_hops, prior_concentration, performative_eta,
                  content_from, belief_rate, step_mode)
        if user_types is not None and prior_concentration is not None:
            raise ValueError("user_types: give either user_types or prior_concentration, not both")
        type_priors = None if user_types is None else _check_types(user_types, type_weights, game.n_states)
        super().__init__(rng=rng)
        self.game = game
        self.n_users = int(n_users)
        self.graph_kind = graph if isinstance(graph, str) else "custom"
        self.posts_per_round = int(posts_per_round)
        self.view_probability = float(view_probability)
        self.max_hops = int(max_hops)
        self.performative_eta = float(performative_eta)
        self.content_from = content_from
        self.belief_rate = float(belief_rate)
        self.step_mode = step_mode

        # World: follower network, one user per node, adjacency cached for the hot path.
        graph_seed = int(self.rng.integers(2**31))  # drawn either way: the same streams for every graph
        self.G = fixed_graph if fixed_graph is not None else build_graph(graph, self.n_users, avg_degree, graph_seed)
        self.grid = Network(self.G, capacity=1, random=self.random)
        cells = [self.grid[node] for node in range(self.n_users)]
        self.users: list[UserAgent] = list(
            UserAgent.create_agents(self, self.n_users, cells, list(range(self.n_users)))
        )  # users[i] sits on node i
        self.adjacency: sp.csr_matrix = sp.csr_matrix(
            nx.to_scipy_sparse_array(self.G, nodelist=range(self.n_users), dtype=np.float32, format="csr")
        )

        # Priors: content μ_t and the users' (homogeneous, or a fixed Dirichlet tilt of μ_t).
        self.base_prior = np.asarray(game.prior, dtype=float).copy()
        self.content_prior = self.base_prior.copy()
        self.user_tilt: np.ndarray | None = None
        self.type_tilt: np.ndarray | None = None
        self.user_type = np.zeros(self.n_users, dtype=np.int64)
        if prior_concentration is not None:
            self.user_tilt = _dirichlet_tilt(self.base_prior, float(prior_concentration), self.n_users, self.rng)
        if type_priors is not None:
            priors, weights = type_priors
            self.type_tilt = np.divide(priors, self.base_prior, out=np.zeros_like(priors), where=self.base_prior > 0)
            self.user_type = _assign_types(weights, self.n_users, self.rng)
        self.n_types = 1 if self.type_tilt is None else self.type_tilt.shape[0]
        self.user_beliefs: np.ndarray | None = None
        self._refresh_user_priors()
        if self.belief_rate > 0.0:  # from now on each user's own belief, moved only by their feed
            self.user_beliefs = np.array(self.user_priors, dtype=float)
            self.user_beliefs.setflags(write=False)
            self.user_priors = self.user_beliefs
        self.set_scheme(full_revelation_scheme(game) if scheme is None else scheme)

        # Per-user counters (read through the agents' properties) and per-round metrics.
        self.user_exposures = np.zeros(self.n_users, dtype=np.int64)
        self.user_shares = np.zeros(self.n_users, dtype=np.int64)
        self.user_misinformation_shares = np.zeros(self.n_users, dtype=float)
        self.last_round: dict[str, Any] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={key: _reporter(key) for key in REPORTERS}
        )

    # ------------------------------------------------------------------ public interface
    def set_scheme(self, scheme: np.ndarray, personalised: bool = False) -> None:
        """Deploy a public scheme — (Ŝ, 2) rows φ(σ | θ̂), or (Ŝ,) P(recommend share | θ̂) — or, with
        ``personalised``, one scheme per user type ((K, Ŝ, 2) or (K, Ŝ)), sent privately."""
        n_pred = self.game.n_predictions
        if personalised:
            if np.ndim(scheme) not in (2, 3) or len(scheme) != self.n_types:
                raise ValueError(f"scheme: personalised schemes need one per type ({self.n_types}), "
                                 f"got shape {np.shape(scheme)}")
            self.schemes = np.stack([as_scheme(s, n_pred) for s in scheme])
        else:
            self.schemes = as_scheme(scheme, n_pred)[None]
        self.personalised = bool(personalised)
        self.scheme = self.schemes[0]
        self.signal_group = self.user_type if personalised else np.zeros(self.n_users, dtype=np.int64)

    def decision_table(self) -> np.ndarray:
        """(N, 2) bool: does user i share after signal σ (from their own scheme)? Vectorised over users."""
        game = self.game
        if self.user_beliefs is not None:  # own beliefs: one vectorised best response per scheme group
            table = np.empty((self.n_users, 2), dtype=bool)
            for group, scheme in enumerate(self.schemes):
                members = self.signal_group == group
                table[members] = best_response(self.user_beliefs[members], game.confusion, scheme,
                                               game.user_utility) == SHARE
            return table
        if self.type_tilt is not None:  # K types: one best response per type, gathered per user
            table = np.stack([best_response(self.type_priors[k], game.confusion,
                                            self.schemes[k if self.personalised else 0], game.user_utility)
                              for k in range(self.n_types)]) == SHARE
            return table[self.user_type]
        if self.user_tilt is None:  # homogeneous: one representative user, broadcast
            action = best_response(self.content_prior, game.confusion, self.scheme, game.user_utility)
            return np.broadcast_to(action == SHARE, (self.n_users, 2))
        return best_response(self.user_priors, game.confusion, self.scheme, game.user_utility) == SHARE

    def step(self) -> None:
        """One round: sample posts, run their cascades, record metrics, move the world if performative."""
        if self.step_mode == "vectorized":
            self._step_vectorized()
        else:
            self._step_agents()

    # ------------------------------------------------------------------ the two implementations
    def _step_vectorized(self) -> None:
        """All posts at once: inverse-CDF sampling of θ, θ̂, σ and seeds, one decision table for the
        round, the cascade kernel, then the per-user counters by bincount."""
        game, rng, n_posts = self.game, self.rng, self.posts_per_round
        state = _sample_categorical(np.cumsum(self.content_prior), rng.random(n_posts))
        prediction = _sample_categorical(np.cumsum(game.confusion, axis=1)[state], rng.random(n_posts))
        if self.personalised:  # one private recommendation per type and post, (P, K)
            signal = (rng.random((n_posts, self.n_types)) < self.schemes[:, prediction, SHARE].T).astype(np.int64)
        else:
            signal = (rng.random(n_posts) < self.scheme[prediction, SHARE]).astype(np.int64)
        seeds = rng.integers(0, self.n_users, n_posts)

        table = self.decision_table()
        record = propagate_cascades(self.adjacency, seeds, signal, table, self.view_probability, self.max_hops, rng,
                                    signal_group=self.signal_group if self.personalised else None)

        sharers, shared_posts = record.user[record.shared], record.post[record.shared]
        self.user_exposures += np.bincount(record.user, minlength=self.n_users)
        self.user_shares += np.bincount(sharers, minlength=self.n_users)
        self.user_misinformation_shares += np.bincount(
            sharers, weights=game.misinformation[state[shared_posts]], minlength=self.n_users
        )
        self._finish_round(state, seeds, record.seed_shared, record.post, record.user, record.shared,
                           record.max_depth, table)

    def _step_agents(self) -> None:
        """The per-agent loop: post by post, a breadth-first cascade in which every exposed agent
        decides (``decide``, cached per (agent, σ) for the round) and updates its own counters (stdlib
        ``self.random`` for the scalar draws)."""
        game, rnd = self.game, self.random
        cache: dict[tuple[int, int], int] = {}

        def decide(agent: UserAgent, signal: int) -> int:
            key = (agent.index, signal)
            if key not in cache:
                cache[key] = agent.decide(signal)
            return cache[key]

        states, predictions = range(game.n_states), range(game.n_predictions)
        prior_cdf = list(itertools.accumulate(self.content_prior))
        confusion_cdf = [list(itertools.accumulate(row)) for row in game.confusion]
        state_of_post, seed_users, seed_shared = [], [], []
        exposure_post, exposure_user, exposure_shared = [], [], []  # one entry per exposure (= decision)
        max_depth = 0

        for post in range(self.posts_per_round):
            state = rnd.choices(states, cum_weights=prior_cdf)[0]
            prediction = rnd.choices(predictions, cum_weights=confusion_cdf[state])[0]
            signals = [SHARE if rnd.random() < scheme[prediction, SHARE] else NO_SHARE for scheme in self.schemes]
            misinformation = float(game.misinformation[state])

            def expose(user: UserAgent) -> bool:
                shares = decide(user, signals[self.signal_group[user.index]]) == SHARE
                user.record(shares, misinformation)
                exposure_post.append(post)
                exposure_user.append(user.index)
                exposure_shared.append(shares)
                return shares

            seed = rnd.choice(self.users)
            seed_action = expose(seed)
            exposed = {seed}
            frontier = [seed] if seed_action else []
            hop = 0
            while frontier and hop < self.max_hops:  # breadth-first, one hop per iteration
                hop += 1
                next_frontier = []
                for sharer in frontier:
                    for neighbour in sharer.cell.neighborhood.agents:
                        if neighbour in exposed or rnd.random() >= self.view_probability:
                            continue
                        exposed.add(neighbour)
                        max_depth = max(max_depth, hop)
                        if expose(neighbour):
                            next_frontier.append(neighbour)
                frontier = next_frontier

            state_of_post.append(state)
            seed_users.append(seed.index)
            seed_shared.append(seed_action)

        self._finish_round(np.array(state_of_post), np.array(seed_users), np.array(seed_shared),
                           np.array(exposure_post, dtype=np.int64), np.array(exposure_user, dtype=np.int64),
                           np.array(exposure_shared, dtype=bool), max_depth, self.decision_table())

    # ------------------------------------------------------------------ shared bookkeeping
    def _finish_round(self, state: np.ndarray, seed_users: np.ndarray, seed_shared: np.ndarray,
                      exposure_post: np.ndarray, exposure_user: np.ndarray, exposure_shared: np.ndarray,
                      max_depth: int, table: np.ndarray) -> None:
        """Round metrics from the posts and every exposure, DataCollector row, then content and belief
        dynamics (``envs.social.dynamics``)."""
        game = self.game
        misinformation = game.misinformation[state]
        action = seed_shared.astype(np.int64)
        seed_type = self.user_type[seed_users]
        per_type = lambda x: _group_mean(x, seed_type, self.n_types)  # noqa: E731
        reach = reach_outcomes(exposure_post, exposure_shared, state, game.misinformation, game.platform_utility)
        posts_per_state = np.bincount(state, minlength=game.n_states)
        shares_per_state = np.bincount(state, weights=action, minlength=game.n_states)
        share_given_state = np.divide(shares_per_state, posts_per_state,
                                      out=np.full(game.n_states, np.nan), where=posts_per_state > 0)
        misinformation_mass = misinformation.sum()
        self.last_round = {
            "share_rate": float(action.mean()),
            "misinformation_share_rate": float((action * misinformation).mean()),
            "mean_cascade_size": float(reach.sharers.mean()),
            "misinformation_cascade_size": (  # sharers per post, posts weighted by misinformation level
                float((misinformation * reach.sharers).sum() / misinformation_mass)
                if misinformation_mass > 0 else 0.0
            ),
            "platform_utility": float(game.platform_utility[state, action].mean()),
            "n_decisions": float(exposure_post.size),
            "views_per_post": float(reach.views.mean()),
            "misinformation_views": float(reach.misinformation_views.mean()),
            "reach_platform_utility": float(reach.platform_utility.mean()),
            "ignore_no_share_rate": float(table[:, NO_SHARE].mean()),
            "share_rate_by_type": per_type(action),
            "misinformation_share_rate_by_type": per_type(action * misinformation),
            "platform_utility_by_type": per_type(game.platform_utility[state, action]),
            "max_depth": float(max_depth),
            "share_given_state": share_given_state,
            "performative_degenerate": 0.0,
        }
        self.datacollector.collect(self)

        if self.performative_eta > 0.0:
            if self.content_from == "cascade":  # every share along the cascades counts
                shares = np.bincount(state[exposure_post[exposure_shared]], minlength=game.n_states)
                prior, degenerate = content_update(self.content_prior, self.base_prior, shares,
                                                   self.performative_eta)
            else:
                observed = np.nan_to_num(share_given_state, nan=0.0)  # no posts of θ ⇒ none of θ shared
                prior, degenerate = performative_update(self.content_prior, self.base_prior, observed,
                                                        self.performative_eta)
            self.content_prior = prior / prior.sum()
            self.last_round["performative_degenerate"] = float(degenerate)
            if self.user_beliefs is None:
                self._refresh_user_priors()
        if self.user_beliefs is not None and self.belief_rate > 0.0:
            counts = feed_counts(exposure_user, state[exposure_post], self.n_users, game.n_states)
            self.user_beliefs = belief_update(self.user_beliefs, counts, self.belief_rate)
            self.user_beliefs.setflags(write=False)
            self.user_priors = self.user_beliefs

    def _refresh_user_priors(self) -> None:
        """user_priors (read-only): μ_t for everyone, or μ_t · w_i renormalised per user (per type)."""
        if self.type_tilt is not None:
            self.type_priors = _tilted(self.content_prior, self.type_tilt)
            priors = self.type_priors[self.user_type]
            priors.setflags(write=False)
            self.user_priors = priors
            return
        if self.user_tilt is None:
            self.user_priors = np.broadcast_to(self.content_prior, (self.n_users, self.content_prior.size))
            return
        priors = _tilted(self.content_prior, self.user_tilt)
        priors.setflags(write=False)
        self.user_priors = priors


# ---------------------------------------------------------------------- helpers
def _reporter(key: str):
    return lambda model: model.last_round[key]


def _tilted(content_prior: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """Rows μ_t ⊙ w renormalised (μ_t where the tilt has no mass on μ_t's support)."""
    tilted = content_prior * tilt
    total = tilted.sum(axis=1, keepdims=True)
    return np.where(total > 0, tilted / np.where(total > 0, total, 1.0), content_prior)


def _group_mean(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """(K,) mean of `values` within each group (NaN for an empty group)."""
    count = np.bincount(group, minlength=n_groups)
    total = np.bincount(group, weights=np.asarray(values, float), minlength=n_groups)
    return np.divide(total, count, out=np.full(n_groups, np.nan), where=count > 0)


def _check_types(user_types: np.ndarray, type_weights: np.ndarray | None, n_states: int):
    """Validated ((K, S) type priors, (K,) weights); raises ValueError naming the argument."""
    priors = np.asarray(user_types, dtype=float)
    if priors.ndim != 2 or priors.shape[1] != n_states or not np.all(np.isfinite(priors)):
        raise ValueError(f"user_types: expected a finite (K, {n_states}) array of priors, got shape {priors.shape}")
    if np.any(priors < 0) or np.any(np.abs(priors.sum(axis=1) - 1.0) > 1e-8):
        raise ValueError("user_types: every row must be a probability vector")
    k = priors.shape[0]
    weights = np.full(k, 1.0 / k) if type_weights is None else np.asarray(type_weights, dtype=float)
    finite = weights.shape == (k,) and np.all(np.isfinite(weights))
    if not finite or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-8:
        raise ValueError(f"type_weights: expected {k} non-negative weights summing to 1, got {type_weights!r}")
    return priors, weights


def _assign_types(weights: np.ndarray, n_users: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) user types: round(w_k N) users of type k (largest remainders), in random order."""
    exact = weights * n_users
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: n_users - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(weights)), counts))


def _sample_categorical(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: index of the first CDF entry above u, per row (cdf is (K,) or (n, K))."""
    cdf = cdf / cdf[..., -1:]
    return (cdf <= uniform[:, None]).sum(axis=-1)


def _dirichlet_tilt(base_prior: np.ndarray, concentration: float, n_users: int, rng: np.random.Generator) -> np.ndarray:
    """(N, S) fixed tilts w_i = prior_i / μ_base with prior_i ~ Dirichlet(c · μ_base) on μ_base's support."""
    support = base_prior > 0
    priors = np.zeros((n_users, base_prior.size))
    priors[:, support] = rng.dirichlet(concentration * base_prior[support], size=n_users)
    tilt = np.zeros_like(priors)
    tilt[:, support] = priors[:, support] / base_prior[support]
    return tilt


def _fixed_graph(graph: str | nx.Graph, n_users: int | None) -> nx.Graph | None:
    """The given or bundled network relabelled 0..N−1, or None for a random family (drawn later)."""
    if isinstance(graph, str):
        if graph not in GRAPHS:
            raise ValueError(f"graph: unknown graph {graph!r}; expected one of {GRAPHS} or an nx.Graph")
        if graph in GENERATED:
            return None
        fixed = build_graph(graph, 0, 0.0, 0)
    elif isinstance(graph, nx.Graph):
        fixed = as_user_graph(graph)
    else:
        raise ValueError(f"graph: expected a graph name or an nx.Graph, got {type(graph).__name__}")
    if fixed.number_of_nodes() < 2:
        raise ValueError(f"graph: need at least 2 nodes, got {fixed.number_of_nodes()}")
    if n_users is not None and n_users != fixed.number_of_nodes():
        raise ValueError(f"n_users: the graph has {fixed.number_of_nodes()} nodes, got n_users={n_users}")
    return fixed


def _validate(posts_per_round: int, view_probability: float, max_hops: int, prior_concentration: float | None,
              performative_eta: float, content_from: str, belief_rate: float, step_mode: str) -> None:
    """Raise ValueError naming the offending argument."""
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode: unknown mode {step_mode!r}; expected one of {STEP_MODES}")
    if content_from not in CONTENT_SOURCES:
        raise ValueError(f"content_from: unknown source {content_from!r}; expected one of {CONTENT_SOURCES}")
    if int(posts_per_round) != posts_per_round or posts_per_round < 1:
        raise ValueError(f"posts_per_round must be an integer >= 1, got {posts_per_round}")
    if not 0.0 <= view_probability <= 1.0:
        raise ValueError(f"view_probability must lie in [0, 1], got {view_probability}")
    if int(max_hops) != max_hops or max_hops < 0:
        raise ValueError(f"max_hops must be an integer >= 0, got {max_hops}")
    if prior_concentration is not None and not (np.isfinite(prior_concentration) and prior_concentration > 0):
        raise ValueError(f"prior_concentration must be None or positive, got {prior_concentration}")
    if not 0.0 <= performative_eta <= 1.0:
        raise ValueError(f"performative_eta must lie in [0, 1], got {performative_eta}")
    if not 0.0 <= belief_rate <= 1.0:
        raise ValueError(f"belief_rate must lie in [0, 1], got {belief_rate}")
