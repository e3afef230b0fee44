"""BatchNorm running statistics under multi-pass optimisers: keep those of the unperturbed pass only.

SAM evaluates the model twice per minibatch, Multistep-SAM k + 1 times, Lookbehind 2k times; all passes
but the first run at perturbed weights w + ε. In training mode each pass would move every BatchNorm
layer's running mean and variance (and ``num_batches_tracked``) toward that pass's batch statistics, so
the statistics used at evaluation would partly describe weights the model never takes. davda54/sam's
training loop keeps only the first pass's statistics; these helpers do the same:

    # two-call form
    loss_fn(model(x), y).backward(); opt.first_step(zero_grad=True)       # updates the running stats
    with frozen_running_stats(model):
        loss_fn(model(x), y).backward(); opt.second_step(zero_grad=True)  # does not

    # closure form: the closure's first call updates them, later calls (perturbed passes) do not
    opt.zero_grad(set_to_none=True)
    loss = opt.step(first_pass_stats_only(model, closure))

A frozen pass still normalises with the batch's own statistics (the forward and its gradients are
unchanged); only the running buffers are left alone: the layer's ``track_running_stats`` is switched
off for the pass, so nothing is written (not even the step counter), whatever the momentum. The
official Lookbehind loop does not freeze them (all 2k passes update the statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

T = TypeVar("T")


def _tracking_batchnorms(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@contextmanager
def frozen_running_stats(model: nn.Module) -> Iterator[None]:
    """Inside the block, forward passes in training mode leave every BatchNorm's running stats as they are."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = _tracking_batchnorms(model)
    for m in layers:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in layers:
            m.track_running_stats = True


def first_pass_stats_only(model: nn.Module, closure: Callable[[], T]) -> Callable[[], T]:
    """Wrap a step closure: its first call updates BatchNorm running stats, every later call is frozen.

    Make a fresh wrapper per minibatch, and clear the gradients before ``opt.step`` (``zero_grad
    (set_to_none=True)``) so that the first call is the pass at the unperturbed weights.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    calls = 0

    def wrapped() -> T:
        nonlocal calls
        calls += 1
        if calls == 1:
            return closure()
        with frozen_running_stats(model):
            return closure()

    return wrapped
