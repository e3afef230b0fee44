"""Performatively optimal signalling (Perdomo et al., ICML 2020; spec persuasion.md §5.2, §10.4).

Deploying a scheme changes tomorrow's prior. With x(θ̂) = φ(share | θ̂) kept fixed and users obeying,
P(share | θ) = s(θ) = (Q x)(θ) and the prior moves by

    μ_{t+1} = (1 − η) μ_base + η · μ_t ⊙ s / ⟨μ_t, s⟩.

For η < 1 its fixed point has a closed form up to one scalar: with c = ⟨μ*, s⟩,

    μ*(θ) = (1 − η) μ_base(θ) / (1 − η s(θ) / c),      Σ_θ μ*(θ) = 1,

whose left side decreases in c on (η max s, ∞) from +∞ to 1 − η, so c is a unique root (brentq).
(If nothing is ever shared the world does not move: μ* = μ_base.)

*Performatively stable* (what re-solving the LP every round converges to): φ_t = LP(μ_t) at μ_t = μ*.
*Performatively optimal*: maximise the long-run utility U(μ*(φ), φ) over φ. By the revelation
principle it is enough to search schemes that are obedient at their own stationary prior (any other
scheme's stationary outcome is reproduced by relabelling signals as the users' actions), so

    max_x  Σ_θ̂ Σ_a φ_x(a|θ̂) V_a(θ̂; μ*(x))   s.t.  ε-slack obedience at μ*(x),  0 ≤ x ≤ 1,

a smooth non-convex programme in Ŝ variables, solved with SLSQP from several starts (the plain LP
at μ_base, caller-given schemes such as the stable one, and random points).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize

from agents.persuasion.signaling import check_array, predicted_weights, solve_signaling, validate_game

__all__ = ["stationary_prior", "PerformativeOptimum", "performatively_optimal_scheme"]

SHARE = 1


def stationary_prior(base_prior: np.ndarray, share_given_state: np.ndarray, eta: float) -> np.ndarray:
    """μ*(s): the fixed point of μ ↦ (1 − η) μ_base + η μ ⊙ s / ⟨μ, s⟩ for η ∈ (0, 1) (closed form above).

    (At η = 1 the map has no smooth fixed point: from μ_base it concentrates on argmax s.)
    """
    mu_b = np.asarray(base_prior, float)
    s = np.clip(np.asarray(share_given_state, float), 0.0, 1.0)
    if not (np.isfinite(eta) and 0.0 < eta < 1.0):
        raise ValueError(f"eta: must lie in (0, 1) for a stationary prior, got {eta!r}")
    support = mu_b > 0
    if float(mu_b @ s) <= 1e-15:                      # nothing shared: the world stays at μ_base
        return mu_b.copy()
    s_max = float(s[support].max())

    pairs = [((1 - eta) * m, eta * si) for m, si in zip(mu_b[support].tolist(), s[support].tolist())]

    def excess(c: float) -> float:                   # plain floats: |S| is small and this is the hot loop
        return sum(a / (1.0 - b / c) for a, b in pairs) - 1.0

    lo, hi = eta * s_max * (1 + 1e-12), 1.0
    while excess(hi) > 0:                             # Σ μ* → 1 − η < 1 as c → ∞
        hi *= 2.0
    c = lo if excess(lo) <= 0 else brentq(excess, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=500)
    mu = np.zeros_like(mu_b)
    mu[support] = (1 - eta) * mu_b[support] / (1 - eta * s[support] / c)
    return mu / mu.sum()


@dataclass(frozen=True)
class PerformativeOptimum:
    """The best scheme found and its stationary outcome.

    Attributes:
        share: x(θ̂) = φ(share | θ̂), shape (Ŝ,).
        prior: its stationary prior μ*(x), shape (S,).
        value: platform utility at μ*(x) when users obey (the programme's objective).
        realised: ``evaluate(x)`` when an evaluator was given (else ``value``).
        min_slack: smallest posterior obedience margin at μ*(x) (≥ slack − tolerance).
        n_starts: SLSQP starts tried; n_feasible: how many ended feasible.
    """

    share: np.ndarray
    prior: np.ndarray
    value: float
    realised: float
    min_slack: float
    n_starts: int
    n_feasible: int


class _Stationary:
    """The programme's terms at x, cached for the last x (SLSQP asks for objective and constraints apart)."""

    def __init__(self, mu_b, q, u, v, eta):
        self.mu_b, self.q, self.u, self.v, self.eta = mu_b, q, u, v, eta
        self._x, self._terms = None, None

    def __call__(self, x: np.ndarray):
        """(value, share margin, don't-share margin, P(share), P(no share), μ*) — margins unnormalised."""
        if self._x is None or not np.array_equal(x, self._x):
            mu = stationary_prior(self.mu_b, self.q @ x, self.eta)
            uw, vw, nu = predicted_weights(mu, self.q, self.u), predicted_weights(mu, self.q, self.v), mu @ self.q
            gain = uw[:, SHARE] - uw[:, 1 - SHARE]    # U(θ̂): weight of the posterior gain of sharing
            value = float(x @ vw[:, SHARE] + (1 - x) @ vw[:, 1 - SHARE])
            self._x = np.array(x, copy=True)
            self._terms = (value, float(x @ gain), float(-(1 - x) @ gain), float(x @ nu), float((1 - x) @ nu), mu)
        return self._terms


def performatively_optimal_scheme(base_prior: Any, user_utility: Any, platform_utility: Any, confusion: Any,
                                  eta: float, *, slack: float = 0.0, starts: Any | None = None,
                                  n_random: int = 4, seed: int = 0,
                                  evaluate: Callable[[np.ndarray], float] | None = None) -> PerformativeOptimum:
    """Multi-start SLSQP on the programme of the module docstring (binary actions, column 1 = share).

    A stationary point that is obedient need not be *reached* from μ_base (on the way users may still
    disobey), so ``evaluate`` — e.g. the long-run utility of the exact dynamics started at μ_base with
    users best-responding — picks among the feasible local optima; without it the programme's value does.

    Args:
        base_prior: μ_base (S,); user_utility, platform_utility: (S, 2); confusion: Q (S, Ŝ).
        eta: feedback weight η ∈ (0, 1).
        slack: ε ≥ 0, posterior obedience margin required at the stationary prior.
        starts: extra starting schemes x, (n, Ŝ) in [0, 1] (e.g. the performatively stable one).
        n_random: uniformly random starts (seeded by ``seed``), besides the LP at μ_base, x ≡ 1, x ≡ 0.
        evaluate: optional x ↦ realised long-run utility used to choose among local optima.

    Raises:
        ValueError: naming the argument on invalid input.
    """
    mu_b, u, v, q = validate_game(base_prior, user_utility, platform_utility, confusion)
    if u.shape[1] != 2:
        raise ValueError(f"user_utility: performative dynamics need binary actions, got {u.shape[1]}")
    if not (np.isfinite(eta) and 0.0 < eta < 1.0):
        raise ValueError(f"eta: must lie in (0, 1) (at η = 1 the long run is a point mass), got {eta!r}")
    if not (np.isfinite(slack) and slack >= 0):
        raise ValueError(f"slack: must be a finite number >= 0, got {slack!r}")
    if int(n_random) != n_random or n_random < 0:
        raise ValueError(f"n_random: must be an integer >= 0, got {n_random!r}")
    n_pred = q.shape[1]
    x0 = [solve_signaling(mu_b, u, v, q).scheme[:, SHARE], np.ones(n_pred), np.zeros(n_pred)]
    if starts is not None:
        extra = check_array("starts", starts, np.ndim(starts))
        if extra.size % n_pred or (extra < 0).any() or (extra > 1).any():
            raise ValueError(f"starts: expected schemes of shape (n, {n_pred}) in [0, 1]")
        x0 += list(extra.reshape(-1, n_pred))
    x0 += list(np.random.default_rng(seed).random((int(n_random), n_pred)))
    terms = _Stationary(mu_b, q, u, v, eta)

    def margins(x):                                   # both ≥ 0 ⇔ ε-slack obedience at μ*(x)
        _, share, dont, p_share, p_dont, _ = terms(x)
        return np.array([share - slack * p_share, dont - slack * p_dont])

    candidates: list[tuple[float, np.ndarray]] = []
    for start in x0:
        res = minimize(lambda x: -terms(x)[0], np.clip(start, 0, 1), method="SLSQP",
                       bounds=[(0.0, 1.0)] * n_pred, constraints=[{"type": "ineq", "fun": margins}],
                       options={"maxiter": 100, "ftol": 1e-10})
        x = np.clip(res.x, 0.0, 1.0)
        if margins(x).min() >= -1e-9 and not any(np.abs(x - c).max() < 1e-7 for _, c in candidates):
            candidates.append((terms(x)[0], x))
    if not candidates:                                # cannot happen for ε = 0 (no information is feasible)
        raise RuntimeError(f"no start reached a scheme obedient with slack {slack:g} at its stationary prior")
    scores = [evaluate(x) if evaluate is not None else value for value, x in candidates]
    best = int(np.argmax(scores))
    value, x = candidates[best]
    _, share, dont, p_share, p_dont, mu = terms(x)
    slacks = [m / p for m, p in ((share, p_share), (dont, p_dont)) if p > 1e-15]
    return PerformativeOptimum(share=x, prior=mu, value=float(value), realised=float(scores[best]),
                               min_slack=float(min(slacks)), n_starts=len(x0), n_feasible=len(candidates))
