"""Shared plumbing for optimisers that drive an inner ``torch.optim.Optimizer``.

SAM-style optimisers (davda54/sam style) build or wrap an *inner* optimiser and share its
``param_groups`` (the same dict objects), so a learning-rate scheduler attached to either sees and
changes the same ``lr``. This module keeps that sharing intact across ``load_state_dict`` and packs
the inner optimiser's state (momentum buffers, Adam moments, ...) into the outer state dict, which
davda54/sam does not do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

Closure = Callable[[], torch.Tensor]


class WrapperOptimizer(Optimizer):
    """An optimiser whose updates call ``self.inner.step()``; both share one ``param_groups`` list.

    Subclasses keep per-parameter tensors in ``self.state`` (packed by ``state_dict`` as usual) and
    scalar bookkeeping in ``_extra_state`` / ``_load_extra_state``.
    """

    inner: Optimizer

    def _share_groups(self, groups: list[dict[str, Any]]) -> None:
        self.param_groups = groups
        if isinstance(self.inner, WrapperOptimizer):
            self.inner._share_groups(groups)
        else:
            self.inner.param_groups = groups

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, extra: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """torch's ``{"state", "param_groups"}`` plus ``"inner"`` (the inner state dict) and ``"extra"``."""
        sd = super().state_dict()
        sd["inner"] = self.inner.state_dict()
        sd["extra"] = self._extra_state()
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        inner, extra = state_dict.pop("inner"), state_dict.pop("extra", {})
        super().load_state_dict(state_dict)
        self.inner.load_state_dict(inner)
        self._share_groups(self.param_groups)
        self._load_extra_state(extra)

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _needs_first_pass(self) -> bool:
        """True when no parameter holds a gradient (after ``zero_grad(set_to_none=True)``)."""
        return all(p.grad is None for p in self._params())


def first_pass(opt: WrapperOptimizer, closure: Closure | None) -> torch.Tensor | None:
    """The davda54 closure convention, made forgiving.

    davda54/sam expects the gradient at the current weights to be in ``.grad`` when ``step(closure)``
    is called. If no parameter has a gradient yet, we run the closure first and return its loss (the
    loss at the unperturbed weights); otherwise the existing gradients are used and we return None.
    """
    if closure is None:
        raise ValueError(f"{type(opt).__name__}.step needs a closure that recomputes the loss and calls backward()")
    if opt._needs_first_pass():
        with torch.enable_grad():
            return closure()
    return None
