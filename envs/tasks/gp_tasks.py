"""1-D Gaussian-process function tasks for neural-process meta-learning (CMANP §5; TNP/LBANP ``data/gp.py``).

A task is one function f ~ GP(0, k) observed at random inputs, split into a context set and a target set:

    x ~ U[−2, 2];  N_c ~ U{3, …, max − 4};  N_t ~ U{3, …, max − N_c − 1}   (drawn once per batch)
    y = f(x) + ε,  Cov[y] = k(x, x′) + 0.02² I

Kernels, with one (ℓ, s) per function, ℓ ~ U[0.1, 0.6), s ~ U[0.1, 1.0) — the reference code's ranges
(the paper's text says ℓ ~ U[0.6, 1.0); ``lengthscale_range`` switches):

    rbf       k = s² exp(−½ (x − x′)² / ℓ²)
    matern52  k = s² (1 + √5 r + 5r²/3) exp(−√5 r),   r = |x − x′| / ℓ
    periodic  k = s² exp(−2 sin²(π |x − x′| / p) / ℓ²),  p ~ U[0.1, 0.5)

``t_noise`` adds Student-t(2.1) noise scaled by a constant (or, for −1, by U[0, 0.15) per point).

    sampler = GPSampler("rbf")
    batch = sampler.sample(np.random.default_rng(0), batch_size=16)   # NPBatch of float32 arrays
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KERNELS = ("rbf", "matern52", "periodic")
NOISE_STD = 0.02
CODE_LENGTHSCALE_RANGE = (0.1, 0.6)  # regression/data/gp.py
PAPER_LENGTHSCALE_RANGE = (0.6, 1.0)  # the paper's text (see the spec's discrepancy note)
SCALE_RANGE = (0.1, 1.0)
PERIOD_RANGE = (0.1, 0.5)


@dataclass
class NPBatch:
    """A batch of tasks: context (xc, yc) and targets (xt, yt), each (B, N, d) float32."""

    xc: np.ndarray
    yc: np.ndarray
    xt: np.ndarray
    yt: np.ndarray

    @property
    def x(self) -> np.ndarray:
        return np.concatenate([self.xc, self.xt], axis=1)

    @property
    def y(self) -> np.ndarray:
        return np.concatenate([self.yc, self.yt], axis=1)


def kernel_matrix(x: np.ndarray, kernel: str, lengthscale: np.ndarray, scale: np.ndarray,
                  period: np.ndarray | None = None, noise_std: float = NOISE_STD) -> np.ndarray:
    """Cov[y] for inputs ``x`` (B, N, 1) and per-function ``lengthscale``, ``scale`` (and ``period``) of shape (B,)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    ell, s2 = lengthscale[:, None, None], scale[:, None, None] ** 2
    diff = np.abs(x[:, :, None, 0] - x[:, None, :, 0])  # (B, N, N)
    if kernel == "rbf":
        cov = s2 * np.exp(-0.5 * (diff / ell) ** 2)
    elif kernel == "matern52":
        r = np.sqrt(5.0) * diff / ell
        cov = s2 * (1.0 + r + r**2 / 3.0) * np.exp(-r)
    else:
        if period is None:
            raise ValueError("the periodic kernel needs a period")
        cov = s2 * np.exp(-2.0 * (np.sin(np.pi * diff / period[:, None, None]) / ell) ** 2)
    return cov + noise_std**2 * np.eye(x.shape[1])


def sample_functions(rng: np.random.Generator, x: np.ndarray, kernel: str, lengthscale: np.ndarray,
                     scale: np.ndarray, period: np.ndarray | None = None) -> np.ndarray:
    """y ~ N(0, K(x)) for each function in the batch: (B, N, 1) float64, via one batched Cholesky."""
    chol = np.linalg.cholesky(kernel_matrix(x.astype(np.float64), kernel, lengthscale, scale, period))
    return chol @ rng.standard_normal((x.shape[0], x.shape[1], 1))


class GPSampler:
    """Batches of 1-D GP regression tasks with the reference code's protocol (see the module docstring)."""

    def __init__(self, kernel: str = "rbf", lengthscale_range: tuple[float, float] = CODE_LENGTHSCALE_RANGE,
                 max_num_points: int = 50, x_range: tuple[float, float] = (-2.0, 2.0), t_noise: float | None = None):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if max_num_points < 10:
            raise ValueError(f"max_num_points must be >= 10, got {max_num_points}")
        if not 0 < lengthscale_range[0] < lengthscale_range[1]:
            raise ValueError(f"lengthscale_range must be 0 < low < high, got {lengthscale_range}")
        self.kernel, self.lengthscale_range, self.max_num_points = kernel, tuple(lengthscale_range), max_num_points
        self.x_range, self.t_noise = x_range, t_noise

    dim_x, dim_y = 1, 1

    def sample(self, rng: np.random.Generator, batch_size: int = 16, num_ctx: int | None = None,
               num_tar: int | None = None) -> NPBatch:
        m = self.max_num_points
        num_ctx = num_ctx or int(rng.integers(3, m - 3))  # torch.randint(3, max − 3): 3 … max − 4
        num_tar = num_tar or int(rng.integers(3, m - num_ctx))
        n = num_ctx + num_tar
        lo, hi = self.x_range
        x = lo + (hi - lo) * rng.random((batch_size, n, 1))
        ell = rng.uniform(*self.lengthscale_range, size=batch_size)
        scale = rng.uniform(*SCALE_RANGE, size=batch_size)
        period = rng.uniform(*PERIOD_RANGE, size=batch_size) if self.kernel == "periodic" else None
        y = sample_functions(rng, x, self.kernel, ell, scale, period)
        if self.t_noise is not None:
            level = 0.15 * rng.random(y.shape) if self.t_noise == -1 else self.t_noise
            y = y + level * rng.standard_t(2.1, size=y.shape)
        x, y = x.astype(np.float32), y.astype(np.float32)
        return NPBatch(x[:, :num_ctx], y[:, :num_ctx], x[:, num_ctx:], y[:, num_ctx:])


def context_blocks(xc: np.ndarray, yc: np.ndarray, block_size: int):
    """Yield the context in consecutive blocks of ``block_size`` points along axis −2 (the last may be shorter)."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    for start in range(0, xc.shape[-2], block_size):
        yield xc[..., start:start + block_size, :], yc[..., start:start + block_size, :]
