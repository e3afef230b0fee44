"""Posterior problems with a uniform box prior, a log-likelihood and a reference ln Z.

Every problem lives on the box [lo, hi]^d; the prior transform maps the unit cube onto it,
x = lo + (hi − lo) u, so Z = V⁻¹ ∫_box L(x) dx with V = (hi − lo)^d (spec §12). The same
log-likelihood code runs on torch tensors (differentiable, any device — what GGNS needs) and on
NumPy arrays (fast per-point calls — what dynesty needs): it only uses arithmetic, ``.sum(-1)`` and
the functions of :func:`_ns`.

| name | ln Z reference | spec |
|---|---|---|
| ``gaussian``  | closed form (normal CDFs): N(μ, σ² I) truncated to the box | §12.1 |
| ``mixture``   | closed form: Σ w_k N(μ_k, σ_k² I), here 1/3 and 2/3 at ∓3 e₁, σ = 0.75 | §12.4 |
| ``grid``      | closed form: 2-D grid of equal Gaussians (3×3, spacing 5, variance 0.3) | §12.4 |
| ``shells``    | ln 2 + ln S_d + ln I_d − d ln 12, I_d by 1-D quadrature (exact up to it) | §12.2 |
| ``funnel``    | 1-D quadrature over x₀ of the truncated conditionals (Neal's funnel) | §12.8 |
| ``rosenbrock``| numerical: d/2 independent 2-D Rosenbrock pairs, 1-D quadrature per pair | §12.6 |
| ``rotated``   | closed form up to ≤ 1e-9: N(0, Σ), Σ = R diag(σ²) Rᵀ, condition number σ²_max/σ²_min = ``cond`` | §12.1 |
| ``rotated-1e2``, ``-1e3``, ``-1e4`` | the same with cond = 10², 10³, 10⁴ (ill-conditioned, correlated) | issue 21 |
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import integrate, special

LOG_2PI = math.log(2.0 * math.pi)


def _ns(x: Any) -> Any:
    """The array namespace of `x`: ``torch`` for tensors, ``numpy`` otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


def _logsumexp(a: Any, axis: int) -> Any:
    return torch.logsumexp(a, axis) if isinstance(a, torch.Tensor) else np.logaddexp.reduce(a, axis=axis)


def _log_box_mass(mu: np.ndarray, sigma: float, lo: float, hi: float) -> float:
    """ln P(lo ≤ X_i ≤ hi for all i) for X ~ N(mu, σ² I): Σ_i ln(Φ(b_i) − Φ(a_i)), computed stably."""
    a, b = (lo - mu) / sigma, (hi - mu) / sigma
    # ln(Φ(b) − Φ(a)) = ln Φ(b) + ln(1 − exp(ln Φ(a) − ln Φ(b))); use the upper tail when both are large.
    flip = a > 0
    a, b = np.where(flip, -b, a), np.where(flip, -a, b)
    lb, la = special.log_ndtr(b), special.log_ndtr(a)
    return float(np.sum(lb + np.log1p(-np.exp(la - lb))))


