"""The dynesty peer: static nested sampling with dynesty's recommended sampler for the dimension.

``sample="auto"`` is dynesty's own recommendation (dynesty 3.x): uniform sampling in multi-ellipsoid
bounds for d < 10, random walks (``rwalk``, 20 + d steps) for 10 ≤ d ≤ 20, random-direction slice
sampling (``rslice``, 3 + d slices) for d > 20; stopping at dynesty's default Δln Z
(1e-3 (n_live − 1) + 0.01), the live points added at the end. dynesty is an optional dependency
(``pip install recast[sampling]``); it calls the likelihood one point at a time, on NumPy arrays.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

from agents.samplers.nested import NestedSamplingResult


def _identity(u: np.ndarray) -> np.ndarray:
    return u


def dynesty_method(dim: int) -> str:
    """The sampler dynesty's ``sample="auto"`` picks for `dim` (for tables)."""
    return "unif" if dim < 10 else "rwalk" if dim <= 20 else "rslice"


def run_dynesty(log_likelihood: Callable[[np.ndarray], float], dim: int,
                prior_transform: Callable[[np.ndarray], np.ndarray] | None = None, n_live: int = 200, seed: int = 0,
                sample: str = "auto", bound: str = "multi", dlogz: float | None = None,
                progress: bool = False) -> NestedSamplingResult:
    """Run dynesty's static ``NestedSampler`` and return the same result type as GGNS.

    Args:
        log_likelihood: NumPy point (d,) in physical space → ln L (float).
        dim: dimension. prior_transform: unit cube → physical (identity when None).
        n_live, seed, sample, bound, dlogz: dynesty's ``nlive``, ``rstate`` seed, ``sample``, ``bound``,
            ``dlogz`` (None: dynesty's default).
    """
    try:
        import dynesty
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError("the dynesty peer needs dynesty: pip install 'recast[sampling]'") from err
    start = time.perf_counter()
    sampler = dynesty.NestedSampler(log_likelihood, prior_transform or _identity, dim, nlive=n_live, bound=bound,
                                    sample=sample, rstate=np.random.default_rng(seed))
    with warnings.catch_warnings():  # dynesty's hint to switch samplers when its bootstrap enlargement grows
        warnings.filterwarnings("ignore", message="The enlargement factor", category=UserWarning)
        sampler.run_nested(dlogz=dlogz, print_progress=progress, save_bounds=False)
    res = sampler.results
    log_z = float(res.logz[-1])
    log_p = np.asarray(res.logwt) - log_z
    weights = np.exp(log_p - np.logaddexp.reduce(log_p))
    logl = np.asarray(res.logl)
    try:
        info = float(res["information"][-1])
    except (KeyError, IndexError):
        info = float(np.sum(weights * logl) - log_z)
    return NestedSamplingResult(
        log_z=log_z, log_z_err=float(res.logzerr[-1]), samples=np.asarray(res.samples), weights=weights,
        log_likelihood=logl, log_likelihood_birth=np.full(len(logl), np.nan), n_likelihood_evals=int(np.sum(res.ncall)),
        n_gradient_evals=0, n_iterations=int(res.niter), information=info, converged=True,
        wall_time=time.perf_counter() - start, sampler=f"dynesty-{sample if sample != 'auto' else dynesty_method(dim)}")
