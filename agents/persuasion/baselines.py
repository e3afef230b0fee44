"""Baseline signalling schemes (spec persuasion.md §6).

Every function returns a scheme φ(a | θ̂) of shape (Ŝ, A) whose rows are
one-hot recommendations; evaluate them with
:func:`agents.persuasion.signaling.evaluate_scheme`.

Tie convention (spec §6: "ties → share"): among the receiver's best actions
(equal up to a relative 1e-12) pick the one the platform prefers when
``platform_utility`` is given, and then the highest action index (for binary
actions: share = 1). Schemes 1–3 recommend a receiver best response to the
revealed information, so they are obedient by construction; the threshold
flagging rule (4) ignores the receiver's incentives and may not be obedient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.persuasion.signaling import (
    check_array,
    check_distribution,
    check_stochastic_matrix,
    predicted_weights,
    validate_game,
)

__all__ = [
    "best_actions",
    "no_signal_scheme",
    "full_reveal_scheme",
    "tag_only_scheme",
    "threshold_flagging_scheme",
]

TIE_RTOL = 1e-12


def best_actions(user_weights: np.ndarray,
                 platform_weights: np.ndarray | None = None) -> np.ndarray:
    """Receiver best action per row of ``user_weights`` (n, A) with the tie rule above.

    Rows are unnormalised posterior expected utilities (e.g. U_a(θ̂)), so the
    argmax equals the Bayesian receiver's best response.

    Returns:
        Integer array (n,) of chosen actions.
    """
    def near_max(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        x = np.where(mask, x, -np.inf)
        top = x.max(axis=1, keepdims=True)
        scale = np.maximum(1.0, np.abs(np.where(mask, x, 0.0)).max(axis=1, keepdims=True))
        return mask & (x >= top - TIE_RTOL * scale)

    best = near_max(user_weights, np.ones(user_weights.shape, dtype=bool))
    if platform_weights is not None:
        best = near_max(platform_weights, best)
    n_act = user_weights.shape[1]
    return n_act - 1 - np.argmax(best[:, ::-1], axis=1)       # highest index among ties


def _one_hot(actions: np.ndarray, n_act: int) -> np.ndarray:
    """Scheme (n, A) recommending ``actions[j]`` with probability 1 in row j."""
    return np.eye(n_act)[actions]


def no_signal_scheme(prior: Any, user_utility: Any, confusion: Any,
                     platform_utility: Any | None = None) -> np.ndarray:
    """No information: recommend a* = argmax_a Σ_θ μ(θ) u(θ, a) for every θ̂.

    (Σ_θ μ(θ) u(θ, a) = Σ_θ̂ U_a(θ̂) since Q is row-stochastic; binary: φ ≡ 1[S ≥ 0].)
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    pv = None if v is None else (mu @ v)[None, :]
    action = best_actions((mu @ u)[None, :], pv)
    return _one_hot(np.repeat(action, q.shape[1]), u.shape[1])


def full_reveal_scheme(prior: Any, user_utility: Any, confusion: Any,
                       platform_utility: Any | None = None) -> np.ndarray:
    """Honest revelation of θ̂: recommend argmax_a U_a(θ̂) (binary: φ = 1[U(θ̂) ≥ 0]).

    Predicted states with ν(θ̂) = 0 have U ≡ 0 and get the tie action.
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    vw = None if v is None else predicted_weights(mu, q, v)
    return _one_hot(best_actions(predicted_weights(mu, q, u), vw), u.shape[1])


def tag_only_scheme(prior: Any, user_utility: Any, confusion: Any, groups: Any,
                    platform_utility: Any | None = None) -> np.ndarray:
    """Reveal only the group g(θ̂) (e.g. the misinformation prediction m̂).

    Recommends argmax_a Σ_{θ̂': g(θ̂') = g(θ̂)} U_a(θ̂') for every θ̂ in the group.

    Args:
        groups: integer (or bool, e.g. m̂) labels, shape (Ŝ,); need not be contiguous.
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    g = np.asarray(groups)
    if g.shape != (q.shape[1],):
        raise ValueError(f"groups: expected shape ({q.shape[1]},) (one label per "
                         f"predicted state), got {g.shape}")
    if not (np.issubdtype(g.dtype, np.integer) or g.dtype == bool):
        raise ValueError(f"groups: expected integer labels, got dtype {g.dtype}")
    _, idx = np.unique(g, return_inverse=True)
    n_groups = int(idx.max()) + 1

    def pooled(w: np.ndarray) -> np.ndarray:                  # Σ over each group, (G, A)
        out = np.zeros((n_groups, w.shape[1]))
        np.add.at(out, idx, w)
        return out

    uw = pooled(predicted_weights(mu, q, u))
    vw = None if v is None else pooled(predicted_weights(mu, q, v))
    return _one_hot(best_actions(uw, vw)[idx], u.shape[1])


def threshold_flagging_scheme(prior: Any, confusion: Any, misinformation: Any,
                              threshold: float) -> np.ndarray:
    """Flag θ̂ (recommend action 0, don't share) iff P(mis | θ̂) ≥ threshold.

    P(mis | θ̂) = Σ_θ μ(θ) Q(θ̂|θ) m(θ) / ν(θ̂), with m(θ) ∈ [0, 1] the misinformation
    indicator/level; if ν(θ̂) = 0 the prior level Σ_θ μ(θ) m(θ) is used.
    Binary actions only (column 1 = share). This rule ignores the receiver's
    incentives, so the resulting scheme need NOT be obedient.
    """
    mu = check_distribution("prior", prior)
    q = check_stochastic_matrix("confusion", confusion)
    if q.shape[0] != mu.size:
        raise ValueError(f"confusion: expected {mu.size} rows (len(prior)), got shape {q.shape}")
    m = check_array("misinformation", misinformation, 1)
    if m.shape != mu.shape:
        raise ValueError(f"misinformation: expected shape {mu.shape}, got {m.shape}")
    if ((m < 0) | (m > 1)).any():
        raise ValueError("misinformation: levels must lie in [0, 1]")
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold: not a number, got {threshold!r}") from None
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold: must lie in [0, 1], got {threshold!r}")
    nu = mu @ q
    mass = (mu * m) @ q
    post = np.where(nu > 0, mass / np.where(nu > 0, nu, 1.0), float(mu @ m))
    flag = post >= t
    return np.column_stack([flag, ~flag]).astype(float)
