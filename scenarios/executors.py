"""Executors for sweeps: ``serial`` (default, tests), ``process`` (one machine), ``ray`` (clusters).

Each maps a plain, picklable job function over a list of job specs and returns results in order.
Ray is the distributed engine; nothing distributed is written here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from scenarios.errors import UsageError

EXECUTORS = ("serial", "process", "ray")


def map_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    executor: str = "serial",
    *,
    address: str | None = None,
    max_workers: int | None = None,
    show_progress: bool = True,
) -> list[Any]:
    """Apply `fn` to every job with the named executor; results come back in job order.

    `fn` must not raise for a failing job (the sweep's job function records the error instead), so
    one bad cell never stops the others.
    """
    if executor == "serial":
        return [fn(job) for job in tqdm(jobs, disable=not show_progress, desc="sweep", leave=False)]
    if executor == "process":
        workers = max_workers or min(len(jobs), os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            it = pool.map(fn, jobs)
            return list(tqdm(it, total=len(jobs), disable=not show_progress, desc="sweep", leave=False))
    if executor == "ray":
        return _map_ray(fn, jobs, address=address, show_progress=show_progress)
    raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")


def _map_ray(fn: Callable[[Any], Any], jobs: Sequence[Any], *, address: str | None, show_progress: bool) -> list[Any]:
    """One Ray task per job (``num_cpus=1``). Joins the cluster at `address` or starts a local one."""
    try:
        import ray
    except ImportError:
        raise UsageError("executor 'ray' needs Ray: pip install -e '.[ray]'") from None
    started_here = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        started_here = True
    try:
        remote = ray.remote(num_cpus=1)(fn)
        refs = [remote.remote(job) for job in jobs]
        results: dict[Any, Any] = {}
        pending = list(refs)
        with tqdm(total=len(refs), disable=not show_progress, desc="sweep (ray)", leave=False) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                results[done[0]] = ray.get(done[0])
                bar.update(1)
        return [results[r] for r in refs]
    finally:
        if started_here:
            ray.shutdown()
