"""Batched Hamiltonian (reflective) slice sampling in the unit cube, spec §3 — the GGNS kernel.

Every point of a batch moves at unit speed in a straight line, x ← x + v·dt ("Galilean" drift). A step
that lands *outside* the slice {u ∈ [0, 1]^d : ln L(u) > L*} reflects the velocity specularly at the
outside point itself (no pull-back, as in gradNS),

    v ← v − 2 (v·n) n,   n = ∇ ln L / ‖∇ ln L‖,

and a step inside perturbs the velocity with momentum noise. Two variants (``HSSConfig``):

* ``HSSConfig.gradns()`` — gradNS's kernel (spec §3): outside the prior box the inward wall normal is
  used; likelihood bounces are counted and, after ``min_reflections`` of them, every in-slice state is
  a candidate; at ``max_reflections`` the point stops and returns one candidate uniformly at random
  (reservoir sampling); paper momentum noise v ⊙ (1 + σ_v ε), ε ~ N(0, I) (spec §8.2, our choice of
  the two); a point outside ``max_outside`` = 3 steps in a row is pruned (the caller restarts it from
  its start). ``synchronous=True`` makes the whole batch step until its slowest point is done (gradNS).
* ``HSSConfig()`` — the default, our corrected variant. Measured on a ball in d = 32, the gradNS
  kernel's new point keeps a rank correlation ≈ 0.6 with its start (specular reflection off a sphere
  conserves angular momentum, so extra bounces do not help) and the nested-sampling estimate scatters
  ≈ 3.7× its reported error; strong momentum noise fixes the correlation but a reservoir pick over the
  inside states of a path then favours paths that spend time outside (points near the contour).
  So: a fixed path of ``n_steps`` steps, *isotropic* noise v ← unit(v + σ_v ε/√d) (symmetric, so the
  uniform direction law is invariant), the prior box folded exactly (x mirrored into [0, 1]^d, the
  billiard of the uniform prior), no pruning, and the output is the state at the last step — valid
  only if inside; otherwise the caller draws a fresh start. With the defaults (σ_v = 0.5, 20 steps) the
  output's rank (r/R)^d on a ball in d = 32 has mean 0.498 ± 0.003 (uniform: 0.5) and a correlation of
  0.12 with its start's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Evaluate = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class HSSConfig:
    """Kernel settings; the defaults are our fixed-path variant, :meth:`gradns` is spec §3."""

    n_steps: int | None = 20  # fixed path length; None: stop each point at max_reflections bounces
    sigma_velocity: float = 0.5  # momentum noise δ_p
    noise: str = "isotropic"  # "isotropic" | "paper" (v ⊙ (1 + σ ε)) | "code" (v ⊙ (1 + σ r), r a unit vector)
    mirror_box: bool = True  # fold positions into the box; False: reflect off the wall normal (gradNS)
    keep_last: bool = True  # return the last state (with n_steps); False: uniform pick after min_reflections
    restart_same_start: bool = False  # a failed point restarts from its own start (gradNS) or a fresh one
    min_reflections: int = 1
    max_reflections: int = 3
    max_outside: int | None = None  # prune after this many consecutive outside steps (gradNS: 3)
    max_steps_factor: int = 100  # bounce mode: hard stop after max_steps_factor · max_reflections steps
    synchronous: bool = False  # bounce mode: the whole batch steps until its slowest point is done

    @classmethod
    def gradns(cls, **overrides) -> HSSConfig:
        """The gradNS kernel of spec §3 (paper defaults min_ref 1, max_ref 3, δ_p 0.05)."""
        base = {"n_steps": None, "sigma_velocity": 0.05, "noise": "paper", "mirror_box": False, "keep_last": False,
                "restart_same_start": True, "max_outside": 3}
        return cls(**{**base, **overrides})

    def validate(self) -> None:
        if self.noise not in ("isotropic", "paper", "code"):
            raise ValueError(f"noise must be 'isotropic', 'paper' or 'code', got {self.noise!r}")
        if not 0 <= self.min_reflections < self.max_reflections:
            raise ValueError(f"need 0 <= min_reflections < max_reflections, got "
                             f"{self.min_reflections}, {self.max_reflections}")
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


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)


def _fold(x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror positions into [0, 1] (any number of wall crossings), flipping the crossed velocity components."""
    m = torch.floor(x)
    odd = torch.remainder(m, 2) == 1
    return torch.where(odd, 1.0 - (x - m), x - m), torch.where(odd, -v, v)


def hamiltonian_slice_sampling(evaluate: Evaluate, x0: torch.Tensor, logl_star: float, dt: float,
                               cfg: HSSConfig, generator: torch.Generator) -> HSSOutput:
    """Run the kernel from starts `x0` (B, d) with hard constraint ln L > `logl_star` and step length `dt`.

    `evaluate(u)` returns (ln L, ∇_u ln L) at in-box unit-cube points u (m, d); it is only called on the
    points still moving and inside the box.
    """
    b, d = x0.shape
    opts = {"device": x0.device, "dtype": x0.dtype}
    fixed = cfg.n_steps is not None
    x = x0.clone()
    v = _unit(torch.randn(b, d, generator=generator, **opts))
    n_ref = torch.zeros(b, dtype=torch.long, device=x0.device)
    n_out = torch.zeros_like(n_ref)  # consecutive outside steps
    n_store = torch.zeros_like(n_ref)
    chosen_x, chosen_l = x0.clone(), torch.full((b,), -torch.inf, **opts)
    active = torch.ones(b, dtype=torch.bool, device=x0.device)
    pruned = torch.zeros_like(active)
    n_steps = n_outside = 0
    for step in range(cfg.n_steps if fixed else cfg.max_steps_factor * cfg.max_reflections):
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        xa, va = x[idx] + v[idx] * dt, v[idx]
        if cfg.mirror_box:
            xa, va = _fold(xa, va)
        inbox = ((xa >= 0) & (xa <= 1)).all(dim=1)
        logl = torch.full((idx.numel(),), -torch.inf, **opts)
        normal = (xa < 0).to(xa.dtype) - (xa > 1).to(xa.dtype)  # inward wall normal outside the box
        if inbox.any():
            logl[inbox], normal[inbox] = evaluate(xa[inbox])
        below = inbox & (logl <= logl_star)
        outside = below | ~inbox

        # reflect outside steps off the contour (or the wall); reverse if there is no usable normal
        norm = normal.norm(dim=1, keepdim=True)
        usable = torch.isfinite(norm) & (norm > 0)
        n = torch.where(usable, normal / norm.clamp_min(1e-300), torch.zeros_like(normal))
        reflected = torch.where(usable, va - 2.0 * (va * n).sum(dim=1, keepdim=True) * n, -va)
        eps = torch.randn(va.shape, generator=generator, **opts)
        if cfg.noise == "isotropic":
            noisy = _unit(va + cfg.sigma_velocity * eps / d**0.5)
        elif cfg.noise == "paper":
            noisy = _unit(va * (1.0 + cfg.sigma_velocity * eps))
        else:
            noisy = va * (1.0 + cfg.sigma_velocity * _unit(eps))
        x[idx], v[idx] = xa, torch.where(outside[:, None], reflected, noisy)
        n_ref[idx] += below.long()
        n_out[idx] = torch.where(outside, n_out[idx] + 1, torch.zeros_like(n_out[idx]))

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
    ok = ~pruned & (n_store > 0) & (chosen_l > logl_star)
    return HSSOutput(chosen_x, chosen_l, ok, n_steps, n_outside)
