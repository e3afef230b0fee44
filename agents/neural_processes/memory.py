"""Measured tensor memory: the peak bytes of tensor storage alive while a function runs (any device, CPU too).

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees every ATen op's outputs; each new storage is
counted when it appears and released when the last tensor viewing it is freed. Storages that exist before the
call (inputs, parameters) are not counted, so the number is what *running* the function allocates — e.g. the
conditioning memory of a neural process. Kernel-internal scratch buffers (inside one fused op) are not seen.

    peak = peak_tensor_bytes(lambda: model.condition(xc, yc))
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class _LiveTensorBytes(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self.refs: dict[int, list[int]] = {}  # storage data_ptr → [nbytes, live tensors viewing it]

    def _release(self, key: int) -> None:
        entry = self.refs.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.live -= entry[0]
                del self.refs[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key in inputs and key not in self.refs:  # a view of something allocated outside
                continue
            if key not in self.refs:
                self.refs[key] = [storage.nbytes(), 0]
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
            self.refs[key][1] += 1
            weakref.finalize(t, self._release, key)
        return out


def peak_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Peak bytes of tensor storage allocated (and alive at once) while ``fn()`` runs."""
    with _LiveTensorBytes() as tracker:
        result = fn()
    del result
    return tracker.peak
