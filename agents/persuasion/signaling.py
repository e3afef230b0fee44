"""Optimal signalling for noisy Bayesian persuasion (spec persuasion.md §1.4, §2).

The sender (platform) sees only a classifier prediction θ̂ ~ Q(θ̂ | θ) of the true
state θ ~ μ and commits to a scheme φ(a | θ̂) recommending an action a. With

    U_a(θ̂) = Σ_θ μ(θ) Q(θ̂|θ) u(θ, a),      V_a(θ̂) = Σ_θ μ(θ) Q(θ̂|θ) v(θ, a),

the optimal scheme solves the LP

    max_φ  Σ_θ̂ Σ_a φ(a|θ̂) V_a(θ̂)
    s.t.   Σ_θ̂ φ(a|θ̂) (U_a(θ̂) − U_a'(θ̂)) ≥ 0   for all a ≠ a'   (obedience)
           Σ_a φ(a|θ̂) = 1,  0 ≤ φ ≤ 1.

Ties go to the sender: an indifferent receiver follows the recommendation.
The no-information scheme is always feasible, so the LP is never infeasible.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

__all__ = [
    "SignalingSolution",
    "check_array",
    "check_distribution",
    "check_stochastic_matrix",
    "check_utility",
    "validate_game",
    "predicted_weights",
    "obedience_slacks",
    "evaluate_scheme",
    "solve_signaling",
]

PROB_ATOL = 1e-8
"""Absolute tolerance on probability vectors / rows summing to one."""

DENSE_MAX_VARIABLES = 256
"""Problems with at most this many LP variables pass dense matrices to HiGHS
(lower scipy overhead); larger ones use sparse CSC matrices."""


# ----------------------------------------------------------------------------
# Input validation (reusable: every message starts with the argument name)
# ----------------------------------------------------------------------------
def check_array(name: str, x: Any, ndim: int) -> np.ndarray:
    """Converts ``x`` to a finite float ndarray with ``ndim`` dimensions.

    Raises:
        ValueError: naming ``name`` if ``x`` is not numeric, has the wrong
            number of dimensions, is empty, or contains NaN/inf.
    """
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not a numeric array ({exc})") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got ndim={arr.ndim} "
                         f"(shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name}: empty array (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def check_distribution(name: str, p: Any, atol: float = PROB_ATOL) -> np.ndarray:
    """Checks that ``p`` is a probability vector: 1-D, finite, p ≥ 0, Σ p = 1 ± atol.

    Returns:
        ``p`` as a float ndarray (not renormalised).
    """
    arr = check_array(name, p, 1)
    if (arr < 0).any():
        i = int(np.argmin(arr))
        raise ValueError(f"{name}: negative probability {arr[i]:.6g} at index {i}")
    total = float(arr.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name}: sums to {total:.12g}, expected 1")
    return arr


def check_stochastic_matrix(name: str, m: Any, atol: float = PROB_ATOL) -> np.ndarray:
    """Checks that ``m`` is row-stochastic: 2-D, finite, m ≥ 0, each row sums to 1 ± atol.

    Returns:
        ``m`` as a float ndarray (not renormalised).
    """
    arr = check_array(name, m, 2)
    if (arr < 0).any():
        i, j = np.unravel_index(int(np.argmin(arr)), arr.shape)
        raise ValueError(f"{name}: negative probability {arr[i, j]:.6g} at ({i}, {j})")
    sums = arr.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        r = int(bad[0])
        raise ValueError(f"{name}: row {r} sums to {sums[r]:.12g}, expected 1")
    return arr


def check_utility(name: str, u: Any, n_states: int) -> np.ndarray:
    """Checks a utility table of shape (n_states, A) with A ≥ 2 actions."""
    arr = check_array(name, u, 2)
    if arr.shape[0] != n_states:
        raise ValueError(f"{name}: expected {n_states} rows (one per true state, "
                         f"len(prior)), got shape {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 actions (columns), got shape {arr.shape}")
    return arr


def validate_game(prior: Any, user_utility: Any, platform_utility: Any | None,
                  confusion: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                           np.ndarray]:
    """Validates a persuasion game and returns its arrays as floats.

    Args:
        prior: μ, shape (S,).
        user_utility: u, shape (S, A).
        platform_utility: v, shape (S, A), or None (not checked).
        confusion: Q, shape (S, Ŝ), row s = P(θ̂ | θ = s).

    Raises:
        ValueError: whose message starts with the offending argument's name.
    """
    mu = check_distribution("prior", prior)
    u = check_utility("user_utility", user_utility, mu.size)
    v = None
    if platform_utility is not None:
        v = check_utility("platform_utility", platform_utility, mu.size)
        if v.shape != u.shape:
            raise ValueError(f"platform_utility: shape {v.shape} differs from "
                             f"user_utility shape {u.shape}")
    q = check_stochastic_matrix("confusion", confusion)
    if q.shape[0] != mu.size:
        raise ValueError(f"confusion: expected {mu.size} rows (len(prior)), "
                         f"got shape {q.shape}")
    return mu, u, v, q


# ----------------------------------------------------------------------------
# Core math (no validation)
# ----------------------------------------------------------------------------
def predicted_weights(prior: np.ndarray, confusion: np.ndarray,
                      utility: np.ndarray) -> np.ndarray:
    """Returns W_a(θ̂) = Σ_θ μ(θ) Q(θ̂|θ) w(θ, a), shape (Ŝ, A) (= Qᵀ diag(μ) w)."""
    return confusion.T @ (prior[:, None] * utility)


def obedience_slacks(user_weights: np.ndarray, scheme: np.ndarray) -> np.ndarray:
    """Obedience slack matrix D[a, a'] = Σ_θ̂ φ(a|θ̂) (U_a(θ̂) − U_a'(θ̂)), shape (A, A).

    The scheme is obedient iff D ≥ 0 off the diagonal (the diagonal is 0).
    With M = φᵀ U, D[a, a'] = M[a, a] − M[a, a'].
    """
    m = scheme.T @ user_weights
    return np.diag(m)[:, None] - m


@dataclass(frozen=True)
class SignalingSolution:
    """A scheme and the outcome it induces under obedient play.

    Attributes:
        scheme: φ(a | θ̂), shape (Ŝ, A); rows sum to 1.
        value: platform expected utility Σ_θ̂ Σ_a φ(a|θ̂) V_a(θ̂).
        user_value: user expected utility Σ_θ̂ Σ_a φ(a|θ̂) U_a(θ̂).
        action_given_state: P(recommended a | true θ) = Q φ, shape (S, A).
        joint: μ(θ) P(a | θ), shape (S, A) (outcome distribution).
        action_probabilities: P(a), shape (A,).
        predicted_prior: ν(θ̂) = Σ_θ μ(θ) Q(θ̂|θ), shape (Ŝ,).
        obedience: slack matrix D (see :func:`obedience_slacks`), shape (A, A).
        min_obedience_slack: min_{a≠a'} D[a, a'] (≥ −tol ⇔ obedient).
        lp_status: HiGHS status (0 = optimal) or None if not from the LP.
        lp_message: HiGHS message or None if not from the LP.
    """

    scheme: np.ndarray
    value: float
    user_value: float
    action_given_state: np.ndarray
    joint: np.ndarray
    action_probabilities: np.ndarray
    predicted_prior: np.ndarray
    obedience: np.ndarray
    min_obedience_slack: float
    lp_status: int | None = None
    lp_message: str | None = None

    def is_obedient(self, tol: float = 1e-9) -> bool:
        """True iff every obedience constraint holds up to ``tol``."""
        return self.min_obedience_slack >= -tol


def _evaluate(prior: np.ndarray, user_utility: np.ndarray, platform_utility: np.ndarray,
              confusion: np.ndarray, scheme: np.ndarray, *,
              user_weights: np.ndarray | None = None, lp_status: int | None = None,
              lp_message: str | None = None) -> SignalingSolution:
    """Builds a :class:`SignalingSolution` for validated arrays (no checks)."""
    if user_weights is None:
        user_weights = predicted_weights(prior, confusion, user_utility)
    given_state = confusion @ scheme
    joint = prior[:, None] * given_state
    slacks = obedience_slacks(user_weights, scheme)
    off_diag = ~np.eye(slacks.shape[0], dtype=bool)
    return SignalingSolution(
        scheme=scheme,
        value=float(np.sum(joint * platform_utility)),
        user_value=float(np.sum(joint * user_utility)),
        action_given_state=given_state,
        joint=joint,
        action_probabilities=joint.sum(axis=0),
        predicted_prior=prior @ confusion,
        obedience=slacks,
        min_obedience_slack=float(slacks[off_diag].min()),
        lp_status=lp_status,
        lp_message=lp_message,
    )


def evaluate_scheme(prior: Any, user_utility: Any, platform_utility: Any,
                    confusion: Any, scheme: Any) -> SignalingSolution:
    """Evaluates an arbitrary scheme φ (Ŝ, A) assuming obedient play.

    The result's ``min_obedience_slack`` tells whether obedience is actually a
    best response (it may be negative for non-obedient schemes).

    Raises:
        ValueError: naming the argument on invalid input (``scheme`` must be
            row-stochastic with shape (Ŝ, A)).
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    phi = check_stochastic_matrix("scheme", scheme)
    expected = (q.shape[1], u.shape[1])
    if phi.shape != expected:
        raise ValueError(f"scheme: expected shape (Ŝ, A) = {expected}, got {phi.shape}")
    return _evaluate(mu, u, v, q, phi)


