"""Lookahead (Zhang et al. 2019) over any optimiser, including SAM (Lookahead-SAM).

The inner optimiser updates the fast weights θ on k successive minibatches; then the slow weights φ
move toward them and the fast weights restart from there:

    θ_{t,0} = φ_{t-1};   θ_{t,i} = A(θ_{t,i-1}, B_i)  i = 1..k;   φ_t = φ_{t-1} + α (θ_{t,k} − φ_{t-1})   (Alg. 1)

Unlike Lookbehind, the k inner steps use k *different* minibatches (one per ``step`` call). Evaluate on
the slow weights with ``with opt.slow_weights(): ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim import Optimizer

from agents.optimizers.base import Closure, WrapperOptimizer


class Lookahead(WrapperOptimizer):
    """Lookahead wrapper: ``Lookahead(SAM(params, SGD, rho=0.05, lr=0.1), k=5, alpha=0.5)``.

    Args:
        optimizer: the inner (fast) optimiser instance; its parameter groups are shared.
        k: inner steps between synchronisations.
        alpha: slow-weight step size α ∈ [0, 1].
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5):
        if k < 1 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"need k >= 1 and 0 <= alpha <= 1, got k={k}, alpha={alpha}")
        super().__init__(optimizer.param_groups, {})
        self.inner = optimizer
        self._share_groups(optimizer.param_groups)
        self.defaults = {**optimizer.defaults}
        self.k, self.alpha, self.counter = int(k), float(alpha), 0

    def _extra_state(self) -> dict[str, Any]:
        return {"k": self.k, "alpha": self.alpha, "counter": self.counter}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        self.k, self.alpha, self.counter = int(extra["k"]), float(extra["alpha"]), int(extra["counter"])

    @torch.no_grad()
    def _before_inner(self) -> None:
        for p in self._params():
            if "slow" not in self.state[p]:
                self.state[p]["slow"] = p.detach().clone()

    @torch.no_grad()
    def _after_inner(self) -> None:
        self.counter += 1
        if self.counter % self.k:
            return
        for p in self._params():
            slow = self.state[p]["slow"]
            slow.lerp_(p.detach(), self.alpha)  # φ ← φ + α (θ − φ); exact θ at α = 1
            p.copy_(slow)

    def step(self, closure: Closure | None = None) -> Any:
        """One inner step (passing the closure on), then a slow-weight update every k-th call."""
        self._before_inner()
        loss = self.inner.step(closure) if closure is not None else self.inner.step()
        self._after_inner()
        return loss

    def first_step(self, zero_grad: bool = False) -> None:
        """Two-call form over SAM-like inner optimisers: the inner ascent."""
        self._before_inner()
        self.inner.first_step(zero_grad=zero_grad)

    def second_step(self, zero_grad: bool = False) -> None:
        """Two-call form: the inner descent, then the Lookahead bookkeeping."""
        self.inner.second_step(zero_grad=zero_grad)
        self._after_inner()

    @contextmanager
    def slow_weights(self) -> Iterator[None]:
        """Temporarily load the slow weights φ into the model (for evaluation), then restore θ."""
        fast = []
        with torch.no_grad():
            for p in self._params():
                fast.append(p.detach().clone())
                if "slow" in self.state[p]:
                    p.copy_(self.state[p]["slow"])
        try:
            yield
        finally:
            with torch.no_grad():
                for p, f in zip(self._params(), fast):
                    p.copy_(f)
