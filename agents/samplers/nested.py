"""GGNS — gradient-guided nested sampling (Lemos et al., ICML 2024; spec ../shared/specs/ggns.md).

Nested sampling in the unit cube u ∈ [0, 1]^d (x = prior_transform(u) is what the likelihood sees):

1. n_live points from the prior. While cheap (batch acceptance > ``rejection_fraction``), replacements
   are drawn by rejection from the prior (exact; gradNS warm-up, spec §2.2).
2. Each batch kills the n_live/2 lowest points one by one (evidence moments, ``evidence.py``),
   L* = ln L of the last killed, spawns n_live/2 replacements over clusters ∝ E[X_p], each started at
   a random surviving point of its cluster and moved by the gradient-reflected slice sampler
   (``hss.py``) with ln L > L*; failed paths are rerun with fresh momentum (spec §2.3).
3. Step lengths are adapted to a band of outside-step fractions (spec §4): per cluster, 30–60 % for the
   default kernel; gradNS's single dt, 5–15 %, ×0.9/×1.1, for ``kernel="official"``.
4. Every n_live accepted points, kNN clustering may split a cluster (spec §5, ``clustering.py``).
5. Stop when X·L* < tol · max over the run of X·L* (tol = 0.01; spec §6), or when every live point has
   the same ln L (a plateau: L is flat on the remaining volume, so a constant L gives ln Z = c exactly);
   then kill every remaining live point (all of them: gradNS leaves the highest out, spec §8.6).
6. Diagnostic: after each batch, r = mean ‖u_new − u_start‖² / (2 tr C_mode) (1 for independent draws
   from the start's mode); a run whose median r is below ``decorrelation_warning`` (0.3) carries a
   warning in ``result.warnings`` and emits a ``RuntimeWarning`` — ln Z may then be wrong.

Kernels (``hss.py``): ``"adaptive"`` (default) moves in the frame whitened by the live set's covariance
with exact Galilean reflections, so its paths scale with the live set's extent along every direction
(issue 21: the fixed 20-step path of ``"fixed"`` was −3 … −31 nats off on a rotated Gaussian with
condition number 10³); ``"official"`` is gradNS's kernel and batch loop.

Paper/code discrepancies (spec §8) and what we chose (defaults; arguments give the other way):

1. termination — X·L* of the last batch (code) with tol = 0.01 (paper); ``termination="paper"`` uses
   X·L_max(live), which we saw stop a d = 32 run at half its information when one lucky live point set
   the history maximum early.
2. momentum noise — isotropic (ours) in the default kernel; gradNS's v ⊙ (1 + σ r), r a unit vector, in
   ``kernel="official"`` (``HSSConfig(noise="paper")`` gives the paper's per-component noise).
3. initial velocity — a unit vector (code): with adaptive dt only the length scale differs.
4. store condition — the official kernel stores once the batch minimum of bounces exceeds
   ``min_reflections`` (code, strict ``>``).
5. posterior weights — pre-shrink X, so Σ w L = Z exactly.
6. the last live point is added (all of them are killed at the end).
7. n_live default 200 (paper); the prior-rejection warm-up (code) is kept, ``rejection_fraction=0``
   switches it off.

Beyond spec §8: the evidence recursions count a cluster's live points *before* the death
(``evidence.py``; gradNS counts after, which biases ln Z by about −D_KL/(n_live ln 2) in its kill-half
batches), for every kernel, including ``"official"``.

    >>> import torch
    >>> from agents.samplers import GGNS
    >>> ggns = GGNS(lambda x: -0.5 * (x**2).sum(-1), dim=2, prior_transform=lambda u: 10 * u - 5, n_live=50, progress=False)
    >>> result = ggns.run()     # result.log_z ≈ ln(2π/100) = −2.77
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.samplers.clustering import knn_components
from agents.samplers.evidence import EvidenceTracker
from agents.samplers.hss import HSSConfig, galilean_slice_sampling, hamiltonian_slice_sampling, shrunk_covariance
from agents.samplers.result import NestedSamplingResult

Tensor = torch.Tensor


KERNELS = ("adaptive", "fixed", "official")


def min_live_points(dim: int) -> int:
    """The smallest n_live GGNS accepts: d + 1 (a live set spanning the space), and at least 8."""
    return max(8, dim + 1)


class GGNS:
    """Gradient-guided nested sampling on the unit cube (module docstring has the algorithm).

    Args:
        log_likelihood: torch function, physical points (n, d_x) → ln L (n,), differentiable by autograd.
        dim: dimension d of the unit cube.
        prior_transform: torch map from the unit cube (n, d) to physical space; identity when None.
            Must be differentiable (gradients are taken with respect to u).
        n_live: live points (paper 200); at least :func:`min_live_points`.
        seed: seed of the sampler's torch generator (same seed, same device ⇒ same run).
        device, dtype: where and in what precision the points live (float64 default).
        tol: termination tolerance (paper 0.01). termination: ``"code"`` (X·L*) or ``"paper"`` (X·L_max).
        kernel: ``"adaptive"`` (default: preconditioned fixed-path HSS), ``"fixed"`` (the same without the
            metric, an ablation), ``"official"`` (gradNS's kernel and step rule) or an ``HSSConfig`` (hss.py).
        dt_initial: initial step length (unit-cube units; in the whitened frame for the adaptive kernel);
            None: 0.1 × the live points' RMS distance from their mean when HSS takes over, or for the
            official kernel gradNS's 0.1 physical units (converted with the prior transform's scale).
        predictive_dt: after each batch scale dt by (X_new/X_old)^{1/d}, the contour's expected linear
            shrinkage, before the adaptation checks it (ours; unpreconditioned "jump" kernels only).
        target_outside: band of outside-step fractions the step size is adapted to (spec §4: 5–15 %);
            None: 30–60 % for Galilean kernels (the adaptive default; measured to decorrelate far better
            on ill-conditioned targets), 5–15 % otherwise. The official kernel always uses gradNS's band.
        max_adapt: most reruns of one batch for step-size adaptation.
        clustering: kNN mode separation with per-cluster evidences.
        rejection_fraction: prior-rejection warm-up while batch acceptance exceeds it (0 disables).
        nan_policy: ``"raise"`` (a NaN log-likelihood is an error) or ``"neg_inf"`` (NaN counts as
            ln L = −∞; counted in ``result.n_nan``).
        max_evals: stop (``converged=False``) after this many likelihood evaluations.
        decorrelation_warning: warn (``result.warnings`` and a ``RuntimeWarning``) when the run's
            decorrelation ratio (median over batches of the mean of ‖u_new − u_start‖² / 2 tr C_mode; 1 for
            independent draws; C_mode: the covariance of the start's cluster or kNN component) falls below this.
        progress: show a tqdm bar with ln Z and the remaining-evidence estimate Δln Z.
    """

    def __init__(self, log_likelihood: Callable[[Tensor], Tensor], dim: int,
                 prior_transform: Callable[[Tensor], Tensor] | None = None, n_live: int = 200, seed: int = 0,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64, *, tol: float = 0.01,
                 termination: str = "code", kernel: str | HSSConfig = "adaptive", dt_initial: float | None = None,
                 predictive_dt: bool = True, target_outside: tuple[float, float] | None = None, max_adapt: int = 10,
                 clustering: bool = True, rejection_fraction: float = 0.1, nan_policy: str = "raise",
                 max_evals: int | None = None, decorrelation_warning: float = 0.3, progress: bool = True):
        if not callable(log_likelihood):
            raise TypeError("log_likelihood must be callable: torch (n, d) -> (n,)")
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if isinstance(n_live, bool) or not isinstance(n_live, (int, float, np.integer, np.floating)) \
                or not math.isfinite(n_live) or n_live != int(n_live):
            raise ValueError(f"n_live must be a whole number of live points, got {n_live!r}")
        if n_live < min_live_points(int(dim)):
            raise ValueError(f"n_live={n_live} is too small for dim={dim}: GGNS needs at least "
                             f"max(8, dim + 1) = {min_live_points(int(dim))} live points (the paper uses 200)")
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} was asked for but torch sees no CUDA GPU; use device='cpu'")
        if dt_initial is not None and not (math.isfinite(dt_initial) and dt_initial > 0):
            raise ValueError(f"dt_initial must be a positive finite step length or None, got {dt_initial!r}")
        if not (math.isfinite(decorrelation_warning) and decorrelation_warning >= 0):
            raise ValueError(f"decorrelation_warning must be a finite number >= 0, got {decorrelation_warning!r}")
        if not (math.isfinite(tol) and 0 < tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {tol}")
        if termination not in ("paper", "code"):
            raise ValueError(f"termination must be 'paper' or 'code', got {termination!r}")
        if nan_policy not in ("raise", "neg_inf"):
            raise ValueError(f"nan_policy must be 'raise' or 'neg_inf', got {nan_policy!r}")
        if target_outside is None:  # Galilean steps never rest outside: a larger outside fraction pays
            galilean = kernel.galilean if isinstance(kernel, HSSConfig) else kernel == "adaptive"
            target_outside = (0.3, 0.6) if galilean else (0.05, 0.15)
        lo, hi = target_outside
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"target_outside must be 0 <= lo < hi <= 1, got {target_outside}")
        if isinstance(kernel, str):
            if kernel not in KERNELS:
                raise ValueError(f"kernel must be one of {', '.join(map(repr, KERNELS))} or an HSSConfig, got {kernel!r}")
            kernel_name, kernel = kernel, getattr(HSSConfig, kernel)()
        elif isinstance(kernel, HSSConfig):
            kernel_name = "custom"
        else:
            raise TypeError(f"kernel must be one of {', '.join(map(repr, KERNELS))} or an HSSConfig, got {kernel!r}")
        kernel.validate()
        self.log_likelihood, self.dim = log_likelihood, int(dim)
        self.prior_transform = prior_transform if prior_transform is not None else (lambda u: u)
        self.n_live, self.seed = int(n_live), int(seed)
        self.device, self.dtype = device, dtype
        self.decorrelation_warning = float(decorrelation_warning)
        self.max_official_calls = 10_000
        self.tol, self.termination, self.kernel, self.kernel_name = tol, termination, kernel, kernel_name
        self.kernel_base = kernel  # the configured kernel; run() may lengthen its paths (adapt_length)
        self.dt_initial, self.target_outside, self.max_adapt = dt_initial, (lo, hi), max_adapt
        self.predictive_dt = predictive_dt
        self.clustering, self.rejection_fraction = clustering, rejection_fraction
        self.nan_policy, self.max_evals, self.progress = nan_policy, max_evals, progress

    # ------------------------------------------------------------------ likelihood calls (validated, counted)
    def _evaluate(self, u: Tensor, grad: bool) -> tuple[Tensor, Tensor | None]:
        """ln L(T(u)) (and ∇_u) with the input checks of the error contract; counts every row."""
        n = u.shape[0]
        u = u.detach().requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            try:
                logl = self.log_likelihood(self.prior_transform(u))
            except RuntimeError as err:
                if grad and "requires grad" in str(err):
                    raise TypeError(f"log_likelihood is not differentiable: it leaves torch autograd ({err}); "
                                    "write it with torch operations") from err
                raise
            logl = self._check_output(logl, u)
            gradient = None
            if grad:
                if not logl.requires_grad:
                    raise TypeError("log_likelihood is not differentiable: its output does not depend on its input "
                                    "through torch autograd (no grad_fn); write it with torch operations")
                try:
                    (gradient,) = torch.autograd.grad(logl.sum(), u)
                except RuntimeError as err:
                    raise TypeError(f"log_likelihood is not differentiable with respect to its input: {err}") from err
        self.n_like += n
        self.n_grad += n if grad else 0
        return logl.detach(), None if gradient is None else gradient.detach()

    def _check_output(self, logl: object, u: Tensor) -> Tensor:
        n = u.shape[0]
        if not isinstance(logl, torch.Tensor):
            raise TypeError(f"log_likelihood must return a torch.Tensor of shape ({n},), got {type(logl).__name__}")
        if logl.shape != (n,):
            raise ValueError(f"log_likelihood must return shape ({n},) for {n} points, got {tuple(logl.shape)}")
        if not logl.is_floating_point():
            raise TypeError(f"log_likelihood must return floating-point values, got {logl.dtype}")
        logl = logl.to(self.dtype)
        bad_inf = torch.isposinf(logl)
        if bad_inf.any():
            i = int(bad_inf.nonzero()[0])
            raise ValueError(f"log_likelihood returned +inf at {int(bad_inf.sum())} of {n} points "
                             f"(first at u={u[i].tolist()}); the likelihood must be bounded above")
        nan = torch.isnan(logl)
        if nan.any():
            if self.nan_policy == "raise":
                i = int(nan.nonzero()[0])
                raise ValueError(f"log_likelihood returned NaN at {int(nan.sum())} of {n} points (first at "
                                 f"u={u[i].tolist()}); fix it or pass nan_policy='neg_inf' to count NaN as ln L = -inf")
            self.n_nan += int(nan.sum())
            logl = torch.where(nan, torch.full_like(logl, -torch.inf), logl)
        return logl

    def _evaluate_with_gradient(self, u: Tensor) -> tuple[Tensor, Tensor]:
        return self._evaluate(u, grad=True)  # type: ignore[return-value]

    def _physical_scale(self) -> float:
        """Physical length per unit-cube length at the cube's centre, ‖T(½ + h1) − T(½)‖/(h√d) (a box's width)."""
        h = 1e-3
        centre = torch.full((1, self.dim), 0.5, device=self.device, dtype=self.dtype)
        with torch.no_grad():
            step = self.prior_transform(centre + h) - self.prior_transform(centre)
        scale = float(step.norm()) / (h * math.sqrt(self.dim))
        return scale if math.isfinite(scale) and scale > 0 else 1.0

    # ------------------------------------------------------------------ replacements
    def _rejection(self, k: int, logl_star: float) -> tuple[Tensor, Tensor, float]:
        """k exact draws from the prior with ln L > L*, by rejection; returns them and the acceptance."""
        got_u, got_l, tried, accepted, rate = [], [], 0, 0, 0.5
        while accepted < k:
            m = int(min(max(1.2 * (k - accepted) / max(rate, self.rejection_fraction), 16), 64 * k))
            u = torch.rand(m, self.dim, generator=self.gen, device=self.device, dtype=self.dtype)
            logl, _ = self._evaluate(u, grad=False)
            keep = logl > logl_star
            got_u.append(u[keep]), got_l.append(logl[keep])
            tried, accepted = tried + m, accepted + int(keep.sum())
            rate = max(accepted / tried, 1e-3)
            if accepted / tried < self.rejection_fraction / 10 and accepted < k:
                return torch.cat(got_u)[:k], torch.cat(got_l)[:k], accepted / tried  # hand over to HSS
        return torch.cat(got_u)[:k], torch.cat(got_l)[:k], accepted / tried

    def _move(self, all_u: Tensor, all_l: Tensor, starts: Tensor, logl_star: float, chol: Tensor | None,
              dt: float | Tensor):
        if self.kernel.galilean:
            return galilean_slice_sampling(self._evaluate_with_gradient, all_u[starts], all_l[starts], logl_star,
                                           dt, self.kernel, self.gen, chol)
        return hamiltonian_slice_sampling(self._evaluate_with_gradient, all_u[starts], logl_star, dt,
                                          self.kernel, self.gen, chol)

    def _hss(self, all_u: Tensor, all_l: Tensor, starts: Tensor, clusters: Tensor, draw: Callable[[Tensor], Tensor],
             logl_star: float, metric: Callable[[Tensor], Tensor | None]) -> tuple[Tensor, Tensor, Tensor]:
        """Replacements from the points `starts` (indices into `all_u`) with ln L > L*, adapting dt (spec §4).

        ``dt_rule="jump"``: each cluster has its own dt (modes differ in size; in the whitened frame too when
        a cluster still holds several modes); a cluster whose outside-step fraction leaves the target band
        reruns its points with a dt moved toward the band's middle (×0.5 … ×2); failed points then restart
        with fresh momentum from a
        fresh start ``draw(slots)`` of the same cluster (retrying the same start would weight starts by
        their failure rate), or from their own start (``restart_same_start``).
        ``dt_rule="official"`` (gradNS ``find_new_sample_batch``): every call on the still-active points
        with at least max(2, B/2) of them checks the outside fraction; > 0.15 ⇒ dt ×0.9, < 0.05 ⇒ dt ×1.1
        (clipped to [1e-5, 10] physical units) and the whole batch reruns; otherwise the failed points
        rerun from their own starts. `metric(starts)` gives the metric factors for those start points.
        Returns the new points, their ln L and the starts finally used.
        """
        if self.kernel.dt_rule == "official":
            return self._hss_official(all_u, starts, logl_star)
        lo, hi = self.target_outside
        for c in torch.unique(clusters).tolist():
            self.dts.setdefault(c, self.dt)
        dts = torch.tensor([self.dts[c] for c in clusters.tolist()], device=self.device, dtype=self.dtype)
        x, logl = all_u[starts].clone(), all_l[starts].clone()
        ok = torch.zeros(len(starts), dtype=torch.bool, device=self.device)
        rerun = torch.arange(len(starts), device=self.device)
        for attempt in range(self.max_adapt + 1):
            out = self._move(all_u, all_l, starts[rerun], logl_star, metric(starts[rerun]), dts[rerun])
            x[rerun], logl[rerun], ok[rerun] = out.x, out.logl, out.ok
            self.outside_fractions.append(out.n_outside / max(out.n_steps, 1))
            again = []
            for c in torch.unique(clusters[rerun]).tolist():  # each cluster adapts its own dt (modes differ in size)
                mine = clusters[rerun] == c
                frac = float(out.outside_per_point[mine].sum() / out.steps_per_point[mine].sum().clamp_min(1))
                dt = self.dts[c]
                if lo <= frac <= hi or (frac < lo and dt >= self.dt_max) or (frac > hi and dt <= 1e-9):
                    continue
                self.dts[c] = float(np.clip(dt * np.clip(0.5 * (lo + hi) / max(frac, 1e-3), 0.5, 2.0), 1e-9, self.dt_max))
                dts[clusters == c] = self.dts[c]
                if int(mine.sum()) >= 4 or attempt == 0:  # a handful of points: too noisy to rerun for
                    again.append(rerun[mine])
            if not again or attempt == self.max_adapt:
                break
            rerun = torch.cat(again)
        self.dt = float(np.median(list(self.dts.values())))
        for _ in range(100):
            if bool(ok.all()):
                return x, logl, starts
            bad = (~ok).nonzero().squeeze(1)
            if not self.kernel.restart_same_start:
                starts[bad] = draw(bad)
            redo = self._move(all_u, all_l, starts[bad], logl_star, metric(starts[bad]), dts[bad])
            x[bad], logl[bad], ok[bad] = redo.x, redo.logl, redo.ok
        raise RuntimeError(f"GGNS could not move {int((~ok).sum())} points above ln L* = {logl_star:.6g} after 100 "
                           f"restarts (dt = {self.dt:.3g}); the likelihood may be flat, discontinuous or too narrow")

    def _hss_official(self, all_u: Tensor, starts: Tensor, logl_star: float) -> tuple[Tensor, Tensor, Tensor]:
        """gradNS's batch loop: ×0.9/×1.1 step rule, whole-batch reruns, failures restart from their own start."""
        b = len(starts)
        x, logl = all_u[starts].clone(), torch.full((b,), -torch.inf, device=self.device, dtype=self.dtype)
        active = torch.ones(b, dtype=torch.bool, device=self.device)
        lo_dt, hi_dt = 1e-5 / self.physical_scale, 10.0 / self.physical_scale
        for _ in range(self.max_official_calls):
            idx = active.nonzero().squeeze(1)
            out = hamiltonian_slice_sampling(self._evaluate_with_gradient, all_u[starts[idx]], logl_star, self.dt,
                                             self.kernel, self.gen)
            frac = out.n_outside / max(out.n_steps, 1)
            self.outside_fractions.append(frac)
            adapt = len(idx) >= max(2, b // 2)
            if adapt and frac > 0.15:
                self.dt = float(np.clip(0.9 * self.dt, lo_dt, hi_dt))
                active[:] = True
            elif adapt and frac < 0.05:
                self.dt = float(np.clip(1.1 * self.dt, lo_dt, hi_dt))
                active[:] = True
            else:
                x[idx], logl[idx] = out.x, out.logl
                active[idx] = ~out.ok
            if not bool(active.any()):
                return x, logl, starts
        raise RuntimeError(f"GGNS (official kernel) could not move {int(active.sum())} points above ln L* = "
                           f"{logl_star:.6g} after {self.max_official_calls} kernel calls (dt = {self.dt:.3g})")

    # ------------------------------------------------------------------ main loop
    def _kill(self, order: Tensor, all_l: Tensor, all_c: Tensor, counts: np.ndarray) -> None:
        """Kill points `order` (ascending ln L) one by one, updating the evidence and the dead record."""
        for i, logl, p in zip(order.tolist(), all_l[order].tolist(), all_c[order].tolist()):
            self.dead_log_w.append(self.evidence.kill(p, int(counts[p]), logl, last=bool(counts[p] == 1)))
            self.dead_index.append(i)
            counts[p] -= 1

    def run(self) -> NestedSamplingResult:
        """Run GGNS to termination and return the evidence, posterior samples and call counts."""
        start = time.perf_counter()
        self.gen = torch.Generator(device=self.device).manual_seed(self.seed)
        self.n_like = self.n_grad = self.n_nan = 0
        self.dt, self.outside_fractions, self.decorrelations, self.dts = self.dt_initial, [], [], {}
        self.kernel, self.decorrelation = self.kernel_base, math.nan
        self.physical_scale = self._physical_scale()
        if self.dt is None and self.kernel.dt_rule == "official":
            self.dt = 0.1 / self.physical_scale
        self.dt_max = 2.0 * math.sqrt(self.dim + 2) if self.kernel.precondition else 1.0
        self.evidence = EvidenceTracker()
        self.dead_log_w, self.dead_index = [], []
        opts = {"device": self.device, "dtype": self.dtype}

        u = torch.rand(self.n_live, self.dim, generator=self.gen, **opts)
        self._evaluate(u[:1], grad=True)  # probe: fail early on a non-differentiable likelihood
        logl, _ = self._evaluate(u, grad=False)
        birth = torch.full((self.n_live,), -torch.inf, **opts)
        labels = torch.zeros(self.n_live, dtype=torch.long, device=self.device)
        # every point ever live is stored once; live/dead are index sets into these stores
        store_u, store_l, store_b, store_c = [u], [logl], [birth], [labels]
        offset = self.n_live
        live = torch.arange(self.n_live, device=self.device)
        rejection = self.rejection_fraction > 0
        since_clustering, max_log_xl, iteration, converged = 0, -math.inf, 0, True
        k = self.n_live // 2
        bar = tqdm(desc="GGNS", disable=not self.progress, dynamic_ncols=True, leave=False)
        while True:
            iteration += 1
            all_u, all_l, all_c = torch.cat(store_u), torch.cat(store_l), torch.cat(store_c)
            if bool(all_l[live].max() == all_l[live].min()):  # a plateau: L is flat on the remaining volume
                break
            order = live[torch.argsort(all_l[live], stable=True)]
            killed, live = order[:k], order[k:]
            counts = np.bincount(all_c[order].cpu().numpy(), minlength=self.evidence.n_clusters)
            log_x_before = self.evidence.log_x_total
            self._kill(killed, all_l, all_c, counts)
            logl_star = float(all_l[killed[-1]])
            if self.dt is not None and self.predictive_dt and not self.kernel.precondition \
                    and self.kernel.dt_rule == "jump":
                shrink = math.exp((self.evidence.log_x_total - log_x_before) / self.dim)
                self.dt = float(np.clip(self.dt * shrink, 1e-9, 1.0))
                self.dts = {c: float(np.clip(dt * shrink, 1e-9, 1.0)) for c, dt in self.dts.items()}

            if rejection:
                new_u, new_l, rate = self._rejection(k, logl_star)
                new_c = torch.zeros(len(new_u), dtype=torch.long, device=self.device)
                rejection = rate > self.rejection_fraction and len(new_u) == k
                if len(new_u) < k:  # rejection ran dry: top up with HSS from the survivors
                    extra_u, extra_l, extra_c = self._spawn(k - len(new_u), live, all_u, all_l, all_c, logl_star)
                    new_u, new_l, new_c = torch.cat([new_u, extra_u]), torch.cat([new_l, extra_l]), torch.cat([new_c, extra_c])
            else:
                new_u, new_l, new_c = self._spawn(k, live, all_u, all_l, all_c, logl_star)
                since_clustering += k
            store_u.append(new_u), store_l.append(new_l), store_c.append(new_c)
            store_b.append(torch.full((k,), logl_star, **opts))
            live = torch.cat([live, torch.arange(offset, offset + k, device=self.device)])
            offset += k

            if self.clustering and since_clustering >= self.n_live:
                since_clustering = 0
                self._cluster(live, torch.cat(store_u), store_c)

            # termination (spec §6) and the remaining-evidence estimate for the bar
            live_l = torch.cat(store_l)[live]
            log_x = self.evidence.log_x_total
            log_xl = log_x + (float(live_l.max()) if self.termination == "paper" else logl_star)
            max_log_xl = max(max_log_xl, log_xl)
            log_z_live = log_x + float(torch.logsumexp(live_l, 0)) - math.log(len(live_l))
            dlogz = float(np.logaddexp(self.evidence.log_z, log_z_live) - self.evidence.log_z)
            bar.update(1)
            bar.set_postfix(lnZ=f"{self.evidence.log_evidence()[0]:.3f}", dlnZ=f"{dlogz:.3g}", dt=f"{self.dt or 0:.2g}",
                            calls=self.n_like + self.n_grad)
            if log_xl - max_log_xl < math.log(self.tol):
                break
            if self.max_evals is not None and self.n_like >= self.max_evals:
                converged = False
                break
        bar.close()
        warnings_ = self._diagnose()

        # wrap-up: kill every remaining live point, lowest first (the last one included)
        all_u, all_l, all_c, all_b = torch.cat(store_u), torch.cat(store_l), torch.cat(store_c), torch.cat(store_b)
        order = live[torch.argsort(all_l[live], stable=True)]
        counts = np.bincount(all_c[order].cpu().numpy(), minlength=self.evidence.n_clusters)
        self._kill(order, all_l, all_c, counts)
        return self._result(all_u, all_l, all_b, all_c, iteration, converged, time.perf_counter() - start, warnings_)

    def _spawn(self, k: int, live: Tensor, all_u: Tensor, all_l: Tensor, all_c: Tensor,
               logl_star: float) -> tuple[Tensor, Tensor, Tensor]:
        """k replacements: clusters drawn ∝ E[X_p], starts uniform among the cluster's survivors, then HSS."""
        live_c = all_c[live]
        present = torch.unique(live_c)
        if len(present) == 1:
            chosen = present.repeat(k)
        else:
            w = torch.as_tensor(np.exp(self.evidence.log_x - self.evidence.log_x.max()), device=self.device)
            w_present = w[present].to(torch.float64)
            chosen = present[torch.multinomial(w_present, k, replacement=True, generator=self.gen)]
        members = {c: live[live_c == c] for c in torch.unique(chosen).tolist()}

        def draw(slots: Tensor) -> Tensor:  # a uniformly random surviving point of each slot's cluster
            picked = torch.empty(len(slots), dtype=torch.long, device=self.device)
            for c in torch.unique(chosen[slots]).tolist():
                mask = chosen[slots] == c
                pool = members[c]
                picked[mask] = pool[torch.randint(len(pool), (int(mask.sum()),), generator=self.gen,
                                                  device=self.device)]
            return picked

        # each survivor's mode (its cluster, or a kNN component of it): the metric and the diagnostic's scale
        row, chols, traces = self._local_geometry(all_u, live, members)
        metric = (lambda idx: chols[row[idx]]) if self.kernel.precondition else (lambda idx: None)
        if self.dt is None:  # HSS takes over: a step of a tenth of the live set's RMS radius
            if self.kernel.precondition:
                self.dt = 0.1 * math.sqrt(self.dim)  # the whitened live set has unit covariance
            else:
                spread = all_u[live] - all_u[live].mean(dim=0)
                self.dt = float(0.1 * spread.pow(2).sum(dim=1).mean().sqrt().clamp(1e-6, 1.0))
        new_u, new_l, starts = self._hss(all_u, all_l, draw(torch.arange(k, device=self.device)), chosen, draw,
                                         logl_star, metric)
        moved = (new_u - all_u[starts]).pow(2).sum(dim=1)
        ratio = float((moved / (2.0 * traces[row[starts]]).clamp_min(1e-300)).mean())
        self.decorrelations.append(ratio)
        self._adapt_length(ratio)
        return new_u, new_l, chosen

    def _adapt_length(self, ratio: float) -> None:
        """Path length follows the geometry: ×2 while a batch's decorrelation ratio < 0.5 (up to 4× the
        configured n_steps), ÷2 once it exceeds 0.8 (not below it)."""
        base = self.kernel_base.n_steps
        if not self.kernel.adapt_length or base is None:
            return
        n = self.kernel.n_steps
        n = min(2 * n, 4 * base) if ratio < 0.5 else max(n // 2, base) if ratio > 0.8 else n
        if n != self.kernel.n_steps:
            self.kernel = dataclasses.replace(self.kernel, n_steps=n)

    def _local_geometry(self, all_u: Tensor, live: Tensor, members: dict) -> tuple[Tensor, Tensor | None, Tensor]:
        """Per survivor: the Cholesky factor of its mode's shrunk covariance and that covariance's trace.

        A mode is the survivor's cluster or, when the cluster's points form separate kNN components (modes
        not yet split off by the clustering step), its component. Returns (row of each stored point into the
        per-survivor arrays, factors (n_s, d, d) or None without preconditioning, traces (n_s,)).
        """
        row = torch.full((len(all_u),), -1, dtype=torch.long, device=self.device)
        pools = [pool for pool in members.values()]
        order = torch.cat(pools)
        row[order] = torch.arange(len(order), device=self.device)
        chols = torch.zeros(len(order), self.dim, self.dim, device=self.device, dtype=self.dtype) \
            if self.kernel.precondition else None
        traces = torch.zeros(len(order), device=self.device, dtype=self.dtype)
        for pool in pools:
            comp = knn_components(all_u[pool], min_size=2 * self.dim)
            parts = [pool] if comp is None else [pool[torch.as_tensor(comp == j, device=self.device)]
                                                  for j in np.unique(comp)]
            for part in parts:
                cov, trace = shrunk_covariance(all_u[part] if len(part) > 2 else all_u[live])
                traces[row[part]] = trace
                if chols is not None:
                    chols[row[part]] = torch.linalg.cholesky(cov)
        return row, chols, traces

    def _cluster(self, live: Tensor, all_u: Tensor, store_c: list[Tensor]) -> None:
        """Split clusters whose live points form separate kNN components (spec §5); relabels in place."""
        all_c = torch.cat(store_c)
        min_points = max(self.n_live // self.dim, 2)
        for p in torch.unique(all_c[live]).tolist():
            members = live[all_c[live] == p]
            if len(members) < min_points:
                continue
            comp = knn_components(all_u[members], min_size=2 * self.dim)
            if comp is None:
                continue
            sizes = np.bincount(comp).tolist()
            new_ids = self.evidence.split(p, sizes)
            for child in new_ids[1:]:  # children start from their parent's step length
                if p in self.dts:
                    self.dts[child] = self.dts[p]
            relabel = torch.as_tensor(np.asarray(new_ids)[comp], device=self.device)
            all_c[members] = relabel
        sizes = [len(c) for c in store_c]
        store_c[:] = list(torch.split(all_c, sizes))

    def _diagnose(self) -> list[str]:
        """The decorrelation check: a warning (also emitted as a RuntimeWarning) when new points stay near their starts."""
        if not self.decorrelations:
            return []
        ratio = float(np.median(self.decorrelations))
        self.decorrelation = ratio
        if ratio >= self.decorrelation_warning:
            return []
        message = (f"GGNS: poor decorrelation — new live points moved only {ratio:.2f} of the expected squared "
                   f"distance of independent draws (threshold {self.decorrelation_warning:g}); ln Z and its error "
                   "may be wrong: use kernel='adaptive', more n_steps, or check the posterior's geometry")
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return [message]

    def _result(self, all_u: Tensor, all_l: Tensor, all_b: Tensor, all_c: Tensor, iterations: int,
                converged: bool, wall: float, warnings_: list[str]) -> NestedSamplingResult:
        idx = torch.as_tensor(self.dead_index, device=self.device)
        log_w = np.asarray(self.dead_log_w)
        logl = all_l[idx].cpu().numpy()
        log_p = log_w + logl
        log_p -= np.logaddexp.reduce(log_p)  # equals ln E[Z] up to rounding: the weights are Z's increments
        weights = np.exp(log_p)
        with torch.no_grad():
            samples = self.prior_transform(all_u[idx]).cpu().numpy()
        log_z, log_z_err = self.evidence.log_evidence()
        finite = weights > 0
        info = float(np.sum(weights[finite] * logl[finite]) - self.evidence.log_z)
        cz, cz_err = self.evidence.cluster_log_evidence()
        return NestedSamplingResult(
            log_z=log_z, log_z_err=log_z_err, samples=samples, weights=weights, log_likelihood=logl,
            log_likelihood_birth=all_b[idx].cpu().numpy(), n_likelihood_evals=self.n_like,
            n_gradient_evals=self.n_grad, n_iterations=iterations, information=info, cluster_log_z=cz,
            cluster_log_z_err=cz_err, labels=all_c[idx].cpu().numpy(), n_nan=self.n_nan, converged=converged,
            wall_time=wall, sampler=f"ggns-{self.kernel_name}",
            decorrelation=self.decorrelation, warnings=warnings_)
