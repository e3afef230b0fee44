"""Multistep-SAM: k chained ascent steps, then one descent step (the baseline of Lookbehind, §3 of the spec).

On one minibatch B, with φ'_0 = w:

    φ'_i = φ'_{i-1} + ρ_s ∇L_B(φ'_{i-1}) / ‖∇L_B(φ'_{i-1})‖      i = 1..k   (ASAM: ρ_s T² g / ‖T g‖)
    w ← BaseOpt(w, ∇L_B(φ'_k))

k + 1 forward–backward passes, no gradient aggregation, no interpolation. ``k = 1`` is SAM.
The step size per ascent is ρ_s = ρ (``split_rho=False``, the same chain as Lookbehind's ascent, total
perturbation up to kρ) or ρ/k (``split_rho=True``) [unverified: the paper's exact baseline is not in the
released code].
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from agents.optimizers.base import Closure, first_pass
from agents.optimizers.sam import SAM, ascend


class MultistepSAM(SAM):
    """SAM with ``k`` chained ascent steps before the single descent step.

    Args:
        params, base_optimizer, rho, adaptive, eta, **base_kwargs: as for :class:`SAM`.
        k: number of ascent steps (≥ 1).
        split_rho: use ρ/k per ascent step instead of ρ.

    Two-call form: call ``first_step`` k times (each after a backward pass at the current perturbed
    weights), then ``second_step`` once.
    """

    def __init__(self, params: Any, base_optimizer: type[Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 k: int = 2, adaptive: bool = False, eta: float = 0.0, split_rho: bool = False, **base_kwargs: Any):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        super().__init__(params, base_optimizer, rho=rho, adaptive=adaptive, eta=eta, **base_kwargs)
        self.k, self.split_rho = int(k), bool(split_rho)

    def _extra_state(self) -> dict[str, Any]:
        return {"k": self.k, "split_rho": self.split_rho}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.k, self.split_rho = int(extra.get("k", self.k)), bool(extra.get("split_rho", self.split_rho))

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """One ascent step from the current (possibly already perturbed) weights; w is kept from the first."""
        for p in self._params():
            if p.grad is not None and "old_p" not in self.state[p]:
                self.state[p]["old_p"] = p.detach().clone()
        groups = self.param_groups
        if self.split_rho:
            groups = [{**g, "rho": g["rho"] / self.k} for g in groups]
        ascend(groups)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        """k ascent passes then one descent: k + 1 closure calls (k if the first gradient is given)."""
        loss = first_pass(self, closure)
        for _ in range(self.k):
            self.first_step(zero_grad=True)
            with torch.enable_grad():
                closure()
        self.second_step()
        return loss
