"""Robust, ε-slack, personalised and performatively optimal schemes (spec persuasion.md §10)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from persuasion_games import MU_DEFAULT, _normalise, default_game, games, kron_q, random_game

from agents.persuasion import (
    evaluate_scheme,
    full_reveal_scheme,
    no_signal_scheme,
    solve_signaling,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")   # obedience warnings fail

TOL = 1e-9
HYP = settings(max_examples=50, deadline=None)
from agents.persuasion import (
    InfeasibleSchemeError,
    posterior_slacks,
    solve_personalized_signaling,
    solve_robust_signaling,
)
from agents.persuasion.performative import performatively_optimal_scheme, stationary_prior


def realised_value(mu, user_prior, u, v, q, phi) -> float:
    """Platform value under content μ when a user with `user_prior` best-responds to each signal
    (brute force over actions, ties to the platform's favourite): no LP, no library helper."""
    total = 0.0
    for a in range(phi.shape[1]):
        sent = q @ phi[:, a]                                  # P(signal a | θ)
        if user_prior @ sent <= 0 and mu @ sent <= 0:
            continue
        gains = np.array([user_prior @ (sent * u[:, b]) for b in range(u.shape[1])])
        best = np.flatnonzero(gains >= gains.max() - 1e-12)
        total += max(mu @ (sent * v[:, b]) for b in best)
    return float(total)


@given(games())
@settings(max_examples=40, deadline=None)
def test_zero_slack_single_vertex_is_todays_lp(game):
    mu, u, v, q, _ = game
    plain, robust = solve_signaling(mu, u, v, q), solve_robust_signaling(mu, u, v, q, slack=0.0)
    assert robust.value == pytest.approx(plain.value, abs=1e-8)
    assert robust.min_obedience_slack >= -TOL


@pytest.mark.parametrize("mu0, t, eps", [(0.3, 0.5, 0.0), (0.3, 0.5, 0.1), (0.2, 0.6, 0.05), (0.1, 0.3, 0.3)])
def test_slack_two_state_closed_form(mu0, t, eps):
    """Acting needs P(good | act) ≥ t + ε ⇒ φ_bad = μ0(1−t−ε)/((1−μ0)(t+ε)), value μ0/(t+ε)."""
    mu = np.array([1 - mu0, mu0])
    u, v = np.array([[0.0, -t], [0.0, 1 - t]]), np.array([[0.0, 1.0], [0.0, 1.0]])
    sol = solve_robust_signaling(mu, u, v, np.eye(2), slack=eps)
    assert sol.value == pytest.approx(mu0 / (t + eps), abs=1e-8)
    assert sol.scheme[0, 1] == pytest.approx(mu0 * (1 - t - eps) / ((1 - mu0) * t + (1 - mu0) * eps), abs=1e-8)


def test_robust_two_state_closed_form():
    """Users' P(good) ∈ [a, b] < t, content P(good) = c: the sceptic a binds, φ_bad = a(1−t)/((1−a)t)."""
    a, b, c, t = 0.2, 0.35, 0.3, 0.5
    u, v = np.array([[0.0, -t], [0.0, 1 - t]]), np.array([[0.0, 1.0], [0.0, 1.0]])
    sol = solve_robust_signaling([1 - c, c], u, v, np.eye(2), user_priors=[[1 - a, a], [1 - b, b]])
    phi_bad = a * (1 - t) / ((1 - a) * t)
    assert sol.scheme[0, 1] == pytest.approx(phi_bad, abs=1e-8)
    assert sol.value == pytest.approx(c + (1 - c) * phi_bad, abs=1e-8)


def test_knife_edge_on_the_default_instance_and_its_fixes():
    """The LP leaves "don't share" with zero slack: a 1e-6 shift toward popular content breaks it."""
    u, v = default_game(0.1)
    q = kron_q(0.8, 0.8)
    shifted = MU_DEFAULT + 1e-6 * np.array([-1, 1, -1, 1]) / 2
    lp = solve_signaling(MU_DEFAULT, u, v, q)
    assert posterior_slacks(MU_DEFAULT, u, q, lp.scheme)[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert posterior_slacks(shifted, u, q, lp.scheme)[0, 1] < 0             # the shifted user disobeys
    assert realised_value(MU_DEFAULT, shifted, u, v, q, lp.scheme) == pytest.approx(-0.23)  # shares all
    eps = solve_robust_signaling(MU_DEFAULT, u, v, q, slack=0.01)
    assert np.nanmin(posterior_slacks(MU_DEFAULT, u, q, eps.scheme)[~np.eye(2, dtype=bool)]) >= 0.01 - 1e-9
    assert realised_value(MU_DEFAULT, shifted, u, v, q, eps.scheme) == pytest.approx(eps.value, abs=1e-12)
    assert lp.value - 1e-3 < eps.value < lp.value                           # a small price


@st.composite
def polytopes(draw):
    """A game with informative Q and 2–4 user priors within 0.05 of μ (so robust schemes usually exist)."""
    mu, u, v, q, ints = draw(games(max_s=4, max_hat=4, max_act=3))
    q = 0.5 * q + 0.5 * np.eye(len(mu), q.shape[1]) if q.shape[1] >= len(mu) else q
    q = _normalise(q)
    n_vert = draw(st.integers(2, 4))
    dirs = ints((n_vert, len(mu)), -10, 10) / 10
    dirs -= dirs.mean(axis=1, keepdims=True)
    vertices = np.clip(mu + 0.05 * dirs * mu.min(), 1e-9, None)
    vertices /= vertices.sum(axis=1, keepdims=True)
    lam = _normalise(ints((n_vert,), 0, 10).astype(float))
    slack = draw(st.sampled_from([0.0, 0.01]))
    return mu, u, v, q, vertices, lam, slack


@given(polytopes())
@settings(max_examples=60, deadline=None)
def test_robust_scheme_is_obeyed_by_every_prior_in_the_polytope(case):
    mu, u, v, q, vertices, lam, slack = case
    try:
        sol = solve_robust_signaling(mu, u, v, q, user_priors=vertices, slack=slack)
    except InfeasibleSchemeError:
        event("infeasible")
        return
    event("feasible")
    prior = lam @ vertices                                   # any point of the polytope
    phi = sol.scheme
    for a in range(phi.shape[1]):                            # brute force: a is a best response to "a"
        sent = q @ phi[:, a]
        mass = prior @ sent
        if mass <= 1e-12:
            continue
        gains = np.array([prior @ (sent * u[:, b]) for b in range(u.shape[1])]) / mass
        assert gains[a] >= np.delete(gains, a).max() + slack - 1e-7
    assert realised_value(mu, prior, u, v, q, phi) >= sol.value - 1e-7


def test_infeasible_robust_scheme_is_reported():
    """Uninformative Q and users on both sides of indifference: no recommendation is obeyed by both."""
    u, v = default_game(0.1)
    with pytest.raises(InfeasibleSchemeError, match="slack"):
        solve_robust_signaling(MU_DEFAULT, u, v, np.full((4, 4), 0.25),
                               user_priors=[[0.4, 0.3, 0.2, 0.1], [0.1, 0.4, 0.1, 0.4]])
    with pytest.raises(ValueError, match="slack"):
        solve_robust_signaling(MU_DEFAULT, u, v, kron_q(0.8, 0.8), slack=-0.1)
    with pytest.raises(ValueError, match="user_priors"):
        solve_robust_signaling(MU_DEFAULT, u, v, kron_q(0.8, 0.8), user_priors=[[0.5, 0.5]])


@pytest.mark.parametrize("seed", range(8))
def test_personalised_value_bounds_every_public_scheme(seed):
    rng = np.random.default_rng(seed)
    mu, u, v, q = random_game(rng, 4, 4, 2)
    types = rng.dirichlet(20 * mu, size=3)
    w = rng.dirichlet(np.ones(3))
    sols, value = solve_personalized_signaling(mu, u, v, q, types, weights=w)
    assert value == pytest.approx(sum(wk * s.value for wk, s in zip(w, sols)))
    for k, s in enumerate(sols):                             # each private scheme is obeyed by its type
        assert realised_value(mu, types[k], u, v, q, s.scheme) == pytest.approx(s.value, abs=1e-8)
    public = [solve_signaling(mu, u, v, q).scheme, full_reveal_scheme(mu, u, q, v), no_signal_scheme(mu, u, q, v)]
    try:
        public.append(solve_robust_signaling(mu, u, v, q, user_priors=types).scheme)
    except InfeasibleSchemeError:
        pass
    for phi in public:
        assert value >= sum(wk * realised_value(mu, t, u, v, q, phi) for wk, t in zip(w, types)) - 1e-9
    same = solve_personalized_signaling(mu, u, v, q, [mu, mu])[1]
    assert same == pytest.approx(solve_signaling(mu, u, v, q).value, abs=1e-9)


# ---------------------------------------------------------------- §10.4 performative optimum
def test_stationary_prior_closed_form_and_hand_computed_case():
    mu_b, eta = np.array([0.3, 0.4, 0.1, 0.2]), 0.5
    s = np.array([0.2, 0.9, 0.1, 0.7])
    mu = mu_b.copy()
    for _ in range(5000):                                    # iterate the map itself
        mu = (1 - eta) * mu_b + eta * mu * s / (mu @ s)
    np.testing.assert_allclose(stationary_prior(mu_b, s, eta), mu, atol=1e-12)
    # only state 1 is ever shared: post = e_1, so μ* = (1 − η) μ_base + η e_1 by hand
    np.testing.assert_allclose(stationary_prior(mu_b, [0, 1, 0, 0], 0.25), [0.225, 0.55, 0.075, 0.15], atol=1e-12)
    np.testing.assert_allclose(stationary_prior(mu_b, np.zeros(4), 0.25), mu_b)  # nothing shared: no move
    with pytest.raises(ValueError, match="eta"):
        stationary_prior(mu_b, s, 1.0)


def test_performative_optimum_beats_an_exhaustive_grid():
    u, v = default_game(0.1)
    q, eta = kron_q(0.8, 0.8), 0.5
    po = performatively_optimal_scheme(MU_DEFAULT, u, v, q, eta, n_random=2)
    np.testing.assert_allclose(stationary_prior(MU_DEFAULT, q @ po.share, eta), po.prior, atol=1e-12)
    phi = np.column_stack([1 - po.share, po.share])
    assert np.nanmin(posterior_slacks(po.prior, u, q, phi)[~np.eye(2, dtype=bool)]) >= -1e-7
    assert po.value == pytest.approx(evaluate_scheme(po.prior, u, v, q, phi).value, abs=1e-12)
    grid = np.array(np.meshgrid(*[np.linspace(0, 1, 5)] * 4)).reshape(4, -1).T
    best = -np.inf
    for x in grid:                                           # schemes obeyed at their own stationary prior
        prior = stationary_prior(MU_DEFAULT, q @ x, eta)
        sch = np.column_stack([1 - x, x])
        if np.nanmin(posterior_slacks(prior, u, q, sch)[~np.eye(2, dtype=bool)]) >= 0:
            best = max(best, evaluate_scheme(prior, u, v, q, sch).value)
    assert po.value >= best - 1e-9 and best > -0.23          # at least the grid's best (no signal: −0.23)


@pytest.mark.parametrize("seed", range(6))
def test_public_population_lp_between_robust_and_personalised(seed):
    """Profiles σ ∈ {0,1}^K: every type obeys its own bit at every σ (brute force), and the value lies
    between the common-recommendation (robust) LP's and the private (personalised) one's."""
    from agents.persuasion import solve_public_population_signaling

    rng = np.random.default_rng(100 + seed)
    mu, u, v, q = random_game(rng, 4, 3, 2)
    types, w = rng.dirichlet(10 * mu, size=3), rng.dirichlet(np.ones(3))
    x, value, marginals = solve_public_population_signaling(mu, u, v, q, types, weights=w)
    bits = (np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1
    total = 0.0
    for j in range(8):
        sent = q @ x[:, j]                                   # P(profile j | θ)
        for k in range(3):
            gains = [types[k] @ (sent * u[:, b]) for b in (0, 1)]
            assert gains[bits[j, k]] >= gains[1 - bits[j, k]] - 1e-9
            total += w[k] * mu @ (sent * v[:, bits[j, k]])
    assert value == pytest.approx(total, abs=1e-9)
    for k in range(3):                                       # a type's marginal scheme: same outcome, obeyed
        assert realised_value(mu, types[k], u, v, q, marginals[k]) == pytest.approx(
            sum(mu @ ((q @ x[:, j]) * v[:, bits[j, k]]) for j in range(8)), abs=1e-9)
    upper = solve_personalized_signaling(mu, u, v, q, types, weights=w)[1]
    assert value <= upper + 1e-9
    try:
        assert value >= solve_robust_signaling(mu, u, v, q, user_priors=types).value - 1e-9
    except InfeasibleSchemeError:
        pass
    one = solve_public_population_signaling(mu, u, v, q, [mu])[1]
    assert one == pytest.approx(solve_signaling(mu, u, v, q).value, abs=1e-9)
