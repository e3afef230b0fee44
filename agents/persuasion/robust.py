"""Robust and type-aware signalling (spec persuasion.md §10.2–10.3).

The optimal scheme of :func:`agents.persuasion.solve_signaling` leaves the user exactly indifferent
after "don't share": a prior shift of 1e-6 toward popular content breaks obedience. Three fixes,
each still a linear programme over φ(a | θ̂):

* **ε-slack obedience** — after recommendation a, the user's *posterior* expected gain of a over
  every a' is at least ε. Multiplying by P(a) = Σ_θ̂ φ(a|θ̂) ν(θ̂) keeps it linear:

      Σ_θ̂ φ(a|θ̂) [U_a(θ̂) − U_a'(θ̂) − ε ν(θ̂)] ≥ 0,      ν(θ̂) = Σ_θ μ(θ) Q(θ̂|θ).

  A recommendation that is never sent constrains nothing; ε = 0 is the plain LP.
* **Robust obedience over a polytope** of user priors P = conv{μ^(1), …, μ^(V)}: obedience is linear
  in the user's prior for a fixed φ, so imposing it (with margin ε) at every vertex makes φ obeyed by
  every prior in P. V obedience blocks, one LP.
* **Personalised signals**: a platform that knows user k's type (prior μ_k, weight w_k) sends a private
  recommendation from φ_k, the LP with obedience under μ_k alone; Σ_k w_k V_k bounds every public
  scheme's value (each type's reaction to a public scheme is replicable by an obedient private one).
* **Optimal public scheme for a known population** (binary actions; Dughmi & Xu's public persuasion of
  receivers without externalities): one public signal is a recommendation *profile* σ ∈ {0, 1}^K, so
  types may act differently on the same post; variables x(σ | θ̂), obedience of every type at every σ,

      max Σ_k w_k Σ_σ Σ_θ̂ x(σ|θ̂) V_{σ_k}(θ̂)   s.t.  Σ_θ̂ x(σ|θ̂) [U^k_{σ_k} − U^k_{1−σ_k}](θ̂) ≥ 0  ∀ k, σ,

  2^K Ŝ variables (K ≤ 12). Its value lies between the robust (common recommendation) LP's and the
  personalised one's.

In every LP the platform's objective is taken under the *content* prior μ (what actually gets posted);
the users' priors enter only the obedience constraints. Unlike the plain LP, the ε > 0 or multi-vertex
LP can be infeasible (e.g. when the vertices disagree on the best action and Q carries no information):
:class:`InfeasibleSchemeError` says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from agents.persuasion.signaling import (
    SignalingSolution,
    _clean_scheme,
    _constraint_matrices,
    _evaluate,
    check_array,
    check_distribution,
    obedience_slacks,
    predicted_weights,
    validate_game,
)

__all__ = [
    "InfeasibleSchemeError",
    "check_user_priors",
    "check_type_weights",
    "posterior_slacks",
    "solve_robust_signaling",
    "solve_personalized_signaling",
    "solve_public_population_signaling",
]


class InfeasibleSchemeError(RuntimeError):
    """No scheme is obedient (with the requested margin) for every user prior given."""


def check_user_priors(user_priors: Any, n_states: int) -> np.ndarray:
    """(V, S) array of probability vectors (a single (S,) prior is promoted to (1, S))."""
    arr = check_array("user_priors", user_priors, np.ndim(user_priors))
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_states:
        raise ValueError(f"user_priors: expected shape (V, {n_states}), got {arr.shape}")
    for k, row in enumerate(arr):
        check_distribution(f"user_priors[{k}]", row)
    return arr


def check_type_weights(weights: Any, n_types: int) -> np.ndarray:
    """(K,) type weights: uniform when None, else a probability vector of length K."""
    if weights is None:
        return np.full(n_types, 1.0 / n_types)
    w = check_distribution("weights", weights)
    if w.shape != (n_types,):
        raise ValueError(f"weights: expected {n_types} weights (one per type), got shape {w.shape}")
    return w


def _check_slack(slack: Any) -> float:
    try:
        eps = float(slack)
    except (TypeError, ValueError):
        raise ValueError(f"slack: not a number, got {slack!r}") from None
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"slack: must be a finite number >= 0, got {slack!r}")
    return eps


def posterior_slacks(user_prior: np.ndarray, user_utility: np.ndarray, confusion: np.ndarray,
                     scheme: np.ndarray) -> np.ndarray:
    """D[a, a'] / P(a): the posterior expected gain of following a over a' (A, A); NaN rows for unsent a.

    A user with ``user_prior`` obeys ``scheme`` with margin ε iff every off-diagonal finite entry ≥ ε.
    """
    slacks = obedience_slacks(predicted_weights(user_prior, confusion, user_utility), scheme)
    p_rec = (user_prior @ confusion) @ scheme                     # P(recommend a), (A,)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p_rec[:, None] > 1e-15, slacks / p_rec[:, None], np.nan)


def solve_robust_signaling(prior: Any, user_utility: Any, platform_utility: Any, confusion: Any, *,
                           user_priors: Any | None = None, slack: float = 0.0,
                           tol: float = 1e-9) -> SignalingSolution:
    """max_φ Σ_θ̂ Σ_a φ(a|θ̂) V_a(θ̂; μ) s.t. ε-slack obedience at every user prior μ^(k).

    Args:
        prior: content prior μ (S,), which defines the platform's objective.
        user_utility, platform_utility: u, v, shape (S, A).
        confusion: Q, shape (S, Ŝ).
        user_priors: vertices μ^(k) of the users' prior polytope, (V, S) or (S,); default [μ].
        slack: ε ≥ 0, the posterior margin of obedience (utility units); 0 with default
            ``user_priors`` is exactly :func:`agents.persuasion.solve_signaling`.
        tol: HiGHS feasibility tolerance (as in ``solve_signaling``).

    Returns:
        The optimal scheme evaluated under μ (obedient play). ``obedience`` and
        ``min_obedience_slack`` are those of the vertex with the smallest slack.

    Raises:
        ValueError: on invalid input (the message names the argument).
        InfeasibleSchemeError: if no scheme meets the constraints.
        RuntimeError: if HiGHS fails otherwise.
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    vertices = mu[None, :] if user_priors is None else check_user_priors(user_priors, mu.size)
    eps = _check_slack(slack)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol: must be a positive finite number, got {tol!r}")
    uw = np.einsum("ts,kt,ta->ksa", q, vertices, u)             # U^(k)_a(θ̂), (V, Ŝ, A)
    margins = eps * (vertices @ q)                                # ε ν^(k)(θ̂), (V, Ŝ)
    vw = predicted_weights(mu, q, v)
    n_pred, n_act = vw.shape
    a_ub, b_ub, a_eq, b_eq = _constraint_matrices(uw, margins)
    feas = max(float(tol), 1e-10)
    res = linprog(-vw.ravel(), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0.0, 1.0),
                  method="highs", options={"primal_feasibility_tolerance": feas,
                                           "dual_feasibility_tolerance": feas})
    if res.status == 2:
        raise InfeasibleSchemeError(f"no scheme is obedient with slack {eps:g} for all "
                                    f"{len(vertices)} user priors")
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"HiGHS failed to solve the robust signalling LP (status {res.status}): "
                           f"{res.message}")
    phi = _clean_scheme(res.x, n_pred, n_act)
    per_vertex = [obedience_slacks(uw[k], phi) for k in range(len(vertices))]
    off = ~np.eye(n_act, dtype=bool)
    worst = int(np.argmin([d[off].min() for d in per_vertex]))
    sol = _evaluate(mu, u, v, q, phi, user_weights=uw[worst], lp_status=int(res.status),
                    lp_message=str(res.message))
    return sol


