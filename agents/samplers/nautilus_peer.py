"""The second peer: nautilus (Lange 2023), importance nested sampling with neural-network-emulated shells.

nautilus keeps every likelihood evaluation (importance weights over shells bounded by neural-network
emulators and ellipsoid unions), stops at ``f_live`` (live-set evidence fraction, 0.01) and ``n_eff``
(10,000 effective samples), and reports ln Z with an error ≈ 1/√N_eff. It is an optional dependency
(``pip install 'recast[sampling]'``) and calls the likelihood one point at a time on NumPy arrays
(``vectorized=False``), like the dynesty peer; gradients are never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from agents.samplers.result import NestedSamplingResult


def run_nautilus(log_likelihood: Callable[[np.ndarray], float], dim: int,
                 prior_transform: Callable[[np.ndarray], np.ndarray] | None = None, n_live: int = 2000, seed: int = 0,
                 f_live: float = 0.01, n_eff: int = 10_000, n_like_max: float = float("inf"),
                 **sampler_kwargs) -> NestedSamplingResult:
    """Run ``nautilus.Sampler`` and return the same result type as GGNS (nautilus's defaults: n_live 2000).

    Args:
        log_likelihood: NumPy point (d,) in physical space → ln L (float).
        dim: dimension. prior_transform: unit cube → physical (identity when None).
        n_live, seed, f_live, n_eff, n_like_max: nautilus's ``n_live``, ``seed`` and stopping rule.
        sampler_kwargs: passed to ``nautilus.Sampler`` (e.g. ``n_networks``).
    """
    try:
        import nautilus
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("the nautilus peer needs nautilus-sampler: pip install 'recast[sampling]'") from err
    if int(n_live) < 1 or int(dim) < 1:
        raise ValueError(f"n_live and dim must be >= 1, got n_live={n_live}, dim={dim}")
    start = time.perf_counter()
    transform = prior_transform or (lambda u: u)
    sampler = nautilus.Sampler(transform, log_likelihood, n_dim=int(dim), n_live=int(n_live), seed=int(seed),
                               pass_dict=False, **sampler_kwargs)
    sampler.run(f_live=f_live, n_eff=n_eff, n_like_max=n_like_max, verbose=False)
    points, log_w, logl = sampler.posterior()
    weights = np.exp(log_w - np.logaddexp.reduce(log_w))
    log_z = float(sampler.log_z)
    n_eff_reached = float(sampler.n_eff)
    info = float(np.sum(weights * logl) - log_z)
    return NestedSamplingResult(
        log_z=log_z, log_z_err=float(1.0 / np.sqrt(max(n_eff_reached, 1.0))), samples=np.asarray(points),
        weights=weights, log_likelihood=np.asarray(logl), log_likelihood_birth=np.full(len(logl), np.nan),
        n_likelihood_evals=len(logl), n_gradient_evals=0,  # nautilus keeps every evaluation
        information=info, converged=True, wall_time=time.perf_counter() - start, sampler="nautilus")
