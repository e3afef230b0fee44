"""Networks that matter: reach against hand-counted cascades, content and belief dynamics by hand, graphs
from files and networkx's bundled real graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from envs.social import SocialGame
from envs.social.cascade import propagate_cascades
from envs.social.dynamics import belief_update, content_update, feed_counts, reach_outcomes
from envs.social.model import MisinformationModel
from envs.social.networks import BUNDLED, build_graph, describe, read_graph_file

GAME = SocialGame.default()  # TU, TP, MU, MP; α = 0.1, so v(share) = (0.1, 0.1, −1, −1)
TU, TP, MU, MP = range(4)


def adjacency(graph: nx.Graph) -> sp.csr_matrix:
    return sp.csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(graph.number_of_nodes()), format="csr"))


# ---------------------------------------------------------------- reach: every view in the cascade counts
def test_reach_of_a_hand_made_cascade() -> None:
    """Path 0–1–2–3 with a leaf 4 on 1, every share seen (p = 1).

    Post 0 (MP, σ = share) seeded at 0: 0 shares → 1 sees it and shares → 2 and 4 see it, neither shares:
    views {0, 1, 2, 4} = 4, sharers 2. Post 1 (TU, σ = don't share) seeded at 3, who shares anyway → 2 sees
    it and does not share: views 2, sharers 1.
    """
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (1, 4)])
    share_table = np.array([[False, True], [False, True], [False, False], [True, True], [False, False]])
    record = propagate_cascades(adjacency(graph), np.array([0, 3]), np.array([1, 0]), share_table,
                                view_probability=1.0, max_hops=6, rng=np.random.default_rng(0))
    seen = sorted(zip(record.post.tolist(), record.user.tolist(), record.hop.tolist()))
    assert seen == [(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 4, 2), (1, 2, 1), (1, 3, 0)]
    reach = reach_outcomes(record.post, record.shared, np.array([MP, TU]), GAME.misinformation,
                           GAME.platform_utility)
    np.testing.assert_array_equal(reach.views, [4, 2])
    np.testing.assert_array_equal(reach.sharers, [2, 1])
    np.testing.assert_array_equal(reach.misinformation_views, [4, 0])           # 4 views of misinformation
    np.testing.assert_allclose(reach.platform_utility, [2 * -1.0, 1 * 0.1])     # a share costs 1, earns α = 0.1


def test_model_reach_on_a_star_counts_every_view() -> None:
    """Every post is MP (popular: every user shares), p = 1 on a 5-node star: whoever is the seed, all five
    users see and share it, so a post costs the platform 5 shares, not the seed's one."""
    game = GAME.with_prior(np.array([0.0, 0.0, 0.0, 1.0]))
    model = MisinformationModel(game, graph=nx.star_graph(4), posts_per_round=30, view_probability=1.0,
                                max_hops=3, scheme=np.ones(4), rng=0)
    model.step()
    r = model.last_round
    assert (r["views_per_post"], r["misinformation_views"], r["mean_cascade_size"]) == (5.0, 5.0, 5.0)
    assert r["reach_platform_utility"] == -5.0 and r["platform_utility"] == -1.0  # seed-only would say −1


# ---------------------------------------------------------------- content and belief dynamics, one step by hand
def test_content_update_one_step_by_hand() -> None:
    base = np.array([0.3, 0.4, 0.1, 0.2])
    shares = np.array([0.0, 3.0, 1.0, 0.0])  # three TP shares, one MU share: shared_t = (0, .75, .25, 0)
    content, degenerate = content_update(base, base, shares, eta=0.5)
    np.testing.assert_allclose(content, [0.15, 0.575, 0.175, 0.1])
    assert not degenerate
    stay, degenerate = content_update(np.array([0.1, 0.2, 0.3, 0.4]), base, np.zeros(4), eta=0.5)
    np.testing.assert_array_equal(stay, [0.1, 0.2, 0.3, 0.4])  # nothing shared: the content stays
    assert degenerate


def test_belief_update_from_a_feed_one_step_by_hand() -> None:
    """User 0 saw MP, MP, TP; user 1 saw nothing; λ = 0.5 from uniform beliefs:
    b_0 = 0.5·(¼, ¼, ¼, ¼) + 0.5·(0, ⅓, 0, ⅔) = (0.125, 0.29167, 0.125, 0.45833); b_1 unchanged."""
    counts = feed_counts(np.array([0, 0, 0]), np.array([MP, MP, TP]), n_users=2, n_states=4)
    np.testing.assert_array_equal(counts, [[0, 1, 0, 2], [0, 0, 0, 0]])
    beliefs = belief_update(np.full((2, 4), 0.25), counts, rate=0.5)
    np.testing.assert_allclose(beliefs, [[0.125, 0.25 / 2 + 1 / 6, 0.125, 0.125 + 1 / 3], [0.25] * 4])


def test_model_beliefs_move_only_for_users_who_saw_posts() -> None:
    """All content is TP, so after one round a user who saw anything believes (1 − λ) μ_base + λ e_TP."""
    game = GAME.with_prior(np.array([0.3, 0.4, 0.1, 0.2]))
    model = MisinformationModel(game, graph="karate_club", posts_per_round=20, view_probability=0.2,
                                max_hops=1, belief_rate=0.4, scheme=np.ones(4), rng=1)
    model.content_prior = np.array([0.0, 1.0, 0.0, 0.0])
    model.step()
    saw = model.user_exposures > 0
    assert 0 < saw.sum() < model.n_users
    expected = 0.6 * game.prior + 0.4 * np.eye(4)[TP]
    np.testing.assert_allclose(model.user_priors[saw], np.tile(expected, (saw.sum(), 1)))
    np.testing.assert_allclose(model.user_priors[~saw], np.tile(game.prior, ((~saw).sum(), 1)))
    np.testing.assert_array_equal(model.content_prior, [0.0, 1.0, 0.0, 0.0])  # η = 0: content static


def test_cascades_bias_feeds_toward_shared_content() -> None:
    """Under honest revelation of θ̂ (the default scheme) users share what is predicted popular: shared
    content is 0.6·0.8 / (0.6·0.8 + 0.4·0.2) = 6/7 popular, fresh content 0.6. With λ = 1 a belief is the
    user's feed. Without cascades (max_hops = 0) a feed is fresh seed posts (≈ 0.6 popular); with cascades
    on a star the hub's feed is almost all shares (→ 6/7) and shared posts reach the leaves through it."""
    popular = np.array([0.0, 1.0, 0.0, 1.0])
    mass = {}
    for hops in (0, 6):
        star = MisinformationModel(GAME, graph=nx.star_graph(30), posts_per_round=300, view_probability=0.5,
                                   max_hops=hops, belief_rate=1.0, rng=0)
        star.step()
        mass[hops] = star.user_priors @ popular
    assert abs(mass[0].mean() - 0.6) < 0.05
    assert abs(mass[6][0] - 6 / 7) < 0.05 and mass[6].mean() > 0.78


# ---------------------------------------------------------------- graphs: bundled, files, malformed files
@pytest.mark.parametrize("name, nodes, edges", [("karate_club", 34, 78), ("les_miserables", 77, 254),
                                                ("florentine_families", 15, 20), ("davis_southern_women", 32, 89)])
def test_bundled_real_graphs(name, nodes, edges) -> None:
    graph = build_graph(name, 0, 0.0, 0)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (nodes, edges)
    assert sorted(graph.nodes) == list(range(nodes))
    model = MisinformationModel(GAME, graph=name, posts_per_round=50, rng=0)
    model.step()
    assert model.n_users == nodes and model.last_round["views_per_post"] >= 1.0
    assert describe(graph)["n_users"] == nodes


def test_graph_files_round_trip(tmp_path) -> None:
    karate = nx.karate_club_graph()
    nx.write_edgelist(karate, tmp_path / "karate.txt", data=False)
    from_list = read_graph_file(tmp_path / "karate.txt")
    assert nx.is_isomorphic(from_list, karate) and from_list.number_of_edges() == 78
    les_mis = BUNDLED["les_miserables"]()
    nx.write_graphml(les_mis, tmp_path / "lesmis.graphml")
    from_xml = read_graph_file(tmp_path / "lesmis.graphml")
    expected = nx.convert_node_labels_to_integers(les_mis)  # GraphML keeps the node order
    assert set(map(frozenset, from_xml.edges)) == set(map(frozenset, expected.edges))
    (tmp_path / "loops.txt").write_text("# comment\na b 1.0\nb b\nb a\n\nc a  # trailing\n")
    loops = read_graph_file(tmp_path / "loops.txt")
    assert (loops.number_of_nodes(), loops.number_of_edges()) == (3, 2)  # self-loop and duplicate dropped
    model = MisinformationModel(GAME, graph=from_list, posts_per_round=20, rng=0)
    assert model.n_users == 34


@pytest.mark.parametrize("name, text, match", [
    ("one_column.txt", "0 1\n2\n", "line 2"),
    ("broken.graphml", "<graphml><graph", "GraphML"),
    ("single.txt", "# only a comment\n", "0 node"),
    ("binary.txt", b"\xff\xfe\x00\x81", "edge list"),
])
def test_malformed_graph_files_are_one_line_errors(tmp_path, name, text, match) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=match) as err:
        read_graph_file(path)
    assert "\n" not in str(err.value) and str(err.value).startswith("graph_file:")
    with pytest.raises(ValueError, match="no such file"):
        read_graph_file(tmp_path / "missing.txt")


def test_real_graph_size_conflicts_are_named() -> None:
    with pytest.raises(ValueError, match="n_users"):
        MisinformationModel(GAME, graph="karate_club", n_users=100)
    with pytest.raises(ValueError, match="graph"):
        MisinformationModel(GAME, graph="twitter")
    with pytest.raises(ValueError, match="belief_rate"):
        MisinformationModel(GAME, graph="karate_club", belief_rate=1.5)
    with pytest.raises(ValueError, match="content_from"):
        MisinformationModel(GAME, graph="karate_club", content_from="views")
