"""Multivariate Hawkes processes with exponential kernels (tick's convention): simulation and exact likelihood.

Intensity of type i (spec tpp.md §11)::

    λ_i(t) = μ_i + Σ_j Σ_{t^j_m < t} α_ij β exp(−β (t − t^j_m))

α_ij is the L1 norm of the kernel of type j on type i (the expected number of type-i children of one
type-j event), β the shared decay. The process is stationary iff the spectral radius ρ(α) < 1, with mean
rates Λ = (I − α)⁻¹ μ. The recursive state R_j(t) = Σ_{t^j_m < t} exp(−β (t − t^j_m)) gives
λ(t) = μ + β α R(t) in O(D²) per event.

Types are 0-based integers here (0..D−1); times are absolute, starting at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ArrayLike = np.ndarray | list | tuple


def spectral_radius(alpha: ArrayLike) -> float:
    """ρ(α) = max |eigenvalue| of the branching matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(alpha, dtype=float)))))


def check_hawkes_params(mu: ArrayLike, alpha: ArrayLike, beta: float,
                        require_stable: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate and convert (μ, α, β); ValueError naming the problem (shape, sign, NaN, instability)."""
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    alpha = np.asarray(alpha, dtype=float)
    if alpha.ndim == 0:
        alpha = alpha.reshape(1, 1)
    d = mu.shape[0]
    if mu.ndim != 1 or d == 0:
        raise ValueError(f"mu must be a non-empty vector, got shape {mu.shape}")
    if alpha.shape != (d, d):
        raise ValueError(f"alpha must have shape ({d}, {d}) to match mu, got {alpha.shape}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(alpha)) and np.isfinite(beta)):
        raise ValueError("Hawkes parameters must be finite (got NaN or inf)")
    if np.any(mu <= 0):
        raise ValueError(f"baseline mu must be > 0, got {mu.tolist()}")
    if np.any(alpha < 0):
        raise ValueError("alpha must be >= 0 (Ogata thinning with a decaying bound needs excitation only)")
    if not beta > 0:
        raise ValueError(f"decay beta must be > 0, got {beta}")
    if require_stable:
        rho = spectral_radius(alpha)
        if rho >= 1.0:
            raise ValueError(f"unstable Hawkes process: spectral radius of alpha is {rho:.4f} >= 1 "
                             "(the event rate explodes); scale alpha down")
    return mu, alpha, float(beta)


def stationary_rate(mu: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    """Mean event rate per type of the stationary process, Λ = (I − α)⁻¹ μ."""
    mu, alpha, _ = check_hawkes_params(mu, alpha, 1.0)
    return np.linalg.solve(np.eye(mu.shape[0]) - alpha, mu)


@dataclass(frozen=True)
class HawkesProcess:
    """A validated parameter set with the simulator and likelihood as methods."""

    mu: np.ndarray
    alpha: np.ndarray
    beta: float

    def __post_init__(self) -> None:
        mu, alpha, beta = check_hawkes_params(self.mu, self.alpha, self.beta)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)

    @property
    def n_types(self) -> int:
        return int(self.mu.shape[0])

    @property
    def stationary_rate(self) -> np.ndarray:
        return stationary_rate(self.mu, self.alpha)

    def simulate(self, T: float, seed: int | np.random.Generator | None = None,
                 max_events: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return simulate_hawkes(self.mu, self.alpha, self.beta, T, seed, max_events=max_events)

    def log_likelihood(self, times: ArrayLike, types: ArrayLike, T: float) -> float:
        return hawkes_log_likelihood(times, types, self.mu, self.alpha, self.beta, T)


def simulate_hawkes(mu: ArrayLike, alpha: ArrayLike, beta: float, T: float,
                    seed: int | np.random.Generator | None = None,
                    max_events: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One path on [0, T] by Ogata thinning → ``(times, types)`` (float64, int64; sorted).

    Stops at T or after `max_events` events, whichever comes first (T may be inf if `max_events` is set).
    Raises ValueError for an unstable process (ρ(α) ≥ 1).
    """
    return simulate_hawkes_batch(mu, alpha, beta, T, 1, seed, max_events=max_events)[0]


def simulate_hawkes_batch(mu: ArrayLike, alpha: ArrayLike, beta: float, T: float, n_sequences: int,
                          seed: int | np.random.Generator | None = None,
                          max_events: int | ArrayLike | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n_sequences` independent paths by Ogata thinning, vectorised across paths (spec §11).

    Each iteration advances every unfinished path by one candidate point:

    1. λ̄ = Σ_i λ_i(t⁺) — a valid bound until the next event, as every kernel term decays;
    2. w ~ Exp(λ̄), t ← t + w (stop if t > T); decay R to t and compute λ(t) = μ + β α R(t);
    3. u ~ U(0, λ̄): accept if u ≤ Σ_i λ_i(t), with type k = min{k : Σ_{i≤k} λ_i ≥ u}; then R_k += 1.

    Args:
        max_events: a cap on the number of events, one int for all paths or one per path.
    """
    mu, alpha, beta = check_hawkes_params(mu, alpha, beta)
    if not (T > 0) or (np.isinf(T) and max_events is None):
        raise ValueError(f"T must be > 0 (and finite unless max_events is set), got {T}")
    n = int(n_sequences)
    if n < 1:
        raise ValueError(f"n_sequences must be >= 1, got {n_sequences}")
    cap_per = np.full(n, np.iinfo(np.int64).max) if max_events is None else np.broadcast_to(
        np.asarray(max_events, dtype=np.int64), (n,)).copy()
    if np.any(cap_per < 0):
        raise ValueError(f"max_events must be >= 0, got {max_events}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    d = mu.shape[0]
    excite = beta * alpha.T  # λ = μ + R @ (β αᵀ)

    t = np.zeros(n)
    R = np.zeros((n, d))
    count = np.zeros(n, dtype=np.int64)
    active = cap_per > 0
    width = int(min(cap_per.max(), 64)) if max_events is not None else 64
    out_t, out_k = np.zeros((n, max(width, 1))), np.zeros((n, max(width, 1)), dtype=np.int64)
    rows = np.arange(n)
    while active.any():
        lam_bar = (mu + R @ excite).sum(axis=1)
        w = rng.exponential(size=n) / lam_bar
        u = rng.uniform(size=n) * lam_bar
        t_new = t + w
        active &= t_new <= T
        t = np.where(active, t_new, t)
        R = np.where(active[:, None], R * np.exp(-beta * w)[:, None], R)
        cum = np.cumsum(mu + R @ excite, axis=1)
        accept = active & (u <= cum[:, -1])
        if not accept.any():
            continue
        k = np.minimum((cum < u[:, None]).sum(axis=1), d - 1)
        if count.max() >= out_t.shape[1]:  # grow the event buffers
            out_t = np.concatenate([out_t, np.zeros_like(out_t)], axis=1)
            out_k = np.concatenate([out_k, np.zeros_like(out_k)], axis=1)
        r = rows[accept]
        out_t[r, count[r]] = t[r]
        out_k[r, count[r]] = k[r]
        R[r, k[r]] += 1.0
        count[r] += 1
        active &= count < cap_per
    return [(out_t[i, :count[i]].copy(), out_k[i, :count[i]].copy()) for i in range(n)]


def _check_events(times: ArrayLike, types: ArrayLike, d: int, T: float | None) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times, dtype=float).reshape(-1)
    types = np.asarray(types).reshape(-1)
    if times.shape != types.shape:
        raise ValueError(f"times and types must have the same length, got {times.shape[0]} and {types.shape[0]}")
    if not np.all(np.isfinite(times)):
        bad = int(np.flatnonzero(~np.isfinite(times))[0])
        raise ValueError(f"event times must be finite; first bad position {bad}")
    if times.size and np.any(np.diff(times) < 0):
        bad = int(np.flatnonzero(np.diff(times) < 0)[0]) + 1
        raise ValueError(f"event times must be sorted; first decrease at position {bad}")
    if times.size and times[0] < 0:
        raise ValueError(f"event times must be >= 0, got {times[0]} at position 0")
    if T is not None and times.size and times[-1] > T:
        raise ValueError(f"event at time {times[-1]} lies after the end of the window T = {T}")
    if types.size and (not np.issubdtype(types.dtype, np.integer) or types.min() < 0 or types.max() >= d):
        raise ValueError(f"event types must be integers in [0, {d}), got values in [{types.min()}, {types.max()}]")
    return times, types.astype(np.int64)


def hawkes_log_likelihood(times: ArrayLike, types: ArrayLike, mu: ArrayLike, alpha: ArrayLike, beta: float,
                          T: float) -> float:
    """Exact log-likelihood of one path observed on [0, T] (spec §11)::

        log L = Σ_n log λ_{k_n}(t_n⁻) − Σ_i μ_i T − Σ_j (Σ_i α_ij) Σ_{t^j_m ≤ T} (1 − e^{−β (T − t^j_m)})

    λ at t_n⁻ uses the recursive state before the n-th event's increment. Stability is not required
    (the likelihood of a finite window is defined for any α ≥ 0).
    """
    mu, alpha, beta = check_hawkes_params(mu, alpha, beta, require_stable=False)
    times, types = _check_events(times, types, mu.shape[0], T)
    R = np.zeros(mu.shape[0])
    log_sum, last = 0.0, 0.0
    for t_n, k_n in zip(times.tolist(), types.tolist()):  # O(n D) recursion; ground truth, not a hot path
        R *= np.exp(-beta * (t_n - last))
        log_sum += np.log(mu[k_n] + beta * alpha[k_n] @ R)
        R[k_n] += 1.0
        last = t_n
    tail = np.bincount(types, weights=1.0 - np.exp(-beta * (T - times)), minlength=mu.shape[0])
    return float(log_sum - mu.sum() * T - alpha.sum(axis=0) @ tail)


def hawkes_intensity(t: ArrayLike, times: ArrayLike, types: ArrayLike, mu: ArrayLike, alpha: ArrayLike,
                     beta: float, chunk: int = 4096) -> np.ndarray:
    """λ(t⁻) at the query times `t` (G,) → (G, D), by the direct double sum (for tests and plots)."""
    mu, alpha, beta = check_hawkes_params(mu, alpha, beta, require_stable=False)
    times, types = _check_events(times, types, mu.shape[0], None)
    t = np.asarray(t, dtype=float).reshape(-1)
    out = np.empty((t.size, mu.shape[0]))
    jump = beta * alpha[:, types].T  # (M, D): the jump each event adds to every type's intensity
    for s in range(0, t.size, chunk):
        lag = t[s:s + chunk, None] - times[None, :]
        kern = np.where(lag > 0, np.exp(-beta * np.clip(lag, 0.0, None)), 0.0)
        out[s:s + chunk] = mu + kern @ jump
    return out


def compensator_increments(times: ArrayLike, types: ArrayLike, mu: ArrayLike, alpha: ArrayLike,
                           beta: float) -> np.ndarray:
    """Pooled compensator increments Λ(t_{n−1}, t_n) = ∫ Σ_i λ_i between consecutive events (t_0 = 0).

    By the time-rescaling theorem they are i.i.d. Exp(1) under the true process (spec §11)::

        Λ(t_a, t_b) = Σ_i μ_i (t_b − t_a) + Σ_j (Σ_i α_ij) R_j(t_a⁺) (1 − e^{−β (t_b − t_a)})
    """
    mu, alpha, beta = check_hawkes_params(mu, alpha, beta, require_stable=False)
    times, types = _check_events(times, types, mu.shape[0], None)
    col = alpha.sum(axis=0)
    R = np.zeros(mu.shape[0])
    out = np.empty(times.size)
    last = 0.0
    for n, (t_n, k_n) in enumerate(zip(times.tolist(), types.tolist())):
        gap = t_n - last
        out[n] = mu.sum() * gap + col @ R * (1.0 - np.exp(-beta * gap))
        R *= np.exp(-beta * gap)
        R[k_n] += 1.0
        last = t_n
    return out
