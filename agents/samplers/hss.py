"""Batched Hamiltonian (reflective) slice sampling in the unit cube, spec §3 — the GGNS kernel.

Every point of a batch moves in a straight line, x ← x + dt·L w, where w is a unit vector and L a
lower-triangular factor of a metric C = L Lᵀ (identity: plain unit speed). Equivalently the point moves
at unit speed in the whitened frame y = L⁻¹ x. A step that lands *outside* the slice
{u ∈ [0, 1]^d : ln L(u) > L*} reflects w specularly in that frame at the outside point itself (no
pull-back, as in gradNS),

    w ← w − 2 (w·n) n,   n = Lᵀ∇ ln L / ‖Lᵀ∇ ln L‖,

and a step inside perturbs w with momentum noise. Uniform on the slice in y is uniform in x (a linear
map), so any fixed positive-definite C leaves the kernel's target unchanged; it only changes how far a
path travels along each direction. Presets (``HSSConfig``):

* ``HSSConfig.adaptive()`` — the default. C is the (Ledoit–Wolf shrunk) covariance of the survivors of
  the start's mode (its cluster, or a kNN component of it), so a step covers the live set's extent along
  the direction of motion whatever its conditioning. Steps are Galilean (Skilling 2012; see
  :func:`galilean_slice_sampling`): a point never rests outside the slice, so the state after
  ``n_steps`` steps is always a valid new point (no selection on where a path ends); isotropic noise
  w ← unit(w + σ_v ε/√d) (leaves the uniform direction law invariant); the box walls reflect like the
  contour. The caller adapts dt per cluster to 30–60 % outside trials and doubles ``n_steps`` (up to
  4×) while the new points stay too close to their starts (``adapt_length``).
* ``HSSConfig.fixed()`` — our earlier default (issue 3): C = I, resting at outside points, the prior
  box folded exactly, the last state returned only if inside (else a fresh start), 20 steps, 5–15 %
  outside. On a rotated Gaussian with condition number 10³ its step adapts to the narrow direction and
  20 steps move ~0.1 along a unit-scale axis: ln Z off by −3 to −31 nats (issue 21). Kept as an ablation.
* ``HSSConfig.official()`` — gradNS ``HamiltonianNS.hamiltonian_slice_sampling`` (spec §3): unit initial
  velocity; outside the box the inward wall normal; noise w ⊙ (1 + σ_v r) with r a random unit vector
  (not renormalised); likelihood bounces counted; **synchronous**: the batch steps until its slowest
  unpruned point has bounced ``max_reflections`` times (or 100·max_reflections steps), in-slice states
  are stored once the batch minimum exceeds ``min_reflections``, and each point returns one stored state
  uniformly at random; a point outside 3 steps in a row is pruned; if storing never began, a point with
  ≥ ``min_reflections`` bounces returns its last state. The caller restarts failures from their own
  start and adapts dt by ×0.9/×1.1 (``dt_rule="official"``, nested.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Evaluate = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class HSSConfig:
    """Kernel settings; the defaults are the adaptive (preconditioned, fixed-path) kernel."""

    n_steps: int | None = 20  # fixed path length; None: stop at max_reflections bounces
    sigma_velocity: float = 0.5  # momentum noise δ_p
    noise: str = "isotropic"  # "isotropic" | "paper" (unit(w ⊙ (1 + σ ε))) | "code" (w ⊙ (1 + σ r), r a unit vector)
    precondition: bool = True  # move in the frame whitened by the live set's covariance
    mirror_box: bool = True  # exact billiard at the box walls; False: reflect off the wall normal (gradNS)
    keep_last: bool = True  # return the last state (with n_steps); False: uniform pick after min_reflections
    restart_same_start: bool = False  # a failed point restarts from its own start (gradNS) or a fresh one
    min_reflections: int = 1
    max_reflections: int = 3
    max_outside: int | None = None  # prune after this many consecutive outside steps (gradNS: 3)
    max_steps_factor: int = 100  # bounce mode: hard stop after max_steps_factor · max_reflections steps
    synchronous: bool = False  # bounce mode: the whole batch steps until its slowest point is done
    dt_rule: str = "jump"  # "jump": rerun toward the band's middle (×0.5…×2); "official": ×0.9/×1.1 (gradNS)
    galilean: bool = True  # Galilean steps (Skilling): never rest outside the slice (n_steps paths only)
    adapt_length: bool = True  # double/halve n_steps (up to 4×) while new points stay near their starts

    @classmethod
    def adaptive(cls, **overrides) -> HSSConfig:
        return cls(**overrides)

    @classmethod
    def fixed(cls, **overrides) -> HSSConfig:
        """Our earlier default: the adaptive kernel without the metric (an ablation)."""
        return cls(**{"precondition": False, "galilean": False, "adapt_length": False, **overrides})

    @classmethod
    def official(cls, **overrides) -> HSSConfig:
        """gradNS's kernel (spec §3; min_ref 1, max_ref 3, σ_v 0.05)."""
        base = {"n_steps": None, "sigma_velocity": 0.05, "noise": "code", "precondition": False, "mirror_box": False,
                "keep_last": False, "restart_same_start": True, "max_outside": 3, "synchronous": True,
                "dt_rule": "official", "galilean": False, "adapt_length": False}
        return cls(**{**base, **overrides})

    def validate(self) -> None:
        if self.noise not in ("isotropic", "paper", "code"):
            raise ValueError(f"noise must be 'isotropic', 'paper' or 'code', got {self.noise!r}")
        if self.dt_rule not in ("jump", "official"):
            raise ValueError(f"dt_rule must be 'jump' or 'official', got {self.dt_rule!r}")
        if not 0 <= self.min_reflections < self.max_reflections:
            raise ValueError(f"need 0 <= min_reflections < max_reflections, got "
                             f"{self.min_reflections}, {self.max_reflections}")
        if self.galilean and self.n_steps is None:
            raise ValueError("galilean steps need a fixed path length n_steps")
        if self.n_steps is not None and self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1 or None, got {self.n_steps}")
        if self.sigma_velocity < 0:
            raise ValueError(f"sigma_velocity must be >= 0, got {self.sigma_velocity}")