@dataclass
class PosteriorProblem:
    """A posterior problem: box prior [lo, hi]^d, log-likelihood, reference ln Z.

    Attributes:
        name: registry name.
        dim: dimension d.
        lo, hi: the prior box edges (the same in every coordinate).
        log_z: reference ln Z (analytic, or a 1-D quadrature; see ``log_z_method``).
        log_z_method: ``"analytic"`` (closed form or exact up to a 1-D quadrature of a closed form)
            or ``"numerical"`` (a numerical reference with no closed form).
        modes: (K, d) array of mode centres where meaningful (for plots), else None.
    """

    name: str
    dim: int
    lo: float
    hi: float
    log_z: float = field(init=False)
    log_z_method: str = field(init=False, default="analytic")
    modes: np.ndarray | None = field(init=False, default=None)
    _cache: dict = field(init=False, default_factory=dict, repr=False)

    @property
    def log_volume(self) -> float:
        return self.dim * math.log(self.hi - self.lo)

    def prior_transform(self, u: Any) -> Any:
        """x = lo + (hi − lo) u, for torch or NumPy arrays (…, d)."""
        return self.lo + (self.hi - self.lo) * u

    def log_likelihood(self, x: Any) -> Any:
        """ln L at physical points x of shape (n, d) (torch or NumPy); returns shape (n,)."""
        raise NotImplementedError

    def const(self, name: str, value: np.ndarray, like: Any) -> Any:
        """A constant array as the type/device/dtype of `like` (cached per device and dtype)."""
        if not isinstance(like, torch.Tensor):
            return value
        key = (name, like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        return self._cache[key]


class GaussianBox(PosteriorProblem):
    """Normalised L = N(x; μ, σ² I) on [lo, hi]^d (default N(0, I) in [−5, 5]^d, the GGNS benchmark).

    ln Z = Σ_i ln(Φ((hi − μ_i)/σ) − Φ((lo − μ_i)/σ)) − d ln(hi − lo)   (spec §12.1); for the default,
    ln Z = d (ln erf(5/√2) − ln 10) ≈ −2.302585 d.
    """

    def __init__(self, dim: int, mean: float = 0.0, sigma: float = 1.0, lo: float = -5.0, hi: float = 5.0):
        super().__init__("gaussian", dim, lo, hi)
        self.mean, self.sigma = np.full(dim, float(mean)), float(sigma)
        self.log_z = _log_box_mass(self.mean, self.sigma, lo, hi) - self.log_volume
        self.modes = self.mean[None]

    def log_likelihood(self, x: Any) -> Any:
        r = (x - self.const("mean", self.mean, x)) / self.sigma
        return -0.5 * (r * r).sum(-1) - self.dim * (math.log(self.sigma) + 0.5 * LOG_2PI)


class GaussianMixture(PosteriorProblem):
    """Normalised L = Σ_k w_k N(x; μ_k, σ_k² I), Σ w_k = 1, on [lo, hi]^d.

    Z = V⁻¹ Σ_k w_k P_k(box), each P_k a product of normal-CDF differences (spec §12.4).
    """

    def __init__(self, name: str, means: np.ndarray, sigmas: np.ndarray, weights: np.ndarray, lo: float, hi: float):
        means = np.asarray(means, dtype=float)
        super().__init__(name, means.shape[1], lo, hi)
        self.means = means
        self.sigmas = np.asarray(sigmas, dtype=float)
        self.log_weights = np.log(np.asarray(weights, dtype=float) / np.sum(weights))
        masses = [_log_box_mass(m, s, lo, hi) for m, s in zip(self.means, self.sigmas)]
        self.log_z = float(special.logsumexp(self.log_weights + np.array(masses))) - self.log_volume
        self.modes = self.means
        # per-component constant: ln w_k − d ln σ_k − (d/2) ln 2π
        self._norm = self.log_weights - self.dim * (np.log(self.sigmas) + 0.5 * LOG_2PI)

    def log_likelihood(self, x: Any) -> Any:
        mu, sig = self.const("means", self.means, x), self.const("sigmas", self.sigmas, x)
        r = (x[:, None, :] - mu[None]) / sig[None, :, None]  # (n, K, d)
        return _logsumexp(self.const("norm", self._norm, x)[None] - 0.5 * (r * r).sum(-1), 1)


def two_mode_mixture(dim: int) -> GaussianMixture:
    """Weights 1/3 and 2/3 at ∓3 e₁, σ = 0.75 (modes 8σ apart), prior [−5, 5]^d: unequal-mass modes."""
    means = np.zeros((2, dim))
    means[:, 0] = (-3.0, 3.0)
    return GaussianMixture("mixture", means, np.array([0.75, 0.75]), np.array([1.0, 2.0]), -5.0, 5.0)


def grid_mixture(dim: int = 2, per_side: int = 3, spacing: float = 5.0, variance: float = 0.3) -> GaussianMixture:
    """The 2-D grid GMM of the GGNS evidence table (3×3 modes, spacing 5, variance 0.3) on [−10, 10]²."""
    if dim != 2:
        raise ValueError(f"the grid mixture is 2-D, got dim={dim}")
    ticks = spacing * (np.arange(per_side) - (per_side - 1) / 2)
    means = np.array([(a, b) for a in ticks for b in ticks])
    half = spacing * (per_side - 1) / 2 + 5.0
    k = len(means)
    return GaussianMixture("grid", means, np.full(k, math.sqrt(variance)), np.ones(k), -half, half)


class GaussianShells(PosteriorProblem):
    """Two Gaussian shells (MultiNest): L = Σ_{k=1,2} (2πw²)^{−½} exp(−(‖x − c_k‖ − r)²/(2w²)).

    r = 2, w = 0.1, c = (∓3.5, 0, …, 0), prior [−6, 6]^d. The shells lie inside the box and do not
    overlap, so ln Z = ln 2 + ln S_d + ln I_d − d ln 12 with S_d = 2π^{d/2}/Γ(d/2) and
    I_d = ∫₀^∞ ρ^{d−1} N(ρ; r, w) dρ (1-D quadrature in log space; spec §12.2).
    """

    def __init__(self, dim: int, radius: float = 2.0, width: float = 0.1, offset: float = 3.5):
        super().__init__("shells", dim, -6.0, 6.0)
        self.radius, self.width = radius, width
        self.centres = np.zeros((2, dim))
        self.centres[:, 0] = (-offset, offset)
        self.modes = self.centres
        log_sd = math.log(2.0) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim)
        self.log_z = math.log(2.0) + log_sd + self._log_radial_integral() - self.log_volume

    def _log_radial_integral(self) -> float:
        r, w, d = self.radius, self.width, self.dim
        peak = 0.5 * (r + math.sqrt(r * r + 4 * w * w * (d - 1)))  # argmax of ρ^{d−1} N(ρ; r, w)
        rho = np.linspace(max(1e-12, min(r, peak) - 30 * w), max(r, peak) + 30 * w, 200_001)
        f = (d - 1) * np.log(rho) - 0.5 * ((rho - r) / w) ** 2 - math.log(w) - 0.5 * LOG_2PI
        return float(special.logsumexp(f) + math.log(rho[1] - rho[0]))  # Riemann sum = trapezoid here

    def log_likelihood(self, x: Any) -> Any:
        xp = _ns(x)
        c = self.const("centres", self.centres, x)
        diff = x[:, None, :] - c[None]  # (n, 2, d)
        dist = xp.sqrt((diff * diff).sum(-1))
        z = (dist - self.radius) / self.width
        return _logsumexp(-0.5 * z * z, 1) - math.log(self.width) - 0.5 * LOG_2PI


