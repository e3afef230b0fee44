"""One seed flow: a root seed → ``numpy.random.SeedSequence`` → named child seeds (env, agent, torch, replicates)."""

from __future__ import annotations

import contextlib
import random
import sys
import zlib
from collections.abc import Iterator

import numpy as np

from scenarios.errors import UsageError


class SeedFlow:
    """Derives independent, reproducible child seeds from one root seed.

    ``SeedFlow(7).seed("env")`` is the same on every run; distinct names give independent streams
    (the name enters the SeedSequence's spawn key), and ``replicates(n)`` gives n replicate seeds.
    """

    def __init__(self, root: int):
        if not isinstance(root, (int, np.integer)) or root < 0:
            raise ValueError(f"seed must be a non-negative integer, got {root!r}")
        self.root = int(root)

    def sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.root, spawn_key=(zlib.crc32(name.encode()),))

    def seed(self, name: str) -> int:
        """A 31-bit integer seed for `name` (for Gymnasium ``reset(seed=)``, Mesa ``rng=``, torch)."""
        return int(self.sequence(name).generate_state(1)[0] >> 1)

    def generator(self, name: str) -> np.random.Generator:
        return np.random.default_rng(self.sequence(name))

    def replicates(self, n: int, name: str = "replicate") -> list[int]:
        """n replicate seeds (one per scenario repetition or sweep seed)."""
        return [int(s >> 1) for s in self.sequence(name).generate_state(n)]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's legacy and (if a scenario imported it) torch's global RNGs.

    Scenarios draw from named child seeds; this only pins code that uses the global RNGs implicitly.
    The scenario module is imported before this runs, so torch is seeded whenever a scenario uses it.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def resolve_device(device: str) -> str:
    """'cpu' | 'cuda' | 'cuda:N' | 'auto' (CUDA if available) → a torch device string."""
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise UsageError(f"device '{device}' requested but CUDA is not available; use --device cpu or auto")
        return device
    raise UsageError(f"unknown device '{device}'; choose one of: cpu, cuda, auto")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with torch's intra-op thread count set to `n` (n <= 0: leave it), then restore it.

    Small models on a busy 2-core machine run fastest on one thread; paper presets pass 0.
    """
    import torch

    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
