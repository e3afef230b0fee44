"""Executors for sweeps: ``serial`` (default, tests), ``process`` (one machine), ``ray`` (clusters).

Each maps a plain, picklable job function over a list of job specs, reports every result as it
arrives (``on_result(index, result)``) and returns the results in job order. Ray is the distributed
engine; nothing distributed is written here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from tqdm.auto import tqdm

from scenarios.errors import UsageError

EXECUTORS = ("serial", "process", "ray")
OnResult = Callable[[int, Any], None]


def map_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    executor: str = "serial",
    *,
    address: str | None = None,
    max_workers: int | None = None,
    show_progress: bool = True,
    on_result: OnResult | None = None,
) -> list[Any]:
    """Apply `fn` to every job with the named executor; results come back in job order.

    `fn` must not raise for a failing job (the sweep's job function records the error instead), so
    one bad cell never stops the others. A KeyboardInterrupt stops the whole map; results already
    reported through `on_result` are kept by the caller.
    """
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    results: dict[int, Any] = {}

    def report(index: int, result: Any) -> None:
        results[index] = result
        bar.update(1)
        if on_result is not None:
            on_result(index, result)

    with tqdm(total=len(jobs), disable=not show_progress, desc=f"sweep ({executor})", leave=False) as bar:
        if executor == "serial":
            for i, job in enumerate(jobs):
                report(i, fn(job))
        elif executor == "process":
            with ProcessPoolExecutor(max_workers=max_workers or min(len(jobs), os.cpu_count() or 1)) as pool:
                futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
                for future in as_completed(futures):
                    report(futures[future], future.result())
        else:
            _map_ray(fn, jobs, address, report)
    return [results[i] for i in range(len(jobs))]


def _map_ray(fn: Callable[[Any], Any], jobs: Sequence[Any], address: str | None, report: OnResult) -> None:
    """One Ray task per job (``num_cpus=1``). Joins the cluster at `address` or starts a local one."""
    try:
        import ray
    except ImportError:
        raise UsageError("executor 'ray' needs Ray: pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(fn)
        index = {remote.remote(job): i for i, job in enumerate(jobs)}
        pending = list(index)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            report(index[done[0]], ray.get(done[0]))
    finally:
        if started_here:  # never shut down a cluster the caller started
            ray.shutdown()
