"""Sharpness-Aware Minimisation (SAM, Foret et al. 2021) and adaptive SAM (ASAM, Kwon et al. 2021).

SAM solves ``min_w max_{‖ε‖≤ρ} L(w + ε)`` with one ascent and one descent pass per minibatch:

    g = ∇L_B(w),   ε̂ = ρ g / ‖g‖₂            (Foret et al. §2, p = 2)
    w ← BaseOpt(w, ∇L_B(w + ε̂))                (gradient of the SAM objective, 2nd-order terms dropped)

ASAM rescales the ascent by the parameter magnitude, ``T_w = |w| + η``:

    ε̂ = ρ T_w² g / ‖T_w g‖₂                    (Kwon et al. §3, p = 2)

The API is davda54/sam's::

    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
    # two-call form
    loss_fn(model(x), y).backward(); opt.first_step(zero_grad=True)
    loss_fn(model(x), y).backward(); opt.second_step(zero_grad=True)
    # closure form (the closure computes the loss and calls backward)
    opt.zero_grad(set_to_none=True); loss = opt.step(closure)

Notes:
    * ‖·‖₂ is one global norm over all parameter groups (davda54/sam ``_grad_norm``); ``rho``,
      ``adaptive`` and ``eta`` may differ per parameter group.
    * Which tensors are rescaled is a choice of parameter groups (``adaptive`` per group);
      :func:`asam_param_groups` builds the two conventions by name: ``"official"`` (the SamsungLabs
      ASAM and Lookbehind-ASAM code: ``T_w = |w| + η`` for tensors whose name contains ``weight`` —
      conv/linear kernels and normalisation scales — and ``T_w = 1`` for the rest, i.e. biases) and
      ``"all"`` (davda54/sam's ``adaptive=True``: every tensor, ``T_w = |w| + η``).
    * BatchNorm running statistics are updated by every pass the caller runs in training mode; keep
      the first pass's only with ``agents.optimizers.batchnorm`` (davda54's ``disable_running_stats``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from agents.optimizers.base import Closure, WrapperOptimizer, first_pass

EPS = 1e-12  # added to the gradient norm (davda54/sam)
ASAM_RULES = ("official", "all")


def asam_param_groups(named_params: Iterable[tuple[str, torch.Tensor]], rule: str = "official",
                      **options: Any) -> list[dict[str, Any]]:
    """Parameter groups that choose which tensors ASAM rescales, from ``model.named_parameters()``.

    ``"official"``: tensors whose name contains ``"weight"`` get ``adaptive=True`` (T = |w| + η), all
    others ``adaptive=False`` (T = 1). ``"all"``: one group, every tensor adaptive. ``options`` (``rho``,
    ``eta``, ``lr``, ...) are copied into every group; empty groups are dropped.
    """
    if rule not in ASAM_RULES:
        raise ValueError(f"rule must be one of {ASAM_RULES}, got {rule!r}")
    named = list(named_params)
    if not all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) for item in named):
        raise ValueError("named_params must be (name, parameter) pairs, e.g. model.named_parameters()")
    if rule == "all":
        groups = [[p for _, p in named]]
        flags = [True]
    else:
        groups = [[p for n, p in named if "weight" in n], [p for n, p in named if "weight" not in n]]
        flags = [True, False]
    return [{"params": ps, "adaptive": flag, **options} for ps, flag in zip(groups, flags) if ps]


@torch.no_grad()
def ascent_scales(groups: list[dict[str, Any]]) -> list[tuple[torch.Tensor, list[torch.Tensor | None]]]:
    """Per group: ``ρ / ‖T g‖`` and, per parameter, ``T²`` (None when not adaptive, i.e. T = 1)."""
    weighted, squares = [], []
    for group in groups:
        sq = []
        for p in group["params"]:
            if p.grad is None:
                sq.append(None)
                continue
            if group["adaptive"]:
                t = p.abs().add_(group["eta"])
                weighted.append(torch.linalg.vector_norm(t * p.grad))
                sq.append(t.square_())
            else:
                weighted.append(torch.linalg.vector_norm(p.grad))
                sq.append(None)
        squares.append(sq)
    device = groups[0]["params"][0].device
    norm = torch.linalg.vector_norm(torch.stack([w.to(device) for w in weighted])) if weighted else None
    return [(group["rho"] / (norm + EPS) if norm is not None else None, sq) for group, sq in zip(groups, squares)]


@torch.no_grad()
def ascend(groups: list[dict[str, Any]]) -> None:
    """In place ``p ← p + ε̂(p)`` with ε̂ from the gradients in ``p.grad`` (SAM / ASAM ascent)."""
    for group, (scale, squares) in zip(groups, ascent_scales(groups)):
        for p, sq in zip(group["params"], squares):
            if p.grad is None:
                continue
            e = p.grad * scale.to(p)
            if sq is not None:
                e.mul_(sq)
            p.add_(e)


class SAM(WrapperOptimizer):
    """SAM (``adaptive=False``) or ASAM (``adaptive=True``) over any base optimiser.

    Args:
        params: parameters or parameter groups (groups may set ``rho``, ``adaptive``, ``eta``, ``lr`` ...).
        base_optimizer: the optimiser class for the descent step (``torch.optim.SGD`` by default).
        rho: ascent radius ρ.
        adaptive: ASAM's scale-invariant ascent ``ε̂ = ρ T² g / ‖T g‖`` with ``T = |w| + eta`` (every
            tensor of the group; use :func:`asam_param_groups` for the official weights-only rule).
        eta: ASAM's η (0 as in davda54/sam and the Lookbehind example script; the ASAM class uses 0.01).
        **base_kwargs: passed to ``base_optimizer`` (lr, momentum, weight_decay, ...).
    """

    def __init__(self, params: Any, base_optimizer: type[Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 adaptive: bool = False, eta: float = 0.0, **base_kwargs: Any):
        if not math.isfinite(rho) or rho < 0:
            raise ValueError(f"rho must be finite and non-negative, got {rho}")
        if not math.isfinite(eta) or eta < 0:
            raise ValueError(f"eta must be finite and non-negative, got {eta}")
        super().__init__(params, dict(rho=rho, adaptive=adaptive, eta=eta, **base_kwargs))
        self.inner = base_optimizer(self.param_groups, **base_kwargs)
        self.param_groups = self.inner.param_groups
        self.defaults.update(self.inner.defaults)

    @property
    def base_optimizer(self) -> Optimizer:
        """The descent optimiser (attach LR schedulers here or to ``self``: the groups are shared)."""
        return self.inner

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Ascent: remember w, then ``w ← w + ε̂`` using the gradients at w."""
        for p in self._params():
            if p.grad is not None:
                self.state[p]["old_p"] = p.detach().clone()
        ascend(self.param_groups)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Descent: restore w and apply the base optimiser with the gradients at w + ε̂."""
        for p in self._params():
            old = self.state[p].pop("old_p", None)
            if old is not None:
                p.data = old
        self.inner.step()
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        """One SAM update; returns the loss at w if the first pass ran here (see ``base.first_pass``)."""
        loss = first_pass(self, closure)
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            closure()
        self.second_step()
        return loss