def solve_personalized_signaling(prior: Any, user_utility: Any, platform_utility: Any, confusion: Any,
                                 user_priors: Any, *, weights: Any | None = None, slack: float = 0.0,
                                 tol: float = 1e-9) -> tuple[list[SignalingSolution], float]:
    """One LP per known type k: φ_k = robust LP with the single vertex μ_k (objective under μ).

    Returns:
        (solutions per type, Σ_k w_k V_k), the weighted platform value; ``weights`` default uniform.
    """
    mu = check_distribution("prior", prior)
    types = check_user_priors(user_priors, mu.size)
    w = check_type_weights(weights, len(types))
    sols = [solve_robust_signaling(mu, user_utility, platform_utility, confusion, user_priors=t,
                                   slack=slack, tol=tol) for t in types]
    return sols, float(sum(wk * s.value for wk, s in zip(w, sols)))


def solve_public_population_signaling(prior: Any, user_utility: Any, platform_utility: Any, confusion: Any,
                                      user_priors: Any, *, weights: Any | None = None, tol: float = 1e-9
                                      ) -> tuple[np.ndarray, float, np.ndarray]:
    """The optimal public scheme over recommendation profiles for K known types (module docstring).

    Returns:
        (x, value, marginals): x (Ŝ, 2^K) with x[:, j] = P(profile j | θ̂), bit k of j = type k's
        recommended action; the weighted platform value; and each type's marginal scheme (K, Ŝ, 2)
        (obeyed by that type, with the same outcome for it as the profile scheme).
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    if u.shape[1] != 2:
        raise ValueError(f"user_utility: profile signals need binary actions, got {u.shape[1]}")
    types = check_user_priors(user_priors, mu.size)
    n_types = len(types)
    if n_types > 12:
        raise ValueError(f"user_priors: at most 12 types (2^K profiles), got {n_types}")
    w = check_type_weights(weights, n_types)
    n_pred, n_prof = q.shape[1], 2 ** n_types
    bits = (np.arange(n_prof)[:, None] >> np.arange(n_types)[None, :]) & 1      # (2^K, K) σ_k
    vw = predicted_weights(mu, q, v)                                             # (Ŝ, 2)
    objective = (w[None, None, :] * vw[:, bits]).sum(axis=2)                     # (Ŝ, 2^K): Σ_k w_k V_{σ_k}
    gain = np.einsum("ts,kt,t->ks", q, types, u[:, 1] - u[:, 0])                 # (K, Ŝ) U^k_1 − U^k_0
    sign = 2.0 * bits - 1.0                                                       # +1: recommend share
    # Row (k, σ): −Σ_θ̂ x(σ|θ̂) sign_σk gain_k(θ̂) ≤ 0; variable index θ̂ · 2^K + σ.
    rows = np.repeat(np.arange(n_types * n_prof), n_pred)
    cols = (np.arange(n_pred)[None, None, :] * n_prof + np.arange(n_prof)[None, :, None]).repeat(n_types, 0).ravel()
    data = (-sign.T[:, :, None] * gain[:, None, :]).ravel()
    a_ub = sp.csc_array((data, (rows, cols)), shape=(n_types * n_prof, n_pred * n_prof))
    a_eq = sp.csc_array((np.ones(n_pred * n_prof), (np.repeat(np.arange(n_pred), n_prof), np.arange(n_pred * n_prof))),
                        shape=(n_pred, n_pred * n_prof))
    feas = max(float(tol), 1e-10)
    res = linprog(-objective.ravel(), A_ub=a_ub, b_ub=np.zeros(n_types * n_prof), A_eq=a_eq, b_eq=np.ones(n_pred),
                  bounds=(0.0, 1.0), method="highs",
                  options={"primal_feasibility_tolerance": feas, "dual_feasibility_tolerance": feas})
    if res.status != 0 or res.x is None:             # no information is always feasible: a solver failure
        raise RuntimeError(f"HiGHS failed on the public population LP (status {res.status}): {res.message}")
    x = np.clip(res.x.reshape(n_pred, n_prof), 0.0, None)
    x /= x.sum(axis=1, keepdims=True)
    share = x @ bits                                                              # (Ŝ, K) P(σ_k = 1 | θ̂)
    marginals = np.stack([np.column_stack([1 - share[:, k], share[:, k]]) for k in range(n_types)])
    return x, float((x * objective).sum()), marginals