@dataclass
class HSSOutput:
    x: torch.Tensor  # (B, d) the returned states (unit cube)
    logl: torch.Tensor  # (B,) their log-likelihoods
    ok: torch.Tensor  # (B,) bool: a valid new point (ln L > L*, not pruned)
    n_steps: int  # point-steps taken
    n_outside: int  # point-steps that landed outside the slice (or the box, without mirroring)
    n_reflections: torch.Tensor | None = None  # (B,) likelihood bounces per point
    steps_per_point: torch.Tensor | None = None  # (B,) steps taken by each point
    outside_per_point: torch.Tensor | None = None  # (B,) of which outside


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)


def _fold(x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror positions into [0, 1] (any number of wall crossings), flipping the crossed velocity components."""
    m = torch.floor(x)
    odd = torch.remainder(m, 2) == 1
    return torch.where(odd, 1.0 - (x - m), x - m), torch.where(odd, -v, v)


def _step(x: torch.Tensor, w: torch.Tensor, dt: torch.Tensor, chol: torch.Tensor | None) -> torch.Tensor:
    """x + dt·L w, with dt of shape (B, 1)."""
    return x + dt * (w if chol is None else (chol @ w[:, :, None]).squeeze(2))


def _per_point(dt: float | torch.Tensor, b: int, like: torch.Tensor) -> torch.Tensor:
    """A step length per point, shape (B, 1), from a float or a (B,) tensor."""
    return torch.as_tensor(dt, device=like.device, dtype=like.dtype).expand(b).reshape(b, 1)


def _try(evaluate: Evaluate, x: torch.Tensor, logl_star: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ln L, normal, inside) at trial points: ln L and ∇ln L in the box, the inward wall normal outside it."""
    inbox = ((x >= 0) & (x <= 1)).all(dim=1)
    logl = torch.full((x.shape[0],), -torch.inf, device=x.device, dtype=x.dtype)
    normal = (x < 0).to(x.dtype) - (x > 1).to(x.dtype)
    if inbox.any():
        logl[inbox], normal[inbox] = evaluate(x[inbox])
    return logl, normal, inbox & (logl > logl_star)


def _reflect(w: torch.Tensor, normal: torch.Tensor, chol: torch.Tensor | None) -> torch.Tensor:
    """w − 2 (w·n) n with n the unit normal in the whitened frame (Lᵀ∇); −w where there is no usable normal."""
    if chol is not None:
        normal = (chol.transpose(1, 2) @ normal[:, :, None]).squeeze(2)
    norm = normal.norm(dim=1, keepdim=True)
    usable = torch.isfinite(norm) & (norm > 0)
    n = torch.where(usable, normal / norm.clamp_min(1e-300), torch.zeros_like(normal))
    return torch.where(usable, w - 2.0 * (w * n).sum(dim=1, keepdim=True) * n, -w)


def galilean_slice_sampling(evaluate: Evaluate, x0: torch.Tensor, logl0: torch.Tensor, logl_star: float,
                            dt: float | torch.Tensor,
                            cfg: HSSConfig, generator: torch.Generator,
                            chol: torch.Tensor | None = None) -> HSSOutput:
    """Galilean Monte Carlo (Skilling 2012) in the whitened frame: every state of the path is inside.

    Per step, from x with velocity v = dt·L w: try x' = x + v; inside ⇒ move. Outside ⇒ reflect w off
    the normal at x' (w'), try x'' = x' + dt·L w'; inside ⇒ move there with w'; else stay and reverse w.
    The step map composed with a velocity flip is a volume-preserving involution, so the uniform law on
    the slice × uniform directions is invariant (exact, unlike resting at outside points); then
    w ← unit(w + σ_v ε/√d). Returns the state after ``n_steps`` steps (always inside).
    """
    b, d = x0.shape
    opts = {"device": x0.device, "dtype": x0.dtype}
    x, logl, dt = x0.clone(), logl0.clone(), _per_point(dt, b, x0)
    w = _unit(torch.randn(b, d, generator=generator, **opts))
    n_out = torch.zeros(b, dtype=torch.long, device=x0.device)
    for _ in range(cfg.n_steps):
        x1 = _step(x, w, dt, chol)
        l1, normal, in1 = _try(evaluate, x1, logl_star)
        x[in1], logl[in1] = x1[in1], l1[in1]
        out = (~in1).nonzero().squeeze(1)
        if out.numel():
            c = None if chol is None else chol[out]
            w_ref = _reflect(w[out], normal[out], c)
            x2 = _step(x1[out], w_ref, dt[out], c)
            l2, _, in2 = _try(evaluate, x2, logl_star)
            x[out[in2]], logl[out[in2]] = x2[in2], l2[in2]
            w[out] = torch.where(in2[:, None], w_ref, -w[out])
            n_out[out] += 1
        eps = torch.randn(b, d, generator=generator, **opts)
        w = _unit(w + cfg.sigma_velocity * eps / d**0.5)
    steps = torch.full_like(n_out, cfg.n_steps)
    return HSSOutput(x, logl, logl > logl_star, b * cfg.n_steps, int(n_out.sum()), n_out, steps, n_out)


def hamiltonian_slice_sampling(evaluate: Evaluate, x0: torch.Tensor, logl_star: float, dt: float | torch.Tensor,
                               cfg: HSSConfig, generator: torch.Generator,
                               chol: torch.Tensor | None = None) -> HSSOutput:
    """Run the kernel from starts `x0` (B, d) with hard constraint ln L > `logl_star` and step length `dt`.

    `evaluate(u)` returns (ln L, ∇_u ln L) at in-box unit-cube points u (m, d); it is only called on the
    points still moving and inside the box. `chol` (B, d, d): per-point metric factor L (None: identity).
    """
    b, d = x0.shape
    opts = {"device": x0.device, "dtype": x0.dtype}
    fixed = cfg.n_steps is not None
    x, dt = x0.clone(), _per_point(dt, b, x0)
    steps_pp = torch.zeros(b, dtype=torch.long, device=x0.device)
    outside_pp = torch.zeros_like(steps_pp)
    w = _unit(torch.randn(b, d, generator=generator, **opts))
    n_ref = torch.zeros(b, dtype=torch.long, device=x0.device)
    n_out = torch.zeros_like(n_ref)  # consecutive outside steps
    n_store = torch.zeros_like(n_ref)
    chosen_x, chosen_l = x0.clone(), torch.full((b,), -torch.inf, **opts)
    last_l = torch.full((b,), -torch.inf, **opts)
    last_in = torch.zeros(b, dtype=torch.bool, device=x0.device)
    active = torch.ones(b, dtype=torch.bool, device=x0.device)
    pruned = torch.zeros_like(active)
    n_steps = n_outside = 0
    for step in range(cfg.n_steps if fixed else cfg.max_steps_factor * cfg.max_reflections):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        wa, la = w[idx], None if chol is None else chol[idx]
        xa = _step(x[idx], wa, dt[idx], la)
        if cfg.mirror_box and la is None:  # with a metric the walls reflect off their normals instead
            xa, wa = _fold(xa, wa)
        logl, normal, inside = _try(evaluate, xa, logl_star)
        below = ((xa >= 0) & (xa <= 1)).all(dim=1) & ~inside  # a bounce off the contour (not the box)
        outside = ~inside
        reflected = _reflect(wa, normal, la)  # off the contour (or the wall) in the whitened frame
        eps = torch.randn(wa.shape, generator=generator, **opts)
        if cfg.noise == "isotropic":
            noisy = _unit(wa + cfg.sigma_velocity * eps / d**0.5)
        elif cfg.noise == "paper":
            noisy = _unit(wa * (1.0 + cfg.sigma_velocity * eps))
        else:
            noisy = wa * (1.0 + cfg.sigma_velocity * _unit(eps))
        x[idx], w[idx] = xa, torch.where(outside[:, None], reflected, noisy)
        n_ref[idx] += below.long()
        n_out[idx] = torch.where(outside, n_out[idx] + 1, torch.zeros_like(n_out[idx]))
        last_l[idx], last_in[idx] = logl, ~outside

        # candidates: the last state (fixed paths) or in-slice states after min_reflections (reservoir pick)
        if fixed and cfg.keep_last:
            store = ~outside & (step == cfg.n_steps - 1)
        elif fixed:
            store = ~outside & (step >= cfg.n_steps * cfg.min_reflections // cfg.max_reflections)
        elif cfg.synchronous:
            running = ~pruned
            store = ~outside & bool(running.any() and n_ref[running].min() > cfg.min_reflections)
        else:
            store = ~outside & (n_ref[idx] >= cfg.min_reflections)
        n_store[idx] += store.long()
        u = torch.rand(idx.numel(), generator=generator, **opts)
        take = store & (u * n_store[idx] < 1.0)
        chosen_x[idx[take]], chosen_l[idx[take]] = xa[take], logl[take]

        if cfg.max_outside is not None:
            prune = n_out[idx] >= cfg.max_outside
            pruned[idx[prune]] = True
            active[idx[prune]] = False
        if not fixed and cfg.synchronous:
            running = ~pruned
            if not running.any() or n_ref[running].min() >= cfg.max_reflections:
                active[:] = False
        elif not fixed:
            active[idx[n_ref[idx] >= cfg.max_reflections]] = False
        n_steps += idx.numel()
        n_outside += int(outside.sum())
        steps_pp[idx] += 1
        outside_pp[idx] += outside.long()
    if not fixed and cfg.synchronous and int(n_store.sum()) == 0:  # storing never began (gradNS fallback)
        fallback = ~pruned & (n_ref >= cfg.min_reflections) & last_in
        chosen_x[fallback], chosen_l[fallback] = x[fallback], last_l[fallback]
        n_store[fallback] = 1
    ok = ~pruned & (n_store > 0) & (chosen_l > logl_star)
    return HSSOutput(chosen_x, chosen_l, ok, n_steps, n_outside, n_ref, steps_pp, outside_pp)


def shrunk_covariance(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ledoit–Wolf covariance of points `x` (n, d) and its trace: C = (1 − s) S + s (tr S/d) I.

    S = Σ x̃x̃ᵀ/n (x̃ centred), s = min(β, δ)/δ with δ = ‖S − (tr S/d) I‖²_F/d and
    β = (Σ_k ‖x̃_k‖⁴/n − ‖S‖²_F)/(n d) (Ledoit & Wolf 2004); positive definite for any n ≥ 2.
    """
    n, d = x.shape
    xc = x - x.mean(dim=0)
    cov = xc.T @ xc / n
    trace = torch.diagonal(cov).sum()
    mu = trace / d
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    delta = (cov - mu * eye).pow(2).sum() / d
    beta = ((xc.pow(2).sum(dim=1).pow(2).mean() - cov.pow(2).sum()) / (n * d)).clamp_min(0.0)
    s = torch.where(delta > 0, torch.minimum(beta, delta) / delta.clamp_min(1e-300), torch.ones_like(delta))
    mu = mu.clamp_min(1e-24)
    return (1.0 - s) * cov + s * mu * eye + 1e-12 * mu * eye, trace
