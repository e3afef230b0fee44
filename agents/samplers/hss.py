"""Batched Hamiltonian (reflective) slice sampling in the unit cube, spec §3 — the GGNS kernel.

Every point of a batch moves at unit speed in a straight line, x ← x + v·dt ("Galilean" drift). A step
that lands *outside* the slice {u ∈ [0, 1]^d : ln L(u) > L*} reflects the velocity specularly,

    v ← v − 2 (v·n) n,   n = ∇ ln L / ‖∇ ln L‖   (or the inward wall normal outside the box),

at the outside point itself (no pull-back, as in gradNS); a step inside perturbs the velocity with
momentum noise (paper Alg. 5: v ← v ⊙ (1 + σ_v ε), ε ~ N(0, I), then back to unit speed). Likelihood
bounces are counted; after ``min_reflections`` of them every in-slice state is a candidate, and at
``max_reflections`` the point stops and returns one candidate chosen uniformly at random
(reservoir sampling; "trajectory preservation"). A point outside for ``max_outside`` steps in a row is
pruned and reported as failed (the caller restarts it from its start with fresh momentum).

By default each point stops on its own (spec §13 option); ``synchronous=True`` reproduces gradNS, where
the whole batch steps until its slowest point has ``max_reflections`` bounces and storing starts once
the batch minimum exceeds ``min_reflections``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Evaluate = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class HSSConfig:
    """Kernel settings (defaults: paper §7 and spec §3)."""

    min_reflections: int = 1
    max_reflections: int = 3
    sigma_velocity: float = 0.05  # momentum noise δ_p
    noise: str = "paper"  # "paper": v ⊙ (1 + σ ε), ε ~ N(0, I); "code": v ⊙ (1 + σ r), r a random unit vector
    max_outside: int = 3  # prune after this many consecutive outside steps
    max_steps_factor: int = 100  # hard stop after max_steps_factor · max_reflections steps
    synchronous: bool = False


@dataclass
class HSSOutput:
    x: torch.Tensor  # (B, d) the chosen in-slice states (unit cube)
    logl: torch.Tensor  # (B,) their log-likelihoods
    ok: torch.Tensor  # (B,) bool: a valid new point (not pruned, at least one stored state, ln L > L*)
    n_steps: int  # point-steps taken
    n_outside: int  # point-steps that landed outside the slice or the box


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)


def hamiltonian_slice_sampling(evaluate: Evaluate, x0: torch.Tensor, logl_star: float, dt: float,
                               cfg: HSSConfig, generator: torch.Generator) -> HSSOutput:
    """Run the kernel from starts `x0` (B, d) with hard constraint ln L > `logl_star` and step length `dt`.

    `evaluate(u)` returns (ln L, ∇_u ln L) at in-box unit-cube points u (m, d); it is only called on the
    points still moving and inside the box (outside the box the prior is zero: no evaluation needed).
    """
    b, d = x0.shape
    opts = {"device": x0.device, "dtype": x0.dtype}
    x = x0.clone()
    v = _unit(torch.randn(b, d, generator=generator, **opts))
    n_ref = torch.zeros(b, dtype=torch.long, device=x0.device)
    n_out = torch.zeros_like(n_ref)  # consecutive outside steps
    n_store = torch.zeros_like(n_ref)
    chosen_x, chosen_l = x0.clone(), torch.full((b,), -torch.inf, **opts)
    active = torch.ones(b, dtype=torch.bool, device=x0.device)
    pruned = torch.zeros_like(active)
    n_steps = n_outside = 0
    for _ in range(cfg.max_steps_factor * cfg.max_reflections):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        xa, va = x[idx] + v[idx] * dt, v[idx]
        inbox = ((xa >= 0) & (xa <= 1)).all(dim=1)
        logl = torch.full((idx.numel(),), -torch.inf, **opts)
        normal = (xa < 0).to(xa.dtype) - (xa > 1).to(xa.dtype)  # inward wall normal outside the box
        if inbox.any():
            logl[inbox], normal[inbox] = evaluate(xa[inbox])
        below = inbox & (logl <= logl_star)
        outside = below | ~inbox

        # reflect outside steps off the contour (or the wall); fall back to reversal without a usable normal
        norm = normal.norm(dim=1, keepdim=True)
        usable = torch.isfinite(norm) & (norm > 0)
        n = torch.where(usable, normal / norm.clamp_min(1e-300), torch.zeros_like(normal))
        reflected = torch.where(usable, va - 2.0 * (va * n).sum(dim=1, keepdim=True) * n, -va)
        if cfg.noise == "paper":
            noisy = _unit(va * (1.0 + cfg.sigma_velocity * torch.randn(va.shape, generator=generator, **opts)))
        else:
            r = _unit(torch.randn(va.shape, generator=generator, **opts))
            noisy = va * (1.0 + cfg.sigma_velocity * r)
        x[idx] = xa
        v[idx] = torch.where(outside[:, None], reflected, noisy)
        n_ref[idx] += below.long()
        n_out[idx] = torch.where(outside, n_out[idx] + 1, torch.zeros_like(n_out[idx]))

        # candidates: in-slice states after min_reflections bounces; keep one uniformly (reservoir)
        if cfg.synchronous:
            running = ~pruned
            ready = bool(n_ref[running].min() > cfg.min_reflections) if running.any() else False
            store = ~outside & ready
        else:
            store = ~outside & (n_ref[idx] >= cfg.min_reflections)
        n_store[idx] += store.long()
        u = torch.rand(idx.numel(), generator=generator, **opts)
        take = store & (u * n_store[idx] < 1.0)
        chosen_x[idx[take]], chosen_l[idx[take]] = xa[take], logl[take]

        prune = n_out[idx] >= cfg.max_outside
        pruned[idx[prune]] = True
        active[idx[prune]] = False
        if cfg.synchronous:
            running = ~pruned
            if not running.any() or n_ref[running].min() >= cfg.max_reflections:
                active[:] = False
        else:
            active[idx[n_ref[idx] >= cfg.max_reflections]] = False
        n_steps += idx.numel()
        n_outside += int(outside.sum())
    ok = ~pruned & (n_store > 0) & (chosen_l > logl_star)
    return HSSOutput(chosen_x, chosen_l, ok, n_steps, n_outside)
