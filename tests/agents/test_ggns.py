"""GGNS: ln Z against analytic values, weights, determinism, the error contract, and its parts."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from agents.samplers import (
    GGNS,
    EvidenceTracker,
    HSSConfig,
    galilean_slice_sampling,
    hamiltonian_slice_sampling,
    min_live_points,
)
from envs.inference import LikelihoodMeter, make_problem


def run_ggns(name: str, dim: int, n_live: int = 100, seed: int = 0, **kwargs):
    problem = make_problem(name, dim)
    sampler = GGNS(problem.log_likelihood, dim, problem.prior_transform, n_live=n_live, seed=seed, progress=False,
                   **kwargs)
    return problem, sampler.run()


def assert_log_z_close(problem, result, n_live: int, k: float = 4.0) -> None:
    """|ln Ẑ − ln Z| < k √(σ̂² + H/n_live) (spec §12 test tolerance)."""
    tol = k * math.sqrt(result.log_z_err**2 + result.information / n_live)
    assert abs(result.log_z - problem.log_z) < tol, (result.log_z, problem.log_z, tol)


@pytest.mark.parametrize("name,dim", [("gaussian", 2), ("gaussian", 4), ("shells", 2), ("mixture", 3), ("grid", 2)])
def test_log_z_matches_analytic(name: str, dim: int) -> None:
    problem, result = run_ggns(name, dim)
    assert result.converged
    assert_log_z_close(problem, result, 100)
    assert result.n_likelihood_evals > 0 and result.n_gradient_evals > 0


def test_official_kernel_log_z() -> None:
    problem, result = run_ggns("gaussian", 3, kernel="official")
    assert result.sampler == "ggns-official"
    assert_log_z_close(problem, result, 100)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ill_conditioned_rotated_gaussian(seed: int) -> None:
    """Condition number 10³ in d = 16 (issue 21): the fixed 20-step kernel was off by −3 … −31 nats here."""
    problem, result = run_ggns("rotated-1e3", 16, seed=seed)
    assert abs(result.log_z - problem.log_z) < 3 * result.log_z_err, (result.log_z, problem.log_z, result.log_z_err)
    assert result.decorrelation > 0.5 and not result.warnings


def test_poor_decorrelation_is_flagged() -> None:
    """The unpreconditioned kernel on the same target barely moves along the wide axes: a warning, never silence."""
    problem = make_problem("rotated-1e3", 8)
    sampler = GGNS(problem.log_likelihood, 8, problem.prior_transform, n_live=40, seed=0, kernel="fixed",
                   progress=False, max_evals=12_000)
    with pytest.warns(RuntimeWarning, match="poor decorrelation"):
        result = sampler.run()
    assert result.decorrelation < 0.3 and "poor decorrelation" in result.warnings[0]


def test_constant_likelihood_is_exact() -> None:
    """L ≡ e^c: every live point ties, the plateau ends the run and ln Z = c exactly (no restarts, no error)."""
    c = -3.7
    result = GGNS(lambda x: c + 0.0 * x.sum(-1), 3, n_live=20.0, progress=False).run()
    assert result.log_z == pytest.approx(c, abs=1e-12) and result.log_z_err == pytest.approx(0.0, abs=1e-6)
    assert result.weights.sum() == pytest.approx(1.0) and result.n_likelihood_evals == 21


def test_rosenbrock_against_numerical_reference() -> None:
    problem, result = run_ggns("rosenbrock", 2)
    assert problem.log_z_method == "numerical"
    assert_log_z_close(problem, result, 100)


def test_reported_error_is_calibrated_over_seeds() -> None:
    problem = make_problem("gaussian", 2)
    errs, reported = [], []
    for seed in range(8):
        r = GGNS(problem.log_likelihood, 2, problem.prior_transform, n_live=50, seed=seed, progress=False).run()
        errs.append(r.log_z - problem.log_z)
        reported.append(r.log_z_err)
    errs = np.array(errs)
    assert abs(errs.mean()) < 4 * np.mean(reported) / math.sqrt(len(errs))  # no bias beyond noise
    assert 0.3 < errs.std(ddof=1) / np.mean(reported) < 3.0  # reported σ within ~3× of the scatter


def test_weights_are_normalised_and_consistent() -> None:
    problem, r = run_ggns("mixture", 2, n_live=60)
    assert r.weights.shape == (len(r.samples),) == r.log_likelihood.shape
    assert np.all(r.weights >= 0)
    assert r.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert 1 < r.ess <= len(r.weights)
    # posterior mean of x₀ for weights 1/3 at −3 and 2/3 at +3 is +1 (up to truncation)
    assert np.sum(r.weights * r.samples[:, 0]) == pytest.approx(1.0, abs=0.4)
    equal = r.resample_equal(seed=1)
    assert equal.shape == (round(r.ess), 2)
    assert np.all((equal >= problem.lo) & (equal <= problem.hi))
    assert np.all(r.log_likelihood_birth[np.isfinite(r.log_likelihood_birth)]
                  <= r.log_likelihood[np.isfinite(r.log_likelihood_birth)])


def test_modes_are_separated_with_per_cluster_evidence() -> None:
    _, r = run_ggns("grid", 2, n_live=100)
    assert len(r.cluster_log_z) >= 3  # the nine equal modes were split (the 1/3-2/3 mixture's weak mode dies first)
    total = np.logaddexp.reduce(r.cluster_log_z[np.isfinite(r.cluster_log_z)])
    assert total == pytest.approx(r.log_z, abs=0.3)


def test_determinism_under_a_seed() -> None:
    _, a = run_ggns("gaussian", 3, n_live=40, seed=7)
    _, b = run_ggns("gaussian", 3, n_live=40, seed=7)
    _, c = run_ggns("gaussian", 3, n_live=40, seed=8)
    assert a.log_z == b.log_z and a.n_likelihood_evals == b.n_likelihood_evals
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.log_z != c.log_z


def test_counts_agree_with_the_meter_and_identity_prior() -> None:
    problem = make_problem("gaussian", 2)
    meter = LikelihoodMeter(problem)
    r = GGNS(meter.log_likelihood, 2, problem.prior_transform, n_live=30, progress=False).run()
    assert (r.n_likelihood_evals, r.n_gradient_evals) == (meter.n_likelihood, meter.n_gradient)
    # no prior transform: the unit cube is the physical space
    r2 = GGNS(lambda x: -0.5 * ((x - 0.5) ** 2).sum(-1) / 0.01, 2, n_live=30, progress=False).run()
    assert r2.log_z == pytest.approx(math.log(2 * math.pi * 0.01), abs=0.6)
    assert np.all((r2.samples >= 0) & (r2.samples <= 1))


# ---------------------------------------------------------------- error contract
def _ggns(fn, dim=2, **kw):
    return GGNS(fn, dim, n_live=20, progress=False, **kw)


@pytest.mark.parametrize("fn,match", [
    (lambda x: torch.full((x.shape[0],), float("nan"), dtype=x.dtype) + x.sum(-1), "NaN"),
    (lambda x: torch.full((x.shape[0],), float("inf"), dtype=x.dtype) + x.sum(-1), r"\+inf"),
    (lambda x: -(x**2).sum(-1, keepdim=True), r"must return shape \(1,\) for 1 points, got \(1, 1\)"),
])
def test_bad_likelihood_values_raise(fn, match) -> None:
    with pytest.raises(ValueError, match=match):
        _ggns(fn).run()


@pytest.mark.parametrize("fn", [
    lambda x: torch.as_tensor(-(x.detach().numpy() ** 2).sum(-1)),  # through NumPy
    lambda x: -(x.detach() ** 2).sum(-1),  # detached
    lambda x: -(x.numpy() ** 2).sum(-1),  # NumPy on a grad tensor
])
def test_non_differentiable_likelihood_raises(fn) -> None:
    with pytest.raises(TypeError, match="not differentiable"):
        _ggns(fn).run()


def test_non_tensor_output_raises() -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        _ggns(lambda x: [0.0] * x.shape[0]).run()


def test_nan_as_neg_inf_is_counted() -> None:
    def loglike(x):  # NaN on a quarter of the box, a Gaussian elsewhere
        value = -0.5 * ((x - 0.5) ** 2).sum(-1) / 0.02
        return torch.where(x[:, 0] > 0.75, torch.full_like(value, float("nan")), value)

    r = _ggns(loglike, nan_policy="neg_inf").run()
    assert r.n_nan > 0 and np.isfinite(r.log_z)


@pytest.mark.parametrize("dim,n_live", [(2, 4), (32, 20), (10, 10), (10, 10.0)])
def test_n_live_too_small_raises(dim: int, n_live: int) -> None:
    with pytest.raises(ValueError, match="too small"):
        GGNS(lambda x: -(x**2).sum(-1), dim, n_live=n_live)
    assert min_live_points(dim) > n_live


@pytest.mark.parametrize("n_live", [20.5, float("nan"), "20", True])
def test_n_live_must_be_whole(n_live) -> None:
    with pytest.raises(ValueError, match="n_live must be a whole number"):
        GGNS(lambda x: -(x**2).sum(-1), 2, n_live=n_live)
    assert GGNS(lambda x: -(x**2).sum(-1), 2, n_live=20.0).n_live == 20


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_gpu_is_a_one_line_value_error() -> None:
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA GPU") as err:
        GGNS(lambda x: -(x**2).sum(-1), 2, device="cuda")
    assert "\n" not in str(err.value)


def test_bad_options_raise() -> None:
    f = lambda x: -(x**2).sum(-1)
    with pytest.raises(ValueError, match="nan_policy"):
        GGNS(f, 2, nan_policy="ignore")
    with pytest.raises(ValueError, match="kernel"):
        GGNS(f, 2, kernel="nuts")
    with pytest.raises(ValueError, match="kernel"):
        GGNS(f, 2, kernel="gradns")  # renamed: "official"
    with pytest.raises(ValueError, match="dim"):
        GGNS(f, 0)
    with pytest.raises(ValueError, match="reflections"):
        GGNS(f, 2, kernel=HSSConfig(min_reflections=3, max_reflections=3))


# ---------------------------------------------------------------- parts
def test_evidence_tracker_constant_likelihood_is_exact() -> None:
    """L ≡ 1 with n points killed without replacement: Z = 1 exactly, zero variance."""
    ev = EvidenceTracker()
    for n in range(10, 0, -1):
        ev.kill(0, n, 0.0, last=n == 1)
    log_z, err = ev.log_evidence()
    assert log_z == pytest.approx(0.0, abs=1e-12) and err == pytest.approx(0.0, abs=1e-6)


def test_evidence_tracker_split_conserves_volume_and_evidence() -> None:
    ev = EvidenceTracker()
    for i in range(30):
        ev.kill(0, 100, -5.0 + 0.1 * i)
    x_before, z_before = ev.log_x_total, ev.log_zp[0]
    ev.split(0, [60, 40])
    assert ev.n_clusters == 2
    assert ev.log_x_total == pytest.approx(x_before, abs=1e-12)
    assert np.logaddexp(*ev.log_zp) == pytest.approx(z_before, abs=1e-12)


def _ball_problem(d: int, radius: float):
    def evaluate(u):
        u = u.detach().requires_grad_(True)
        logl = -((u - 0.5) ** 2).sum(-1)
        return logl.detach(), torch.autograd.grad(logl.sum(), u)[0]
    return evaluate, -radius**2


@pytest.mark.parametrize("kernel", ["galilean", "galilean-metric", "fixed"])
def test_kernels_leave_the_uniform_ball_invariant(kernel: str) -> None:
    """From uniform starts in a ball (d = 8), the outputs are uniform: rank (r/R)^d ~ U(0, 1).

    "galilean-metric" moves in a frame whitened by a random non-isotropic metric L Lᵀ: the target is
    unchanged (uniform in y = L⁻¹x is uniform in x), only the path geometry differs.
    """
    d, radius, b = 8, 0.3, 3000
    gen = torch.Generator().manual_seed(0)
    evaluate, logl_star = _ball_problem(d, radius)
    z = torch.randn(b, d, generator=gen, dtype=torch.float64)
    z = z / z.norm(dim=1, keepdim=True) * radius * torch.rand(b, 1, generator=gen, dtype=torch.float64) ** (1 / d)
    x0 = z + 0.5
    if kernel == "fixed":
        out = hamiltonian_slice_sampling(evaluate, x0, logl_star, 0.02, HSSConfig.fixed(), gen)
    else:
        chol = None
        if kernel == "galilean-metric":
            a = torch.randn(d, d, generator=gen, dtype=torch.float64)
            chol = torch.linalg.cholesky(a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)).expand(b, d, d)
        out = galilean_slice_sampling(evaluate, x0, evaluate(x0)[0], logl_star, 0.05, HSSConfig(), gen, chol)
        assert bool(out.ok.all())  # Galilean paths never end outside
        assert 0.05 < out.n_outside / out.n_steps < 0.8
    rank = (((out.x[out.ok] - 0.5).norm(dim=1) / radius) ** d).numpy()
    start_rank = (((x0[out.ok] - 0.5).norm(dim=1) / radius) ** d).numpy()
    assert out.ok.float().mean() > 0.7
    assert abs(rank.mean() - 0.5) < 0.02 and abs(np.mean(rank < 0.25) - 0.25) < 0.03
    if kernel != "fixed":
        assert np.all(((out.x - 0.5) ** 2).sum(-1).numpy() < radius**2)
        assert abs(np.corrcoef(rank, start_rank)[0, 1]) < 0.5


def test_official_kernel_stopping_rule_on_a_1d_contour() -> None:
    """Slice |u − ½| < 0.2 in 1-D, no momentum noise, dt = 0.15: a point at ½ bounces at steps 2, 6, 10;
    one at 0.62 moving right at steps 1, 5, 9, moving left at 3, 7, 11 (positions by hand, e.g.
    0.62 → 0.77 out, reflect, 0.62 → 0.47 → 0.32 → 0.17 out, …). The official kernel is synchronous:
    both points step until the slower one has bounced 3 times; the asynchronous variant stops each point
    at its own third bounce."""
    def evaluate(u):
        u = u.detach().requires_grad_(True)
        logl = -((u[:, 0] - 0.5) ** 2)
        return logl.detach(), torch.autograd.grad(logl.sum(), u)[0]

    x0 = torch.tensor([[0.5], [0.62]], dtype=torch.float64)
    for seed in range(4):
        right = float(torch.randn(2, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)[1, 0]) > 0
        slow_b = 9 if right else 11
        cfg = HSSConfig.official(sigma_velocity=0.0)
        out = hamiltonian_slice_sampling(evaluate, x0, -0.04, 0.15, cfg, torch.Generator().manual_seed(seed))
        assert out.n_steps == 2 * max(10, slow_b)
        assert out.n_reflections.tolist() == [3, 3]  # the faster point's 4th bounce (13 or 14) is never reached
        assert bool(out.ok.all()) and torch.all((out.x - 0.5).abs() < 0.2)
        asynchronous = HSSConfig.official(sigma_velocity=0.0, synchronous=False)
        out = hamiltonian_slice_sampling(evaluate, x0, -0.04, 0.15, asynchronous, torch.Generator().manual_seed(seed))
        assert out.n_steps == 10 + slow_b and out.n_reflections.tolist() == [3, 3]


def test_evidence_convention_matches_the_batch_process() -> None:
    """The recursions count a cluster's live points *before* each death (E[t] = n/(n+1)).

    Kill-half batches, exactly: n uniform X's, kill the k = n/2 largest, X* = the (n−k+1)-th smallest, so
    E[X*] = (n−k+1)/(n+1) and E[X*²] = (n−k+1)(n−k+2)/((n+1)(n+2)); the survivors and the k new points are
    again uniform on (0, X*), so after b batches E[X] = ((n−k+1)/(n+1))^b. A Monte-Carlo simulation of the
    process agrees with the tracker; the "after" count (n−1)/n per death gives ((n−k)/n)^b and fails.
    """
    n, k, batches, reps = 8, 4, 6, 200_000
    rng = np.random.default_rng(0)
    x_total = np.ones(reps)
    for _ in range(batches):  # the k-th largest of n uniforms on (0, X): X · Beta(n − k + 1, k)
        x_total *= rng.beta(n - k + 1, k, size=reps)
    mc_mean, mc_se = x_total.mean(), x_total.std() / math.sqrt(reps)
    mc_sq = (x_total**2).mean()

    def tracked(after: int) -> tuple[float, float]:
        ev = EvidenceTracker()
        for _ in range(batches):
            for j in range(k):
                ev.kill(0, n - j - after, -1.0)
        return math.exp(ev.log_x_total), math.exp(ev.log_xx[0, 0])

    before, before_sq = tracked(0)
    assert before == pytest.approx(((n - k + 1) / (n + 1)) ** batches, rel=1e-12)
    assert abs(before - mc_mean) < 4 * mc_se and before_sq == pytest.approx(mc_sq, rel=0.03)
    after, _ = tracked(1)
    assert after == pytest.approx(((n - k) / n) ** batches, rel=1e-12)
    assert abs(after - mc_mean) > 20 * mc_se


def test_dynesty_peer_on_the_same_meter() -> None:
    pytest.importorskip("dynesty")
    from agents.samplers import run_dynesty

    problem = make_problem("gaussian", 2)
    meter = LikelihoodMeter(problem)
    r = run_dynesty(meter.log_likelihood, 2, problem.prior_transform, n_live=50, seed=0)
    assert r.n_likelihood_evals == meter.n_likelihood and r.n_gradient_evals == meter.n_gradient == 0
    assert r.weights.sum() == pytest.approx(1.0)
    assert abs(r.log_z - problem.log_z) < 4 * math.sqrt(r.log_z_err**2 + r.information / 50)
    assert r.sampler == "dynesty-unif"


def test_nautilus_peer_on_the_same_meter() -> None:
    pytest.importorskip("nautilus")
    from agents.samplers import run_nautilus

    problem = make_problem("gaussian", 2)
    meter = LikelihoodMeter(problem)
    with warnings.catch_warnings():  # one small, briefly trained network keeps this a wiring test of seconds
        warnings.simplefilter("ignore")
        r = run_nautilus(meter.log_likelihood, 2, problem.prior_transform, n_live=50, seed=0, n_eff=200, n_like_max=800,
                         n_networks=1, neural_network_kwargs={"max_iter": 50})
    assert r.n_likelihood_evals == meter.n_likelihood <= 1000 and meter.n_gradient == 0  # wiring only: a short run
    assert r.weights.sum() == pytest.approx(1.0) and r.sampler == "nautilus" and np.isfinite(r.log_z)