class Funnel(PosteriorProblem):
    """Neal's funnel on [−a, a]^d: x₀ ~ N(0, 3²), x_i | x₀ ~ N(0, e^{x₀}) (normalised, so Z = 1 on ℝ^d).

    With the box, ln Z = ln ∫_{−a}^{a} N(x₀; 0, 9) (2Φ(a e^{−x₀/2}) − 1)^{d−1} dx₀ − d ln 2a (1-D quadrature).
    """

    def __init__(self, dim: int = 10, half_width: float = 10.0):
        if dim < 2:
            raise ValueError(f"the funnel needs dim >= 2, got {dim}")
        super().__init__("funnel", dim, -half_width, half_width)
        a = half_width

        def integrand(x0: float) -> float:
            inner = (dim - 1) * math.log(math.erf(a * math.exp(-0.5 * x0) / math.sqrt(2.0)))
            return math.exp(-x0 * x0 / 18.0 - 0.5 * math.log(2 * math.pi * 9.0) + inner)

        mass, _ = integrate.quad(integrand, -a, a, epsabs=1e-13, epsrel=1e-11, limit=200)
        self.log_z = math.log(mass) - self.log_volume
        self.modes = np.zeros((1, dim))

    def log_likelihood(self, x: Any) -> Any:
        x0, rest = x[:, 0], x[:, 1:]
        k = self.dim - 1
        log_p0 = -x0 * x0 / 18.0 - 0.5 * (LOG_2PI + math.log(9.0))
        return log_p0 - 0.5 * (rest * rest).sum(-1) * _ns(x).exp(-x0) - 0.5 * k * (x0 + LOG_2PI)