# ----------------------------------------------------------------------------
# The LP
# ----------------------------------------------------------------------------
def _obedience_triplets(user_weights: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """COO triplets of A_ub for the obedience constraints in ``A_ub x ≤ 0`` form.

    Variables are x[j·A + a] = φ(a | θ̂_j). Row p ↔ ordered pair (a_p, a'_p),
    a_p ≠ a'_p, with entries −(U_{a_p}(θ̂_j) − U_{a'_p}(θ̂_j)) at columns j·A + a_p.
    """
    n_pred, n_act = user_weights.shape
    a, a2 = np.nonzero(~np.eye(n_act, dtype=bool))           # A(A−1) ordered pairs
    n_pairs = a.size
    rows = np.repeat(np.arange(n_pairs), n_pred)
    cols = (a[:, None] + n_act * np.arange(n_pred)[None, :]).ravel()
    data = (user_weights[:, a2] - user_weights[:, a]).T.ravel()
    return rows, cols, data, n_pairs


def _constraint_matrices(user_weights: np.ndarray, margins: np.ndarray | None = None):
    """Returns (A_ub, b_ub, A_eq, b_eq); dense for small problems, sparse CSC otherwise.

    ``user_weights`` is (Ŝ, A), or (V, Ŝ, A) for one block of obedience rows per user prior
    (robust LP); ``margins`` (V, Ŝ), if given, is added to every row's entries of that block
    (ε ν(θ̂) of the ε-slack constraint, see ``agents.persuasion.robust``).
    """
    blocks = user_weights[None] if user_weights.ndim == 2 else user_weights
    _, n_pred, n_act = blocks.shape
    n_var = n_pred * n_act
    rows, cols, data, n_rows = [], [], [], 0
    for k, weights in enumerate(blocks):
        r, c, d, n_pairs = _obedience_triplets(weights)
        if margins is not None:
            d = (d.reshape(n_pairs, n_pred) + margins[k][None, :]).ravel()
        rows.append(r + n_rows), cols.append(c), data.append(d)
        n_rows += n_pairs
    rows, cols, data = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    eq_rows = np.repeat(np.arange(n_pred), n_act)            # Σ_a φ(a|θ̂_j) = 1
    if n_var <= DENSE_MAX_VARIABLES and n_rows * n_var <= 1 << 20:
        a_ub = np.zeros((n_rows, n_var))
        a_ub[rows, cols] = data
        a_eq = np.zeros((n_pred, n_var))
        a_eq[eq_rows, np.arange(n_var)] = 1.0
    else:
        a_ub = sp.csc_array((data, (rows, cols)), shape=(n_rows, n_var))
        a_eq = sp.csc_array((np.ones(n_var), (eq_rows, np.arange(n_var))),
                            shape=(n_pred, n_var))
    return a_ub, np.zeros(n_rows), a_eq, np.ones(n_pred)


def _clean_scheme(x: np.ndarray, n_pred: int, n_act: int) -> np.ndarray:
    """Reshapes the LP solution, clips tiny negatives / overshoots and renormalises rows."""
    phi = np.clip(x.reshape(n_pred, n_act), 0.0, 1.0) + 0.0   # + 0.0 drops -0.0
    return phi / phi.sum(axis=1, keepdims=True)


def solve_signaling(prior: Any, user_utility: Any, platform_utility: Any, confusion: Any,
                    *, tol: float = 1e-9) -> SignalingSolution:
    """Solves the noisy Bayesian persuasion LP (spec §2.2) with HiGHS.

    Args:
        prior: μ over true states, shape (S,).
        user_utility: u(θ, a), shape (S, A), A ≥ 2.
        platform_utility: v(θ, a), shape (S, A).
        confusion: Q, shape (S, Ŝ), row s = P(θ̂ | θ = s); Ŝ may differ from S.
        tol: target obedience tolerance; HiGHS primal/dual feasibility
            tolerances are set to max(tol, 1e-10). A ``RuntimeWarning`` is
            issued if the cleaned scheme violates obedience by more than tol.

    Returns:
        The optimal :class:`SignalingSolution` (sender-preferred tie-breaking).

    Raises:
        ValueError: on invalid input (message names the argument).
        RuntimeError: if HiGHS does not report an optimal solution.
    """
    mu, u, v, q = validate_game(prior, user_utility, platform_utility, confusion)
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol: must be a positive finite number, got {tol!r}")
    uw = predicted_weights(mu, q, u)
    vw = predicted_weights(mu, q, v)
    n_pred, n_act = uw.shape
    a_ub, b_ub, a_eq, b_eq = _constraint_matrices(uw)
    feas = max(float(tol), 1e-10)
    res = linprog(-vw.ravel(), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq,
                  bounds=(0.0, 1.0), method="highs",
                  options={"primal_feasibility_tolerance": feas,
                           "dual_feasibility_tolerance": feas})
    if res.status != 0 or res.x is None:
        raise RuntimeError(f"HiGHS failed to solve the signalling LP "
                           f"(status {res.status}): {res.message}")
    phi = _clean_scheme(res.x, n_pred, n_act)
    sol = _evaluate(mu, u, v, q, phi, user_weights=uw,
                    lp_status=int(res.status), lp_message=str(res.message))
    if not sol.is_obedient(tol):
        warnings.warn(f"signalling LP solution violates obedience by "
                      f"{-sol.min_obedience_slack:.3g} > tol={tol:g}",
                      RuntimeWarning, stacklevel=2)
    return sol
