"""Follower networks for the social world: random graph families, networkx's bundled real graphs, files.

Every network is returned as an undirected simple ``nx.Graph`` on nodes 0..N−1 (self-loops dropped,
parallel edges merged, edge weights ignored): user i sits on node i and a share by i is shown to each
neighbour of i independently (``envs.social.cascade``).

* Random families, drawn from an explicitly seeded generator (``GENERATED``): ``erdos_renyi``
  (G(N, p), p = d / (N − 1)), ``barabasi_albert`` (m = round(d / 2) edges per new node: heavy-tailed
  degrees), ``watts_strogatz`` (ring lattice of degree round(d), rewiring 0.1: clustered).
* Real graphs bundled with networkx (``BUNDLED``; no download): Zachary's karate club (34 members),
  Les Misérables character co-appearances (77), Florentine families' marriages (15; Padgett),
  Davis' southern women and the events they attended (32, bipartite).
* A user's own network (``read_graph_file``): a whitespace-separated edge list (``u v [data...]`` per
  line, ``#`` comments) or GraphML (``.graphml``); a malformed file is one ``ValueError`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np

GENERATED = ("erdos_renyi", "barabasi_albert", "watts_strogatz")
BUNDLED: dict[str, Callable[[], nx.Graph]] = {
    "karate_club": nx.karate_club_graph,
    "les_miserables": nx.les_miserables_graph,
    "florentine_families": nx.florentine_families_graph,
    "davis_southern_women": nx.davis_southern_women_graph,
}
GRAPHS = (*GENERATED, *BUNDLED)
GRAPHML_SUFFIXES = (".graphml", ".xml")


def as_user_graph(graph: nx.Graph) -> nx.Graph:
    """Undirected simple graph on nodes 0..N−1 (nodes in their original order), no self-loops."""
    simple = nx.Graph()
    simple.add_nodes_from(graph.nodes)
    simple.add_edges_from((u, v) for u, v in graph.edges() if u != v)
    return nx.convert_node_labels_to_integers(simple, ordering="default")


def build_graph(kind: str, n_users: int, avg_degree: float, seed: int) -> nx.Graph:
    """The named network: a seeded random graph of ``n_users`` nodes, or a bundled real graph (its own size)."""
    if kind in BUNDLED:
        return as_user_graph(BUNDLED[kind]())
    if kind == "erdos_renyi":
        return nx.fast_gnp_random_graph(n_users, avg_degree / (n_users - 1), seed=seed)  # G(n, p) in O(n + m)
    if kind == "barabasi_albert":
        return nx.barabasi_albert_graph(n_users, int(round(avg_degree / 2)), seed=seed)
    if kind == "watts_strogatz":
        return nx.watts_strogatz_graph(n_users, int(round(avg_degree)), 0.1, seed=seed)
    raise ValueError(f"graph: unknown graph {kind!r}; expected one of {GRAPHS}")


def check_generated(kind: str, n_users: int, avg_degree: float) -> None:
    """Raise ValueError naming the argument when a random family cannot be drawn with these parameters."""
    if int(n_users) != n_users or n_users < 2:
        raise ValueError(f"n_users must be an integer >= 2, got {n_users}")
    if not np.isfinite(avg_degree) or avg_degree <= 0:
        raise ValueError(f"avg_degree must be positive, got {avg_degree}")
    if kind == "erdos_renyi" and avg_degree > n_users - 1:
        raise ValueError(f"avg_degree must be <= n_users - 1 = {n_users - 1} for erdos_renyi, got {avg_degree}")
    if kind == "barabasi_albert" and not 1 <= round(avg_degree / 2) < n_users:
        raise ValueError(f"avg_degree: barabasi_albert needs 1 <= round(avg_degree/2) < n_users, got {avg_degree}")
    if kind == "watts_strogatz" and not 2 <= round(avg_degree) < n_users:
        raise ValueError(f"avg_degree: watts_strogatz needs 2 <= round(avg_degree) < n_users, got {avg_degree}")


def read_graph_file(path: str | Path) -> nx.Graph:
    """A follower network from an edge list or a GraphML file (by suffix), as ``as_user_graph``.

    Raises:
        ValueError: one line naming the file when it is missing, unreadable, malformed or has < 2 nodes.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"graph_file: no such file {str(path)!r}")
    graphml = path.suffix.lower() in GRAPHML_SUFFIXES
    try:
        graph = nx.read_graphml(path) if graphml else _read_edge_list(path)
    except Exception as err:  # networkx/XML/IO raise many types; the user needs one line naming the file
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise ValueError(f"graph_file: cannot read {str(path)!r} as {'GraphML' if graphml else 'an edge list'}: "
                         f"{detail}") from None
    if graph.number_of_nodes() < 2:
        raise ValueError(f"graph_file: {str(path)!r} has {graph.number_of_nodes()} node(s); need at least 2")
    return as_user_graph(graph)


def _read_edge_list(path: Path) -> nx.Graph:
    """Edge list: two node names per line (extra columns ignored), ``#`` starts a comment."""
    graph = nx.Graph()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError(f"line {number}: expected 'u v', got {line.strip()!r}")
        graph.add_edge(fields[0], fields[1])
    return graph


def describe(graph: nx.Graph) -> dict[str, float]:
    """Size, mean degree, degree heterogeneity (max / mean) and average clustering of a network."""
    degrees = np.fromiter((d for _, d in graph.degree()), dtype=float, count=graph.number_of_nodes())
    mean = float(degrees.mean())
    return {"n_users": float(graph.number_of_nodes()), "mean_degree": mean,
            "max_over_mean_degree": float(degrees.max() / mean) if mean > 0 else 0.0,
            "clustering": float(nx.average_clustering(graph))}
