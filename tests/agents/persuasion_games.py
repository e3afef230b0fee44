"""Shared game builders and reference LPs for the persuasion tests (independent of agents.persuasion)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from scipy.optimize import linprog

MU_DEFAULT = np.array([0.3, 0.4, 0.1, 0.2])                 # TU, TP, MU, MP
MIS = np.array([0, 0, 1, 1])


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
