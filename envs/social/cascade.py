"""Vectorised independent-cascade kernel: many posts spread over one follower network at once.

The process, for every post independently (Kempe, Kleinberg & Tardos 2003, "independent cascade"):

1. hop 0: the post is shown to its seed user, who decides whether to share;
2. hop h ≥ 1: every user who shared at hop h − 1 exposes each of their network neighbours
   independently with probability ``view_probability``; a user is exposed to a post at most once,
   so neighbours already exposed at an earlier hop (or earlier in this hop) are skipped;
3. every newly exposed user decides whether to share; sharers form the next frontier;
4. stop after ``max_hops`` hops or when the frontier is empty.

A user's decision depends only on who they are and on the post's public signal, so all decisions
come from one precomputed (N, 2) table ``share_table[user, signal]``.

Vectorisation: all posts advance together, one hop per iteration (the only Python loop). The
frontier is the list of (post, sharer) pairs; their out-edges are read off the CSR adjacency
(indptr/indices) in one gather, giving one entry per (post, sharer → neighbour) edge. Each edge
succeeds independently with probability p (sampled per edge, the literal independent cascade: a user
with k sharing neighbours in a hop is exposed with probability 1 − (1 − p)^k), already-exposed
users are dropped, and a user reached along several edges in the same hop is exposed once.
Exposure is tracked in a dense (posts × users) int32 stamp array; posts are processed in chunks so
that it stays under ``max_bitmap_bytes`` (one chunk for all but very large N × posts).

(A first version formed the frontier as a sparse posts × users matrix F and used F @ A to count
sharing neighbours, thinning with 1 − (1 − p)^k; it gave the same distribution and was no faster
than this edge gather, whose SpGEMM-free path is also simpler.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

DEFAULT_MAX_BITMAP_BYTES = 1 << 25  # 32 MiB of exposure stamps per chunk of posts


@dataclass(frozen=True)
class CascadeRecord:
    """Every exposure of one round of cascades, ordered by hop within each chunk of posts.

    Attributes:
        post: (E,) post index of each exposure (one exposure = one share/no-share decision).
        user: (E,) exposed user.
        hop: (E,) hop at which the exposure happened (0 = seed exposure).
        shared: (E,) whether the exposed user shared.
        seed_shared: (P,) whether each post's seed user shared, in post order.
    """

    post: np.ndarray
    user: np.ndarray
    hop: np.ndarray
    shared: np.ndarray
    seed_shared: np.ndarray

    @property
    def n_decisions(self) -> int:
        return int(self.user.size)

    @property
    def max_depth(self) -> int:
        return int(self.hop.max()) if self.hop.size else 0


def propagate_cascades(
    adjacency: sp.csr_matrix,
    seeds: np.ndarray,
    signals: np.ndarray,
    share_table: np.ndarray,
    view_probability: float,
    max_hops: int,
    rng: np.random.Generator,
    max_bitmap_bytes: int = DEFAULT_MAX_BITMAP_BYTES,
    signal_group: np.ndarray | None = None,
) -> CascadeRecord:
    """Run the cascades of all posts of a round (see the module docstring for the process).

    Args:
        adjacency: (N, N) CSR adjacency of the follower network (row i lists i's neighbours).
        seeds: (P,) seed user of each post.
        signals: (P,) public signal of each post (0 = don't share, 1 = share recommended), or (P, G)
            private signals, one per group of users (user i sees column ``signal_group[i]``).
        share_table: (N, 2) bool, whether user i shares after signal σ (may be a broadcast view).
        view_probability: per-edge exposure probability p ∈ [0, 1].
        max_hops: number of propagation hops after the seed exposure (0 = seeds only).
        rng: the random stream; the draws are a deterministic function of it and the inputs.
        max_bitmap_bytes: bound on the exposure stamp array; sets the chunk size of posts.
        signal_group: (N,) column of ``signals`` each user sees; required iff ``signals`` is 2-D.

    Returns:
        The CascadeRecord of every exposure.
    """
    n_posts, n_users = len(seeds), adjacency.shape[0]
    signals = np.asarray(signals)
    if (signals.ndim == 2) != (signal_group is not None):
        raise ValueError("signal_group: required exactly when signals is (P, G)")
    if signals.ndim == 1:
        signals, signal_group = signals[:, None], np.zeros(n_users, dtype=np.int64)
    chunk = max(1, max_bitmap_bytes // (4 * n_users))  # int32 stamps
    parts = [
        _propagate_chunk(adjacency, seeds[start:start + chunk], signals[start:start + chunk], share_table,
                         view_probability, max_hops, rng, signal_group)
        for start in range(0, n_posts, chunk)
    ]
    if len(parts) == 1:
        return parts[0]
    offsets = np.arange(0, n_posts, chunk)
    return CascadeRecord(
        post=np.concatenate([part.post + offset for part, offset in zip(parts, offsets)]),
        user=np.concatenate([part.user for part in parts]),
        hop=np.concatenate([part.hop for part in parts]),
        shared=np.concatenate([part.shared for part in parts]),
        seed_shared=np.concatenate([part.seed_shared for part in parts]),
    )


def _propagate_chunk(
    adjacency: sp.csr_matrix,
    seeds: np.ndarray,
    signals: np.ndarray,
    share_table: np.ndarray,
    view_probability: float,
    max_hops: int,
    rng: np.random.Generator,
    signal_group: np.ndarray,
) -> CascadeRecord:
    n_posts, n_users = len(seeds), adjacency.shape[0]
    indptr, neighbours = adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)
    degree = np.diff(indptr)
    # stamp[post * N + user] == 0 ⇔ user not yet exposed to post; otherwise the exposure's tag (> 0).
    stamp = np.zeros(n_posts * n_users, dtype=np.int32)
    posts = np.arange(n_posts)
    users = np.asarray(seeds, dtype=np.int64)
    stamp[posts * n_users + users] = 1
    shared = share_table[users, signals[posts, signal_group[users]]]
    seed_shared = shared
    all_posts, all_users, all_shared, hop_sizes = [posts], [users], [shared], [n_posts]

    for _ in range(max_hops):
        sharer_posts, sharers = posts[shared], users[shared]
        if sharer_posts.size == 0 or view_probability <= 0.0:
            break
        # One entry per (post, sharer → neighbour) edge: the neighbour lists of the sharers, concatenated.
        fan_out = degree[sharers]
        ends = np.cumsum(fan_out)
        edge = np.arange(ends[-1]) + np.repeat(indptr[sharers] - (ends - fan_out), fan_out)
        keys = np.repeat(sharer_posts, fan_out) * n_users + neighbours[edge]
        # Each edge exposes independently with probability p; skip users who already saw the post.
        keys = keys[rng.random(keys.size) < view_probability]
        keys = keys[stamp[keys] == 0]
        # A user reached along several edges in this hop is exposed once: keep the edge whose tag stuck.
        tag = np.arange(1, keys.size + 1, dtype=np.int32)
        stamp[keys] = tag
        keys = keys[stamp[keys] == tag]
        posts, users = np.divmod(keys, n_users)
        shared = share_table[users, signals[posts, signal_group[users]]]
        all_posts.append(posts)
        all_users.append(users)
        all_shared.append(shared)
        hop_sizes.append(keys.size)

    hops = np.repeat(np.arange(len(hop_sizes), dtype=np.int16), hop_sizes)
    return CascadeRecord(
        post=np.concatenate(all_posts),
        user=np.concatenate(all_users),
        hop=hops,
        shared=np.concatenate(all_shared),
        seed_shared=seed_shared,
    )
