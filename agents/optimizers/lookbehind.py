"""Lookbehind-SAM / Lookbehind-ASAM (Mordido et al., ICML 2024): "k steps back, 1 step forward".

On **one** minibatch B, from the slow weights φ_{t-1} (checked against chandar-lab ``lookbehind.py``):

    φ_{t,0} = φ'_{t,0} = φ_{t-1}
    for i = 1..k:
        ε_{t,i}  = ρ ∇L_B(φ'_{t,i-1}) / ‖∇L_B(φ'_{t,i-1})‖        (ASAM: ρ T² g / ‖T g‖, T = |φ'| + η)
        φ'_{t,i} = φ'_{t,i-1} + ε_{t,i}                        ascent chain, anchored at φ_{t-1}
        φ_{t,i}  = A(φ_{t,i-1}, ∇L_B(φ'_{t,i}))                 inner descent on the fast weights
    φ_t = φ_{t-1} + α (φ_{t,k} − φ_{t-1})                      Lookahead-style interpolation

With plain SGD (lr η): φ_t = φ_{t-1} − αη Σ_i ∇L_B(φ'_{t,i}). Adaptive α (official ``--alpha -1``):

    α_t = (1 + cos∠(d_1, d_k)) / 2 ∈ [0, 1],   d_i = φ_{t,i} − φ_{t-1},
    cos∠(a, b) = a·b / (max(‖a‖, 1e-8) · max(‖b‖, 1e-8))      (torch.nn.CosineSimilarity: eps per norm)

computed **per parameter tensor** in the official code (``alpha_mode="per_tensor"``, default); the
paper's description reads as one global cosine [unverified] (``alpha_mode="global"``). Clamping each
norm (not their product) matters for small updates: with ‖d_1‖ = ‖d_k‖ = 1e-5 (late in a cosine
schedule, or conv biases before BatchNorm) the cosine stays ≈ 1 instead of collapsing to ≈ 0.

Cost: 2k forward–backward passes and k base-optimiser steps per minibatch (k × SAM): as in the official
loop, the gradient for ascent i+1 is recomputed at φ'_{t,i} although descent i used the same point.
The base optimiser's state (momentum) persists across outer steps. The optimiser does not touch
BatchNorm: the official loop updates the running statistics in all 2k passes; to keep only the first
pass's (φ_{t-1}, unperturbed) wrap the closure with ``batchnorm.first_pass_stats_only`` (the ``sharpness``
scenario does, ``train.bn_stats=first_pass``). Between outer steps the model holds the slow weights, so
evaluation needs no swap.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from agents.optimizers.base import Closure, first_pass
from agents.optimizers.sam import SAM, ascend

ALPHA_MODES = ("per_tensor", "global")
COS_EPS = 1e-8  # torch.nn.CosineSimilarity's default eps, applied to ‖d1‖ and ‖dk‖ separately


class Lookbehind(SAM):
    """Lookbehind over SAM (``adaptive=False``) or ASAM (``adaptive=True``).

    Args:
        params, base_optimizer, rho, adaptive, eta, **base_kwargs: as for :class:`SAM` (official
            Lookbehind-ASAM: ``params=asam_param_groups(model.named_parameters())``, ``adaptive=True``).
        k: ascent/descent pairs per minibatch (k = 2 is the released default).
        alpha: interpolation α ∈ [0, 1], or ``"adaptive"`` / ``-1`` for the adaptive α.
        alpha_mode: ``"per_tensor"`` (official code) or ``"global"`` cosine for the adaptive α.

    ``k = 1, alpha = 1`` reproduces SAM exactly. Two-call form (the official training loop)::

        for i in range(k):
            loss_fn(model(x), y).backward(); opt.first_step(zero_grad=True)   # ascent
            loss_fn(model(x), y).backward(); opt.second_step(zero_grad=True)  # descent (+ interpolation at i = k)
    """

    def __init__(self, params: Any, base_optimizer: type[Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 k: int = 2, alpha: float | str = 0.5, adaptive: bool = False, eta: float = 0.0,
                 alpha_mode: str = "per_tensor", **base_kwargs: Any):
        adaptive_alpha = alpha == "adaptive" or alpha == -1
        if k < 1 or (not adaptive_alpha and not 0.0 <= float(alpha) <= 1.0):
            raise ValueError(f"need k >= 1 and alpha in [0, 1] or 'adaptive', got k={k}, alpha={alpha}")
        if alpha_mode not in ALPHA_MODES:
            raise ValueError(f"alpha_mode must be one of {ALPHA_MODES}, got {alpha_mode!r}")
        super().__init__(params, base_optimizer, rho=rho, adaptive=adaptive, eta=eta, **base_kwargs)
        self.k, self.alpha_mode, self.counter = int(k), alpha_mode, 0
        self.alpha: float | None = None if adaptive_alpha else float(alpha)
        self._last_alphas: torch.Tensor | list[float] = []

    @property
    def last_alphas(self) -> list[float]:
        """The adaptive α of the last outer step: one per tensor, or one value (global / k = 1)."""
        a = self._last_alphas
        return a.tolist() if isinstance(a, torch.Tensor) else list(a)

    def _extra_state(self) -> dict[str, Any]:
        return {"k": self.k, "alpha": self.alpha, "alpha_mode": self.alpha_mode, "counter": self.counter}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.k, self.alpha, self.alpha_mode = int(extra["k"]), extra["alpha"], extra["alpha_mode"]
        self.counter = int(extra["counter"])

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Ascent i: at i = 1 cache the slow (= fast) weights; then ``φ' ← φ' + ε(φ')``."""
        if self.counter == 0:
            for p in self._params():
                self.state[p]["slow"] = p.detach().clone()
                self.state[p]["fast"] = p.detach().clone()
        ascend(self.param_groups)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Descent i on the fast weights with the gradient at φ'; after the k-th, interpolate."""
        params = self._params()
        perturbed = [p.data for p in params]
        for p in params:  # swap storages: no copies
            p.data = self.state[p]["fast"]
        self.inner.step()
        for p, q in zip(params, perturbed):
            self.state[p]["fast"] = p.data
            p.data = q
        self.counter += 1
        if self.counter == 1 and self.alpha is None and self.k > 1:
            for p in params:
                self.state[p]["first_fast"] = self.state[p]["fast"].clone()
        if self.counter >= self.k:
            self._interpolate(params)
            self.counter = 0
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def _interpolate(self, params: list[torch.Tensor]) -> None:
        """φ_t = φ_{t-1} + α (φ_{t,k} − φ_{t-1}), written into the live parameters; caches dropped."""
        alphas = self._adaptive_alphas(params)
        for i, p in enumerate(params):
            state = self.state[p]
            slow, fast = state.pop("slow"), state.pop("fast")
            state.pop("first_fast", None)
            weight = self.alpha if alphas is None else alphas[i]
            if isinstance(weight, torch.Tensor):
                weight = weight.to(slow)
            p.copy_(torch.lerp(slow, fast, weight))  # lerp returns `fast` exactly at weight 1

    @torch.no_grad()
    def _adaptive_alphas(self, params: list[torch.Tensor]) -> list[Any] | None:
        """Fixed α → None. Adaptive α: (1 + cos(φ_{t,1} − φ, φ_{t,k} − φ)) / 2, per tensor or global."""
        if self.alpha is not None:
            return None
        if self.k == 1:  # φ_{t,1} = φ_{t,k}: cos = 1
            self._last_alphas = [1.0]
            return [1.0] * len(params)
        dots, n1, n2 = [], [], []
        device = params[0].device
        for p in params:
            s = self.state[p]
            d1, dk = (s["first_fast"] - s["slow"]).flatten(), (s["fast"] - s["slow"]).flatten()
            dots.append((d1 @ dk).to(device, torch.float64))
            n1.append(torch.linalg.vector_norm(d1).to(device, torch.float64))
            n2.append(torch.linalg.vector_norm(dk).to(device, torch.float64))
        dots, n1, n2 = torch.stack(dots), torch.stack(n1), torch.stack(n2)
        if self.alpha_mode == "global":
            dots = dots.sum(0, keepdim=True)
            n1, n2 = torch.linalg.vector_norm(n1, keepdim=True), torch.linalg.vector_norm(n2, keepdim=True)
        # torch.nn.CosineSimilarity (the official code): each norm clamped at eps on its own
        cos = dots / (n1.clamp_min(COS_EPS) * n2.clamp_min(COS_EPS))
        alphas = (1.0 + cos) / 2.0
        self._last_alphas = alphas  # kept as a tensor: no device sync here
        if self.alpha_mode == "global":
            return [alphas[0]] * len(params)
        return list(alphas.unbind())

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        """One Lookbehind update on the closure's minibatch: 2k closure calls (2k − 1 if ``.grad`` is set)."""
        loss = first_pass(self, closure)
        for i in range(self.k):
            if i > 0:  # fresh gradient at φ'_{t,i}, as in the official loop
                self.zero_grad()
                with torch.enable_grad():
                    closure()
            self.first_step(zero_grad=True)
            with torch.enable_grad():
                closure()
            self.second_step()
        return loss
