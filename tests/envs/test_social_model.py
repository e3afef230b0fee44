"""Tests of the Mesa network model of users sharing posts under a signalling scheme (envs/social/model.py)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from envs.social.cascade import propagate_cascades
from envs.social.game import NO_SHARE, SHARE, SocialGame
from envs.social.model import MisinformationModel, UserAgent, full_revelation_scheme
from envs.social.networks import GENERATED

GAME = SocialGame.default()
FRACTIONAL = np.array([0.2, 1.0, 0.5, 0.7])


def run(model: MisinformationModel, rounds: int) -> pd.DataFrame:
    for _ in range(rounds):
        model.step()
    return model.datacollector.get_model_vars_dataframe()


def small(**kwargs) -> MisinformationModel:
    config = dict(n_users=200, avg_degree=4.0, posts_per_round=100, rng=0)
    config.update(kwargs)
    return MisinformationModel(GAME, **config)


# ---------------------------------------------------------------- construction and interface
@pytest.mark.parametrize("graph", GENERATED)
def test_each_graph_builds_with_n_users(graph):
    model = small(graph=graph, n_users=150)
    assert model.G.number_of_nodes() == 150
    assert len(model.users) == len(model.agents) == 150
    assert model.adjacency.shape == (150, 150)
    assert (model.adjacency != model.adjacency.T).nnz == 0
    for user in model.users[:20]:  # the Mesa cell's neighbours are the adjacency row
        neighbours = sorted(agent.index for agent in user.cell.neighborhood.agents)
        assert neighbours == sorted(model.adjacency.indices[model.adjacency.indptr[user.index]:
                                                            model.adjacency.indptr[user.index + 1]])
    assert isinstance(model.users[0], UserAgent)


def test_default_scheme_is_full_revelation_of_the_prediction():
    model = small()
    np.testing.assert_allclose(model.scheme[:, SHARE], full_revelation_scheme(GAME))
    np.testing.assert_allclose(full_revelation_scheme(GAME), [0, 1, 0, 1])  # share iff predicted popular


def test_decide_matches_the_vectorised_decision_table():
    model = small(prior_concentration=2.0)
    model.set_scheme(FRACTIONAL)
    table = model.decision_table()
    for user in model.users[:30]:
        assert [user.decide(NO_SHARE), user.decide(SHARE)] == list(table[user.index].astype(int))


@pytest.mark.parametrize("kwargs, argument", [
    (dict(graph="small_world"), "graph"),
    (dict(n_users=1), "n_users"),
    (dict(view_probability=1.5), "view_probability"),
    (dict(view_probability=-0.1), "view_probability"),
    (dict(step_mode="fast"), "step_mode"),
    (dict(max_hops=-1), "max_hops"),
    (dict(posts_per_round=0), "posts_per_round"),
    (dict(performative_eta=2.0), "performative_eta"),
    (dict(prior_concentration=0.0), "prior_concentration"),
    (dict(avg_degree=500.0), "avg_degree"),
    (dict(scheme=np.ones(3)), "scheme"),
])
def test_bad_input_raises_naming_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        small(**kwargs)


# ---------------------------------------------------------------- determinism
@pytest.mark.parametrize("step_mode", ["vectorized", "agents"])
def test_same_seed_same_data_different_seed_different_data(step_mode):
    frames = [run(small(rng=seed, step_mode=step_mode, posts_per_round=40, prior_concentration=3.0), 3)
              for seed in (7, 7, 8)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert not frames[0].equals(frames[2])
    assert list(frames[0].columns) == ["share_rate", "misinformation_share_rate", "mean_cascade_size",
                                       "misinformation_cascade_size", "platform_utility", "n_decisions",
                                       "views_per_post", "misinformation_views", "reach_platform_utility",
                                       "ignore_no_share_rate"]


# ---------------------------------------------------------------- seed exposures = the single-round game
@pytest.mark.parametrize("scheme", [np.ones(4), full_revelation_scheme(GAME), FRACTIONAL],
                         ids=["all_share", "full_revelation", "fractional"])
def test_seed_share_rates_match_the_exact_game(scheme):
    rounds, posts = 10, 2000
    model = small(scheme=scheme, posts_per_round=posts, max_hops=2, rng=3)
    frame = run(model, rounds)
    exact = GAME.outcomes(scheme)
    n = rounds * posts

    def within_4_se(simulated: float, mean: float, second_moment: float) -> None:
        se = np.sqrt(max(second_moment - mean**2, 0.0) / n)
        assert abs(simulated - mean) <= 4 * se + 1e-12, (simulated, mean, se)

    within_4_se(frame.share_rate.mean(), exact.p_share, exact.p_share)
    within_4_se(frame.misinformation_share_rate.mean(), exact.p_share_and_misinformation,
                exact.p_share_and_misinformation)  # m ∈ {0, 1}: a Bernoulli variable
    v_share = GAME.platform_utility[:, SHARE]
    within_4_se(frame.platform_utility.mean(), exact.platform_utility,
                float(GAME.prior @ (exact.share_given_state * v_share**2)))
    np.testing.assert_allclose(model.last_round["share_given_state"], exact.share_given_state, atol=0.08)


# ---------------------------------------------------------------- misinformation and cascades
@pytest.mark.parametrize("step_mode", ["vectorized", "agents"])
def test_perfect_classifier_and_obeyed_scheme_share_no_misinformation(step_mode):
    game = SocialGame.default(misinformation_accuracy=1.0, popularity_accuracy=1.0, misinformation_aversion=1.0)
    model = MisinformationModel(game, n_users=150, avg_degree=6.0, posts_per_round=60, view_probability=0.5,
                                scheme=[1.0, 1.0, 0.0, 0.0], step_mode=step_mode, rng=1)
    assert np.all(model.decision_table() == [False, True])  # users obey the recommendation
    frame = run(model, 3)
    assert frame.share_rate.min() > 0 and frame.mean_cascade_size.min() > 1  # truthful posts do spread
    assert frame.misinformation_share_rate.max() == 0.0
    assert frame.misinformation_cascade_size.max() == 0.0
    assert model.user_misinformation_shares.sum() == 0.0


def test_no_viewing_means_cascades_are_the_seed_shares():
    model = small(view_probability=0.0)
    frame = run(model, 3)
    np.testing.assert_allclose(frame.mean_cascade_size, frame.share_rate)
    assert (frame.n_decisions == model.posts_per_round).all()
    assert model.last_round["max_depth"] == 0


def test_larger_view_probability_gives_larger_cascades():
    sizes = [run(small(view_probability=p, rng=2), 3).mean_cascade_size.mean() for p in (0.1, 0.3, 0.6)]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("max_hops", [0, 1, 3])
def test_max_hops_is_respected(max_hops):
    model = small(view_probability=1.0, scheme=np.ones(4), max_hops=max_hops)  # everyone shares
    model.step()
    assert model.last_round["max_depth"] == max_hops  # reached, never exceeded


def test_counters_add_up():
    model = small(prior_concentration=1.0)
    frame = run(model, 3)
    assert model.user_exposures.sum() == frame.n_decisions.sum()
    assert model.user_shares.sum() == pytest.approx(frame.mean_cascade_size.sum() * model.posts_per_round)
    assert np.all(model.user_shares <= model.user_exposures)
    user = model.users[int(np.argmax(model.user_exposures))]
    assert user.exposures == model.user_exposures.max() and user.shares >= 0
    assert 0 <= user.misinformation_shares <= user.shares


@pytest.mark.parametrize("max_bitmap_bytes", [1 << 25, 4 * 200 * 7])  # one chunk; chunks of 7 posts
def test_cascade_kernel_invariants(max_bitmap_bytes):
    rng = np.random.default_rng(0)
    graph = nx.fast_gnp_random_graph(200, 0.03, seed=1)
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(200), format="csr")
    posts = 50
    seeds, signals = rng.integers(0, 200, posts), rng.integers(0, 2, posts)
    share_table = rng.random((200, 2)) < [0.3, 0.9]
    record = propagate_cascades(adjacency, seeds, signals, share_table, 0.5, 4, rng, max_bitmap_bytes)
    assert record.hop.max() <= 4
    np.testing.assert_array_equal(record.seed_shared, share_table[seeds, signals])
    np.testing.assert_array_equal(record.shared, share_table[record.user, signals[record.post]])
    pairs = set(zip(record.post.tolist(), record.user.tolist()))
    assert len(pairs) == record.n_decisions  # nobody sees a post twice
    sharers = {(p, u): h for p, u, h, s in zip(record.post, record.user, record.hop, record.shared) if s}
    for p, u, h in zip(record.post, record.user, record.hop):
        if h == 0:
            assert u == seeds[p]
        else:  # exposed by a neighbour who shared the same post one hop earlier
            assert any(sharers.get((p, v)) == h - 1 for v in graph.neighbors(u))


# ---------------------------------------------------------------- the two step modes are the same process
@pytest.mark.parametrize("prior_concentration", [None, 5.0])
def test_vectorized_and_agents_modes_agree(prior_concentration):
    config = dict(n_users=150, avg_degree=4.0, posts_per_round=60, view_probability=0.3, max_hops=4,
                  prior_concentration=prior_concentration, scheme=FRACTIONAL)
    frames = [run(MisinformationModel(GAME, step_mode=mode, rng=11, **config), 25) for mode in ("vectorized", "agents")]
    for column in ("share_rate", "misinformation_share_rate", "mean_cascade_size"):
        a, b = (frame[column] for frame in frames)
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * se, (column, a.mean(), b.mean(), se)


# ---------------------------------------------------------------- priors: heterogeneous and performative
def test_heterogeneous_priors_are_distributions_that_differ():
    model = small(prior_concentration=5.0, n_users=400)
    priors = model.user_priors
    assert priors.shape == (400, GAME.n_states)
    np.testing.assert_allclose(priors.sum(axis=1), 1.0)
    assert np.all(priors >= 0) and priors.std(axis=0).min() > 0.01
    np.testing.assert_allclose(priors.mean(axis=0), GAME.prior, atol=0.03)  # Dirichlet(c μ) has mean μ
    np.testing.assert_array_equal(small().user_priors, np.tile(GAME.prior, (200, 1)))  # homogeneous default


@pytest.mark.parametrize("prior_concentration", [None, 5.0])
def test_performative_feedback_moves_the_priors(prior_concentration):
    model = small(performative_eta=0.5, prior_concentration=prior_concentration)
    users_before = model.user_priors.copy()
    model.step()
    prior = model.content_prior
    assert not np.allclose(prior, GAME.prior)
    assert np.all(prior >= 0) and prior.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(model.user_priors.sum(axis=1), 1.0)
    assert not np.allclose(model.user_priors, users_before)
    # Shared content under full revelation is mostly popular, so popular states gain mass.
    assert prior[1] + prior[3] > GAME.prior[1] + GAME.prior[3]

    static = small(performative_eta=0.0, prior_concentration=prior_concentration)
    run(static, 2)
    np.testing.assert_array_equal(static.content_prior, GAME.prior)
    np.testing.assert_array_equal(static.user_priors, users_before)


# ---------------------------------------------------------------- user types, personalised signals, reach
LP_SCHEME = np.array([0.0, 50 / 59, 0.0, 0.0])  # the LP optimum of the default game (φ(TP) = 0.8475 = 50/59)
SHIFTED = GAME.prior + 1e-6 * np.array([-1, 1, -1, 1]) / 2  # 1e-6 toward popular content


def test_types_are_assigned_in_proportion_and_read_the_signal_with_their_own_prior():
    model = small(user_types=np.stack([GAME.prior, SHIFTED]), type_weights=[0.75, 0.25], scheme=LP_SCHEME)
    assert np.bincount(model.user_type).tolist() == [150, 50]
    np.testing.assert_allclose(model.user_priors[model.user_type == 1], np.tile(SHIFTED, (50, 1)), atol=1e-12)
    table = model.decision_table()
    assert np.all(table[model.user_type == 0] == [False, True])  # the indifferent type obeys (ties)
    assert np.all(table[model.user_type == 1] == [True, True])   # 1e-6 away: shares after "don't share" too
    for user in model.users[:20]:
        assert [user.decide(NO_SHARE), user.decide(SHARE)] == list(table[user.index].astype(int))
    with pytest.raises(ValueError, match="user_types"):
        small(user_types=np.stack([GAME.prior, SHIFTED]), prior_concentration=2.0)
    with pytest.raises(ValueError, match="type_weights"):
        small(user_types=np.stack([GAME.prior, SHIFTED]), type_weights=[0.5, 0.6])


@pytest.mark.parametrize("step_mode", ["vectorized", "agents"])
def test_knife_edge_per_type_rates_match_the_game(step_mode):
    """Per-type seed-exposure rates: the obeying type shares 0.0305 misinformation, the shifted one 0.3."""
    from envs.social import UserPopulation, population_outcomes

    population = UserPopulation(np.stack([GAME.prior, SHIFTED]), np.array([0.5, 0.5]))
    exact = population_outcomes(GAME, LP_SCHEME, population)
    assert [o.p_share_and_misinformation for o in exact.per_type] == pytest.approx([0.0305085, 0.3], abs=1e-6)
    model = small(user_types=population.priors, scheme=LP_SCHEME, posts_per_round=400, step_mode=step_mode)
    rates = np.array([model.step() or model.last_round["misinformation_share_rate_by_type"] for _ in range(3)])
    np.testing.assert_allclose(rates.mean(axis=0), [0.0305, 0.3], atol=0.045)
    assert exact.aggregate.p_share_and_misinformation == pytest.approx((0.0305085 + 0.3) / 2, abs=1e-6)


@pytest.mark.parametrize("step_mode", ["vectorized", "agents"])
def test_personalised_schemes_reach_each_type_privately(step_mode):
    """Type 0 is always told "share", type 1 always "don't share": with misinformation-averse users
    under a perfect classifier each type follows its own recommendation, whatever the other sees."""
    game = SocialGame.default(misinformation_accuracy=1.0, popularity_accuracy=1.0, misinformation_aversion=3.0)
    model = MisinformationModel(game, n_users=100, avg_degree=4.0, posts_per_round=200, view_probability=1.0,
                                user_types=np.stack([game.prior, game.prior]), step_mode=step_mode, rng=3)
    model.set_scheme(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]), personalised=True)
    table = model.decision_table()
    assert np.all(table[model.user_type == 0] == [False, True]) and np.all(table[model.user_type == 1] == [False, True])
    model.step()
    share = model.last_round["share_rate_by_type"]
    # type 0 is told to share exactly the truthful posts (TU, TP); type 1 only TP: P = 0.7 vs 0.4
    np.testing.assert_allclose(share, [0.7, 0.4], atol=0.12)
    assert model.last_round["misinformation_share_rate"] == 0.0
    with pytest.raises(ValueError, match="scheme"):
        model.set_scheme(np.ones((3, 4)), personalised=True)


@pytest.mark.parametrize("max_hops, views", [(10, 5.0), (0, 1.0)])
def test_reach_metrics_on_a_hand_made_cascade(max_hops, views):
    """A path of 5 users, every post is popular misinformation that everyone shares, every share seen:
    each post is viewed by all 5 users (1 without hops), costing the platform v = −1 per share."""
    game = SocialGame.default(prior=(0.0, 0.0, 0.0, 1.0))
    model = MisinformationModel(game, n_users=5, avg_degree=2.0, graph="watts_strogatz", posts_per_round=30,
                                view_probability=1.0, max_hops=max_hops, scheme=np.ones(4), rng=0)
    model.adjacency = nx.to_scipy_sparse_array(nx.path_graph(5), format="csr")
    model.step()
    r = model.last_round
    assert r["views_per_post"] == views and r["misinformation_views"] == views
    assert r["reach_platform_utility"] == -views and r["platform_utility"] == -1.0
    assert r["mean_cascade_size"] == views
