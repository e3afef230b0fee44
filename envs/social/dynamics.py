"""Content dynamics, belief dynamics and reach on the network (spec persuasion.md §10.4–10.5).

Two things move from round to round, and they are kept apart:

* **content** c_t — what gets posted. Fresh posts are drawn from c_t; what got shared is re-posted:

      c_{t+1} = (1 − η) μ_base + η · shared_t,     shared_t(θ) = (shares of θ-posts) / (all shares).

  Counting shares at seed exposures only gives the spec's map (§5.2, ``game.performative_update``);
  counting every share along the cascades weights a post by its reach (a post shared by 200 users
  counts 200 times). If nothing is shared the content stays c_t (flagged).

* **beliefs** b_{i,t} — what user i believes about the state of a post, formed from what i saw: i's
  feed in round t is every post i was exposed to (seed exposures and cascade views), and

      b_{i,t+1} = (1 − λ) b_{i,t} + λ · f_{i,t},   f_{i,t}(θ) = (θ-posts in i's feed) / (posts in i's feed),

  with the post's true state revealed after the fact (popularity is observed, misinformation is
  fact-checked later); a user who saw nothing keeps b_{i,t}. A user with many sharing neighbours sees
  mostly shared (popular) content, so degree and clustering change beliefs, hence obedience.

Reach (``reach_outcomes``): a post's views are all its exposures; misinformation views weight them by
the post's m; the reach-weighted platform utility sums v(θ, a) over every exposed user's action a.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_SHARE, SHARE = 0, 1


def content_update(content: np.ndarray, base: np.ndarray, shares_per_state: np.ndarray, eta: float
                   ) -> tuple[np.ndarray, bool]:
    """c_{t+1} = (1 − η) μ_base + η shared_t with shared_t ∝ shares per state; (c_t, True) if none shared.

    Args:
        content: (S,) c_t.  base: (S,) μ_base.  shares_per_state: (S,) share counts (any weights ≥ 0).
        eta: η ∈ [0, 1].
    """
    total = float(np.sum(shares_per_state))
    if total <= 0.0:
        return np.asarray(content, float).copy(), True
    shared = np.asarray(shares_per_state, float) / total
    return (1.0 - eta) * np.asarray(base, float) + eta * shared, False


def feed_counts(exposed_users: np.ndarray, post_states: np.ndarray, n_users: int, n_states: int) -> np.ndarray:
    """(N, S) counts: how many posts of state θ each user saw (one entry per exposure)."""
    flat = np.asarray(exposed_users, np.int64) * n_states + np.asarray(post_states, np.int64)
    return np.bincount(flat, minlength=n_users * n_states).reshape(n_users, n_states).astype(float)


def belief_update(beliefs: np.ndarray, counts: np.ndarray, rate: float) -> np.ndarray:
    """b_{t+1} = (1 − λ) b_t + λ f_t per user (rows), f_t = the user's feed frequencies; unchanged if no feed."""
    seen = counts.sum(axis=1, keepdims=True)
    feed = np.divide(counts, seen, out=np.zeros_like(counts), where=seen > 0)
    return np.where(seen > 0, (1.0 - rate) * beliefs + rate * feed, beliefs)


@dataclass(frozen=True)
class Reach:
    """Per-post reach of one round of cascades."""

    views: np.ndarray  # (P,) exposures of each post (seed included)
    sharers: np.ndarray  # (P,) users who shared each post (seed included)
    misinformation_views: np.ndarray  # (P,) views · m(θ_post)
    platform_utility: np.ndarray  # (P,) Σ over the post's viewers of v(θ_post, their action)


def reach_outcomes(post: np.ndarray, shared: np.ndarray, post_state: np.ndarray, misinformation: np.ndarray,
                   platform_utility: np.ndarray) -> Reach:
    """Reach of every post from its exposures (``CascadeRecord.post`` / ``.shared``).

    Args:
        post: (E,) post of each exposure.  shared: (E,) whether that viewer shared.
        post_state: (P,) true state of each post.  misinformation: (S,) m(θ).
        platform_utility: (S, 2) v(θ, a).
    """
    n_posts = len(post_state)
    views = np.bincount(post, minlength=n_posts).astype(float)
    sharers = np.bincount(post, weights=np.asarray(shared, float), minlength=n_posts)
    v_share, v_none = platform_utility[post_state, SHARE], platform_utility[post_state, NO_SHARE]
    return Reach(views=views, sharers=sharers, misinformation_views=views * misinformation[post_state],
                 platform_utility=sharers * v_share + (views - sharers) * v_none)
