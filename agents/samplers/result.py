"""What a nested sampler returns (GGNS and the dynesty peer alike)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class NestedSamplingResult:
    """What a nested sampler returns (GGNS and the dynesty peer alike).

    ``samples`` are the dead points (physical space) and ``weights`` their posterior weights
    p_i = w_i L_i / Z (Σ p_i = 1). ``n_likelihood_evals`` counts likelihood values and
    ``n_gradient_evals`` gradients (one per point each).
    """

    log_z: float
    log_z_err: float
    samples: np.ndarray
    weights: np.ndarray
    log_likelihood: np.ndarray
    log_likelihood_birth: np.ndarray
    n_likelihood_evals: int
    n_gradient_evals: int
    n_iterations: int = 0
    information: float = math.nan  # D_KL(posterior ‖ prior) = Σ p_i ln L_i − ln Z
    cluster_log_z: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cluster_log_z_err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # cluster of each dead point
    n_nan: int = 0
    converged: bool = True
    wall_time: float = 0.0
    sampler: str = "ggns"
    decorrelation: float = math.nan  # median over batches of mean ‖Δu‖² / 2 tr C_mode (≈ 1 for independent new points)
    warnings: list[str] = field(default_factory=list)  # e.g. poor decorrelation; never silent

    @property
    def ess(self) -> float:
        """Kish effective sample size (Σ p)² / Σ p²."""
        return float(self.weights.sum() ** 2 / np.sum(self.weights**2))

    def resample_equal(self, n: int | None = None, seed: int = 0) -> np.ndarray:
        """Equal-weight posterior samples by systematic resampling (n defaults to round(ESS))."""
        n = max(1, round(self.ess)) if n is None else int(n)
        rng = np.random.default_rng(seed)
        cdf = np.cumsum(self.weights / self.weights.sum())
        cdf[-1] = 1.0
        idx = np.searchsorted(cdf, (rng.random() + np.arange(n)) / n, side="right")
        return self.samples[np.minimum(idx, len(cdf) - 1)]