class Rosenbrock(PosteriorProblem):
    """d/2 independent 2-D Rosenbrock pairs: ln L = −Σ_pairs [(1 − x)² + 100 (y − x²)²] on [−5, 5]^d.

    Numerical reference: per pair ∫∫_box = ∫_{−5}^{5} e^{−(1−x)²} (√π/10)[Φ(√200 (5 − x²)) − Φ(√200 (−5 − x²))] dx
    (1-D quadrature; the box cuts the ridge for |x| > √5, so π/10 is not exact), ln Z = (d/2) ln I₂ − d ln 10.
    """

    def __init__(self, dim: int = 2):
        if dim % 2:
            raise ValueError(f"the paired Rosenbrock needs an even dim, got {dim}")
        super().__init__("rosenbrock", dim, -5.0, 5.0)
        s = math.sqrt(200.0)

        def integrand(x: float) -> float:
            inner = special.ndtr(s * (5 - x * x)) - special.ndtr(s * (-5 - x * x))
            return math.exp(-(1 - x) ** 2) * math.sqrt(math.pi) / 10.0 * inner

        pair, _ = integrate.quad(integrand, -5.0, 5.0, epsabs=1e-13, epsrel=1e-11, limit=200, points=[0.0, 1.0])
        self.log_z = 0.5 * dim * math.log(pair) - self.log_volume
        self.log_z_method = "numerical"
        self.modes = np.ones((1, dim))

    def log_likelihood(self, x: Any) -> Any:
        a, b = x[:, 0::2], x[:, 1::2]
        return -((1 - a) ** 2 + 100.0 * (b - a * a) ** 2).sum(-1)


class RotatedGaussian(PosteriorProblem):
    """Normalised L = N(x; 0, Σ) on [−5, 5]^d, Σ = R diag(σ_1², …, σ_d²) Rᵀ: an ill-conditioned, correlated target.

    σ_i log-spaced from cond^{−1/2} to 1 (condition number of Σ = cond); R a Haar-random rotation fixed by
    `rotation_seed` (QR of a Gaussian matrix, signs fixed). Every marginal has sd s_j = √Σ_jj ≤ 1, so the box
    cuts ≤ 2Φ(−5) ≈ 6e-7 of each; ln Z = ln P(box) − d ln 10 with ln P(box) ≈ Σ_j ln(1 − 2Φ(−5/s_j)), whose
    error (the dependence between the tiny tail events) is below 1e-9 here.
    """

    def __init__(self, dim: int, cond: float = 1e3, rotation_seed: int = 0, name: str = "rotated"):
        if not (math.isfinite(cond) and cond >= 1):
            raise ValueError(f"cond must be a finite number >= 1, got {cond}")
        super().__init__(name, dim, -5.0, 5.0)
        self.cond = float(cond)
        self.sigmas = np.logspace(-0.5 * math.log10(cond), 0.0, dim) if dim > 1 else np.ones(1)
        q, r = np.linalg.qr(np.random.default_rng(rotation_seed).standard_normal((dim, dim)))
        self.rotation = q * np.sign(np.diag(r))
        self.precision = (self.rotation / self.sigmas**2) @ self.rotation.T  # Σ⁻¹ = R diag(σ⁻²) Rᵀ
        marginal_sd = np.sqrt(((self.rotation * self.sigmas) ** 2).sum(axis=1))
        self.log_z = _log_box_mass(np.zeros(dim), 1.0, -5.0 / marginal_sd, 5.0 / marginal_sd) - self.log_volume
        self._norm = -np.log(self.sigmas).sum() - 0.5 * dim * LOG_2PI
        self.modes = np.zeros((1, dim))

    def log_likelihood(self, x: Any) -> Any:
        quad = ((x @ self.const("precision", self.precision, x)) * x).sum(-1)
        return -0.5 * quad + self._norm


def rotated_gaussian(cond: float) -> Any:
    """Factory for the registry: ``rotated-1e3`` etc. (dim → RotatedGaussian(dim, cond))."""
    name = f"rotated-1e{round(math.log10(cond))}"
    return lambda dim, **kw: RotatedGaussian(dim, cond=cond, name=name, **kw)


PROBLEMS = {
    "gaussian": GaussianBox,
    "mixture": two_mode_mixture,
    "grid": grid_mixture,
    "shells": GaussianShells,
    "funnel": Funnel,
    "rosenbrock": Rosenbrock,
    "rotated": RotatedGaussian,
    "rotated-1e2": rotated_gaussian(1e2),
    "rotated-1e3": rotated_gaussian(1e3),
    "rotated-1e4": rotated_gaussian(1e4),
}


def make_problem(name: str, dim: int, **kwargs: Any) -> PosteriorProblem:
    """Build the problem called `name` in `dim` dimensions (ValueError naming the choices otherwise)."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem '{name}'; choose one of: {', '.join(PROBLEMS)}")
    if int(dim) < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    return PROBLEMS[name](int(dim), **kwargs)
