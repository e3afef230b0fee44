"""Ground-truth tests for the noisy persuasion LP (spec persuasion.md §2, §3, §4, §6, §7)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult, linprog

import agents.persuasion.signaling as signaling_module
from agents.persuasion import (
    evaluate_scheme,
    full_reveal_scheme,
    no_signal_scheme,
    solve_signaling,
    tag_only_scheme,
    threshold_flagging_scheme,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")   # obedience warnings fail

TOL = 1e-9
HYP = settings(max_examples=50, deadline=None)
MU_DEFAULT = np.array([0.3, 0.4, 0.1, 0.2])                 # TU, TP, MU, MP
MIS = np.array([0, 0, 1, 1])


# ---------------------------------------------------------------- helpers
def kron_q(acc_m: float, acc_p: float) -> np.ndarray:
    """Symmetric Kronecker classifier Qb(a_m, a_p) (spec §1.3)."""
    f = lambda a: np.array([[a, 1 - a], [1 - a, a]])        # noqa: E731
    return np.kron(f(acc_m), f(acc_p))


def default_game(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """u, v (4, 2) of the default instance: u(share) = ±1 by popularity, v = −1 / α."""
    u = np.column_stack([np.zeros(4), [-1.0, 1.0, -1.0, 1.0]])
    v = np.column_stack([np.zeros(4), [alpha, alpha, -1.0, -1.0]])
    return u, v


def ref_noiseless(mu: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """Standard persuasion LP in joint form (spec §2.3), dense, explicit loops.

    Variables x[w, a] = P(state w, recommend a); Σ_a x[w, a] = μ(w);
    Σ_w x[w, a] (u(w, a) − u(w, a')) ≥ 0 for all a ≠ a'.
    """
    n, k = u.shape
    a_ub, a_eq = [], []
    for a in range(k):
        for a2 in range(k):
            if a != a2:
                row = np.zeros((n, k))
                for w in range(n):
                    row[w, a] = -(u[w, a] - u[w, a2])
                a_ub.append(row.ravel())
    for w in range(n):
        row = np.zeros((n, k))
        row[w, :] = 1.0
        a_eq.append(row.ravel())
    res = linprog(-v.ravel(), A_ub=np.array(a_ub), b_ub=np.zeros(len(a_ub)),
                  A_eq=np.array(a_eq), b_eq=mu, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return -res.fun


def ref_joint(mu: np.ndarray, u: np.ndarray, v: np.ndarray, q: np.ndarray) -> float:
    """Noisy LP via the reduction of §2.3: standard persuasion over θ̂ with (ν, ũ, ṽ)."""
    nu = mu @ q
    uw = np.einsum("t,tm,ta->ma", mu, q, u)
    vw = np.einsum("t,tm,ta->ma", mu, q, v)
    return ref_noiseless(nu, uw / nu[:, None], vw / nu[:, None])


def ref_binary(mu: np.ndarray, q: np.ndarray, u1: np.ndarray, v1: np.ndarray) -> float:
    """Binary LP of spec §2.1/§2.4 (payoffs of action 1, action 0 normalised to 0)."""
    uu = (mu[:, None] * q * u1[:, None]).sum(0)
    vv = (mu[:, None] * q * v1[:, None]).sum(0)
    res = linprog(-vv, A_ub=np.vstack([-uu, -uu]), b_ub=np.array([0.0, -uu.sum()]),
                  bounds=[(0, 1)] * len(uu), method="highs")
    assert res.status == 0, res.message
    return -res.fun


def random_game(rng: np.random.Generator, s: int, s_hat: int, n_act: int):
    """Random instance with a strictly positive prior and confusion matrix."""
    mu = rng.dirichlet(np.ones(s))
    q = rng.dirichlet(np.ones(s_hat), size=s)
    u = rng.uniform(-1, 1, size=(s, n_act))
    v = rng.uniform(-1, 1, size=(s, n_act))
    return mu, u, v, q


def _normalise(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    w[w.sum(axis=-1) == 0] = 1.0
    return w / w.sum(axis=-1, keepdims=True)


@st.composite
def games(draw, max_s: int = 4, max_hat: int = 5, max_act: int = 3):
    """Hypothesis games on rational grids (exact ties and zeros happen often)."""
    s = draw(st.integers(2, max_s))
    s_hat = draw(st.integers(1, max_hat))
    n_act = draw(st.integers(2, max_act))
    ints = lambda shape, lo, hi: np.array(                  # noqa: E731
        draw(st.lists(st.integers(lo, hi), min_size=int(np.prod(shape)),
                      max_size=int(np.prod(shape))))).reshape(shape)
    mu = _normalise(ints((s,), 1, 10))
    q = _normalise(ints((s, s_hat), 0, 10))
    u = ints((s, n_act), -10, 10) / 10
    v = ints((s, n_act), -10, 10) / 10
    return mu, u, v, q, ints


# ---------------------------------------------------------------- §3 closed forms
def test_kamenica_gentzkow_prosecutor():
    mu = np.array([0.7, 0.3])                                # (innocent, guilty)
    u = np.array([[0.0, -1.0], [0.0, 1.0]])                  # (acquit, convict)
    v = np.array([[0.0, 1.0], [0.0, 1.0]])
    sol = solve_signaling(mu, u, v, np.eye(2))
    np.testing.assert_allclose(sol.scheme[:, 1], [3 / 7, 1.0], atol=1e-12)
    assert sol.value == pytest.approx(0.6, abs=1e-12)
    assert sol.action_probabilities[1] == pytest.approx(0.6, abs=1e-12)
    assert ref_binary(mu, np.eye(2), u[:, 1], v[:, 1]) == pytest.approx(0.6, abs=1e-12)
    assert ref_noiseless(mu, u, v) == pytest.approx(0.6, abs=1e-12)


def _two_state(mu0: float, t: float):
    mu = np.array([1 - mu0, mu0])                            # (bad, good)
    u = np.array([[0.0, -t], [0.0, 1 - t]])                  # act iff P(good) ≥ t
    v = np.array([[0.0, 1.0], [0.0, 1.0]])
    return solve_signaling(mu, u, v, np.eye(2))


@pytest.mark.parametrize("mu0, t", [(m, t) for m in (0.05, 0.2, 0.3, 0.45, 0.6, 0.8)
                                    for t in (0.1, 0.3, 0.5, 0.6, 0.7, 0.9) if m < t])
def test_two_state_closed_form(mu0, t):
    sol = _two_state(mu0, t)
    assert sol.value == pytest.approx(mu0 / t, abs=1e-8)
    assert sol.scheme[0, 1] == pytest.approx(mu0 * (1 - t) / ((1 - mu0) * t), abs=1e-8)
    assert sol.scheme[1, 1] == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("mu0, t, value, phi_bad", [(0.2, 0.6, 1 / 3, 1 / 6),
                                                   (0.45, 0.7, 0.6429, 0.3506)])
def test_two_state_quoted_numbers(mu0, t, value, phi_bad):
    sol = _two_state(mu0, t)
    assert sol.value == pytest.approx(value, abs=5e-5)
    assert sol.scheme[0, 1] == pytest.approx(phi_bad, abs=5e-5)


# ---------------------------------------------------------------- formulations agree
@pytest.mark.parametrize("dims", [(4, 4, 2), (3, 5, 2), (3, 5, 3), (5, 3, 3), (2, 6, 4)])
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_joint_formulation(dims, seed):
    mu, u, v, q = random_game(np.random.default_rng([seed, *dims]), *dims)
    sol = solve_signaling(mu, u, v, q)
    assert sol.value == pytest.approx(ref_joint(mu, u, v, q), abs=1e-8)
    if dims[2] == 2:   # binary form needs action 0 normalised to 0 (shifts v by μ·v0)
        ref = ref_binary(mu, q, u[:, 1] - u[:, 0], v[:, 1] - v[:, 0]) + mu @ v[:, 0]
        assert sol.value == pytest.approx(ref, abs=1e-8)


@pytest.mark.parametrize("seed", range(10))
def test_solution_fields_consistent_and_obedient(seed):
    rng = np.random.default_rng(seed)
    dims = (int(rng.integers(2, 6)), int(rng.integers(1, 7)), int(rng.integers(2, 5)))
    mu, u, v, q = random_game(rng, *dims)
    sol = solve_signaling(mu, u, v, q)
    phi = sol.scheme
    assert phi.shape == (dims[1], dims[2]) and (phi >= 0).all()
    np.testing.assert_allclose(phi.sum(axis=1), 1.0, atol=1e-12)
    assert sol.min_obedience_slack >= -TOL and sol.is_obedient()
    np.testing.assert_allclose(sol.action_given_state, q @ phi, atol=1e-12)
    np.testing.assert_allclose(sol.joint, mu[:, None] * (q @ phi), atol=1e-12)
    np.testing.assert_allclose(sol.action_probabilities, sol.joint.sum(0), atol=1e-12)
    assert sol.action_probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(sol.predicted_prior, mu @ q, atol=1e-12)
    assert sol.value == pytest.approx(np.sum(sol.joint * v), abs=1e-12)
    assert sol.user_value == pytest.approx(np.sum(sol.joint * u), abs=1e-12)
    again = evaluate_scheme(mu, u, v, q, phi)
    assert again.value == pytest.approx(sol.value, abs=1e-12)
    assert again.min_obedience_slack == pytest.approx(sol.min_obedience_slack, abs=1e-12)


def test_large_predicted_space_matches_binary_form():
    mu, u, v, q = random_game(np.random.default_rng(7), 8, 10_000, 2)
    sol = solve_signaling(mu, u, v, q)
    ref = ref_binary(mu, q, u[:, 1] - u[:, 0], v[:, 1] - v[:, 0]) + mu @ v[:, 0]
    assert sol.value == pytest.approx(ref, abs=1e-8)
    assert sol.scheme.shape == (10_000, 2) and sol.is_obedient()


# ---------------------------------------------------------------- §6 invariants
@HYP
@given(games())
def test_obedience_and_dominance_over_baselines(game):
    mu, u, v, q, ints = game
    sol = solve_signaling(mu, u, v, q)
    assert sol.min_obedience_slack >= -TOL
    groups = ints((q.shape[1],), 0, 2)
    schemes = [no_signal_scheme(mu, u, q), no_signal_scheme(mu, u, q, v),
               full_reveal_scheme(mu, u, q), full_reveal_scheme(mu, u, q, v),
               tag_only_scheme(mu, u, q, groups), tag_only_scheme(mu, u, q, groups, v)]
    for phi in schemes:
        base = evaluate_scheme(mu, u, v, q, phi)
        assert base.min_obedience_slack >= -TOL                 # obedient by construction
        assert sol.value >= base.value - TOL


@HYP
@given(games(), st.data())
def test_blackwell_garbling_never_raises_value(game, data):
    mu, u, v, q, ints = game
    n_out = data.draw(st.integers(1, 5))
    g = _normalise(ints((q.shape[1], n_out), 0, 5))
    assert solve_signaling(mu, u, v, q @ g).value <= solve_signaling(mu, u, v, q).value + TOL


@pytest.mark.parametrize("seed", range(8))
def test_identity_classifier_is_noiseless_persuasion(seed):
    rng = np.random.default_rng(seed)
    s, n_act = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    mu, u, v, _ = random_game(rng, s, s, n_act)
    sol = solve_signaling(mu, u, v, np.eye(s))
    assert sol.value == pytest.approx(ref_noiseless(mu, u, v), abs=1e-8)
    np.testing.assert_allclose(sol.joint, mu[:, None] * sol.scheme, atol=1e-15)


@pytest.mark.parametrize("seed", range(8))
def test_relabel_and_scaling_invariances(seed):
    rng = np.random.default_rng(seed)
    mu, u, v, q = random_game(rng, 4, 5, 3)
    base = solve_signaling(mu, u, v, q).value
    perm = rng.permutation(q.shape[1])
    assert solve_signaling(mu, u, v, q[:, perm]).value == pytest.approx(base, abs=1e-9)
    assert solve_signaling(mu, u, 2.5 * v, q).value == pytest.approx(2.5 * base, abs=1e-9)
    assert solve_signaling(mu, u, 0.1 * v, q).value == pytest.approx(0.1 * base, abs=1e-9)
    assert solve_signaling(mu, 3.0 * u, v, q).value == pytest.approx(base, abs=1e-9)
    assert solve_signaling(mu, 0.01 * u, v, q).value == pytest.approx(base, abs=1e-9)
    shift = rng.normal(size=(4, 1))                              # state-only payoff shift
    assert solve_signaling(mu, u + shift, v, q).value == pytest.approx(base, abs=1e-9)


def test_perfect_classifier_shares_no_misinformation():
    u, v = default_game(alpha=0.0)
    sol = solve_signaling(MU_DEFAULT, u, v, np.eye(4))
    assert sol.joint[MIS == 1, 1].sum() == pytest.approx(0.0, abs=1e-12)
    assert sol.value == pytest.approx(0.0, abs=1e-12)
    assert sol.is_obedient()


def test_lp_beats_baselines_on_default_instance():
    """Headline (spec §0): LP lowers P(share ∧ mis) vs no-signal and full reveal (α = 0)."""
    u, v = default_game(alpha=0.0)
    q = kron_q(0.8, 0.8)
    lp = solve_signaling(MU_DEFAULT, u, v, q)
    for phi in (no_signal_scheme(MU_DEFAULT, u, q), full_reveal_scheme(MU_DEFAULT, u, q)):
        base = evaluate_scheme(MU_DEFAULT, u, v, q, phi)
        assert lp.joint[MIS == 1, 1].sum() < base.joint[MIS == 1, 1].sum() - 1e-3


def test_baseline_tie_conventions():
    """Receiver ties → platform-preferred action if v given, else highest index (share)."""
    mu = np.array([0.5, 0.5])
    u = np.array([[0.0, -1.0], [0.0, 1.0]])                  # prior gain of sharing S = 0
    v_no = np.array([[0.0, -1.0], [0.0, -1.0]])              # platform prefers no-share
    np.testing.assert_array_equal(no_signal_scheme(mu, u, np.eye(2))[:, 1], [1, 1])
    np.testing.assert_array_equal(no_signal_scheme(mu, u, np.eye(2), v_no)[:, 1], [0, 0])
    u_rev = np.array([[0.0, 0.0], [0.0, 1.0]])               # U(θ̂ = 0) = 0: a tie
    np.testing.assert_array_equal(full_reveal_scheme(mu, u_rev, np.eye(2))[:, 1], [1, 1])
    np.testing.assert_array_equal(full_reveal_scheme(mu, u_rev, np.eye(2), v_no)[:, 1], [0, 1])
    u4, _ = default_game(alpha=0.0)
    groups = np.array([7, 7, -3, -3])                        # m̂ tag, arbitrary labels
    np.testing.assert_array_equal(tag_only_scheme(MU_DEFAULT, u4, np.eye(4), groups)[:, 1],
                                  [1, 1, 1, 1])              # both pools: U = +0.1
    mu4 = np.array([0.4, 0.3, 0.2, 0.1])                     # both pools: U = −0.1
    np.testing.assert_array_equal(tag_only_scheme(mu4, u4, np.eye(4), groups)[:, 1], [0, 0, 0, 0])
    mu5 = np.array([0.35, 0.3, 0.1, 0.25])                   # T pool −0.05, M pool +0.15
    np.testing.assert_array_equal(tag_only_scheme(mu5, u4, np.eye(4), groups)[:, 1], [0, 0, 1, 1])
    np.testing.assert_array_equal(tag_only_scheme(mu5, u4, np.eye(4), MIS == 1)[:, 1], [0, 0, 1, 1])


def test_threshold_flagging_can_be_disobeyed():
    u, v = default_game(alpha=0.1)
    q = kron_q(0.8, 0.8)
    phi = threshold_flagging_scheme(MU_DEFAULT, q, MIS.astype(bool), 0.5)
    np.testing.assert_array_equal(phi[:, 1], [1, 1, 0, 0])      # flags predicted MU, MP
    assert evaluate_scheme(MU_DEFAULT, u, v, q, phi).min_obedience_slack < -0.05
    phi_perfect = threshold_flagging_scheme(MU_DEFAULT, np.eye(4), MIS, 1.0)
    np.testing.assert_array_equal(phi_perfect[:, 0], MIS)


def test_near_boundary_prior_continuity_with_perfect_classifier():
    """S = Σ_θ μ(θ) u(θ, share) ≈ 0: the default action flips, V* stays continuous (Q = I)."""
    u, v = default_game(alpha=0.1)
    values = []
    for eps in (-1e-7, 0.0, 1e-7):
        mu = np.array([0.25 + eps, 0.25 - eps, 0.25, 0.25])     # S = −2 eps
        sol = solve_signaling(mu, u, v, np.eye(4))
        assert sol.is_obedient()
        values.append(sol.value)
    assert max(values) - min(values) < 1e-6


# ---------------------------------------------------------------- §4.3 / §7.5
def test_higher_accuracy_is_not_more_informative():
    """Counterexample: every diagonal entry of Q′ exceeds Q's, yet V*(Q′) < V*(Q).

    Found by a fixed-seed search (numpy default_rng(2024), rows with diagonal ≥ 0.55 on
    a 0.05 grid, α = 0 default game); Q′ is not a garbling of Q nor vice versa.
    """
    q = np.array([[0.55, 0.05, 0.25, 0.15],
                  [0.15, 0.85, 0.00, 0.00],
                  [0.40, 0.00, 0.60, 0.00],
                  [0.45, 0.00, 0.00, 0.55]])
    q_acc = np.array([[0.85, 0.00, 0.15, 0.00],
                      [0.05, 0.90, 0.05, 0.00],
                      [0.10, 0.10, 0.80, 0.00],
                      [0.05, 0.25, 0.10, 0.60]])
    assert (np.diag(q_acc) > np.diag(q)).all()
    u, v = default_game(alpha=0.0)
    low, high = (solve_signaling(MU_DEFAULT, u, v, m) for m in (q, q_acc))
    assert low.value == pytest.approx(0.0, abs=1e-9)
    assert high.value == pytest.approx(-0.03, abs=1e-9)
    assert high.joint[MIS == 1, 1].sum() > low.joint[MIS == 1, 1].sum() + 0.01


# ---------------------------------------------------------------- invalid input
def _valid():
    u, v = default_game(alpha=0.1)
    return dict(prior=MU_DEFAULT.copy(), user_utility=u, platform_utility=v,
                confusion=kron_q(0.8, 0.8))


def _with(**changes):
    kw = _valid()
    kw.update(changes)
    return kw


_Q_BAD_ROW = kron_q(0.8, 0.8)
_Q_BAD_ROW[2] *= 0.9
BAD_INPUTS = [
    ("prior", _with(prior=MU_DEFAULT[None, :])),
    ("prior", _with(prior=np.array([0.3, 0.4, 0.1, 0.1]))),
    ("prior", _with(prior=np.array([0.6, 0.4, -0.2, 0.2]))),
    ("prior", _with(prior=np.array([0.3, 0.4, np.nan, 0.2]))),
    ("prior", _with(prior=["a", "b", "c", "d"])),
    ("user_utility", _with(user_utility=np.zeros((3, 2)))),
    ("user_utility", _with(user_utility=np.zeros(4))),
    ("user_utility", _with(user_utility=np.full((4, 2), np.inf))),
    ("user_utility", _with(user_utility=np.zeros((4, 1)), platform_utility=np.zeros((4, 1)))),
    ("platform_utility", _with(platform_utility=np.zeros((4, 3)))),
    ("platform_utility", _with(platform_utility=np.zeros((5, 2)))),
    ("platform_utility", _with(platform_utility=np.array([[0, 1], [0, np.nan]] * 2))),
    ("confusion", _with(confusion=_Q_BAD_ROW)),
    ("confusion", _with(confusion=np.array([[1.2, -0.2], [0, 1], [0, 1], [1, 0]]))),
    ("confusion", _with(confusion=np.eye(3))),
    ("confusion", _with(confusion=np.ones(4))),
    ("confusion", _with(confusion=np.full((4, 4), np.nan))),
]


@pytest.mark.parametrize("name, kwargs", BAD_INPUTS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_INPUTS)])
def test_invalid_input_names_argument(name, kwargs):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        solve_signaling(**kwargs)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        evaluate_scheme(**kwargs, scheme=np.tile([0.5, 0.5], (4, 1)))


def test_invalid_input_messages_are_specific():
    with pytest.raises(ValueError, match=r"^confusion: row 2 sums to 0\.9, expected 1"):
        solve_signaling(**_with(confusion=_Q_BAD_ROW))
    with pytest.raises(ValueError, match=r"^scheme:"):
        evaluate_scheme(**_valid(), scheme=np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^scheme:"):
        evaluate_scheme(**_valid(), scheme=np.tile([0.5, 0.5], (3, 1)))
    for bad_tol in (-1.0, float("nan"), "1e-9", None):  # not a number is a ValueError too, never a TypeError
        with pytest.raises(ValueError, match=r"^tol:"):
            solve_signaling(**_valid(), tol=bad_tol)
    kw = _valid()
    with pytest.raises(ValueError, match=r"^groups:"):
        tag_only_scheme(kw["prior"], kw["user_utility"], kw["confusion"], [0, 1])
    with pytest.raises(ValueError, match=r"^threshold:"):
        threshold_flagging_scheme(kw["prior"], kw["confusion"], MIS, 1.5)
    with pytest.raises(ValueError, match=r"^misinformation:"):
        threshold_flagging_scheme(kw["prior"], kw["confusion"], [0, 2, 0, 1], 0.5)


def test_highs_failure_raises_runtime_error(monkeypatch):
    fake = lambda *a, **k: OptimizeResult(status=4, x=None, message="numerical trouble")  # noqa: E731
    monkeypatch.setattr(signaling_module, "linprog", fake)
    with pytest.raises(RuntimeError, match="numerical trouble"):
        solve_signaling(**_valid())


# ---------------------------------------------------------------- §10 robust, ε-slack, personalised
from agents.persuasion import (  # noqa: E402
    InfeasibleSchemeError,
    posterior_slacks,
    solve_personalized_signaling,
    solve_robust_signaling,
)
from agents.persuasion.performative import performatively_optimal_scheme, stationary_prior  # noqa: E402


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
