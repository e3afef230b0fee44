"""Session-wide fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for the whole session (Ray's documented testing pattern; no local_mode).

    Started on first use, shut down at the end of the session; tests that need it are skipped when
    Ray is not installed. Workers import the project from the editable install.
    """
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # someone else's cluster: use it, leave it running
        yield ray
        return
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tests run torch on one intra-op thread: tiny models are much faster so on a busy 2-core machine."""
    from scenarios.seeding import torch_threads

    with torch_threads(1):
        yield
