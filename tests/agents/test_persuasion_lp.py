"""Ground-truth tests for the noisy persuasion LP (spec persuasion.md §2, §3, §4, §6, §7)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

import agents.persuasion.signaling as signaling_module
from persuasion_games import (
    MIS,
    MU_DEFAULT,
    _normalise,
    default_game,
    games,
    kron_q,
    random_game,
    ref_binary,
    ref_joint,
    ref_noiseless,
)

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


@pytest.mark.parametrize("seed", range(12))
def test_value_never_rises_along_a_garbling_chain(seed):
    """Blackwell (a theorem): Q_{k+1} = Q_k G_k is a garbling of Q_k, so V* is non-increasing along the chain;
    random games with general (non-symmetric) Q, several actions, strong and weak garblings."""
    from envs.social import garbling_chain

    rng = np.random.default_rng(seed)
    s, n_act = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    mu, u, v, q = random_game(rng, s, int(rng.integers(2, 7)), n_act)
    chain = garbling_chain(q, steps=10, strength=float(rng.uniform(0.05, 1.0)), rng=rng)
    values = [solve_signaling(mu, u, v, qk).value for qk in chain]
    assert np.all(np.diff(values) <= TOL), values
    uninformative = solve_signaling(mu, u, v, np.ones((s, 1))).value  # the floor: no information at all
    assert min(values) >= uninformative - TOL


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
