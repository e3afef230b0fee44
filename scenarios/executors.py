"""Executors for sweeps: ``serial`` (default, tests), ``process`` (one machine), ``ray`` (clusters).

Each maps a plain, picklable job function over a list of job specs, reports every result as it
arrives (``on_result(index, result)``) and returns the results in job order. Ray is the distributed
engine; nothing distributed is written here.

Faults, the same for every executor:

- A job whose worker dies (OOM killer, segfault, ``kill -9``; a Ray task or actor error) is reported
  through ``on_crash(job, reason)``, which turns it into a result (the sweep's ``failed`` row), and
  the map goes on. The process pool is rebuilt after a break; the jobs that were running beside the
  dead one are re-run alone, so only a job that kills its worker on its own is blamed.
- Ctrl-C or SIGTERM stops the map: no queued job starts; running jobs are asked to stop (SIGTERM to
  pool workers, ``ray.cancel``) and their results, if they come back within ``grace_s``, are reported.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tqdm.auto import tqdm

from scenarios.errors import Terminated, UsageError

EXECUTORS = ("serial", "process", "ray")
OnResult = Callable[[int, Any], None]
OnCrash = Callable[[Any, str], Any]


def map_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence[Any],
    executor: str = "serial",
    *,
    address: str | None = None,
    max_workers: int | None = None,
    show_progress: bool = True,
    on_result: OnResult | None = None,
    on_crash: OnCrash | None = None,
    gpus_per_job: float = 0.0,
    grace_s: float = 30.0,
) -> list[Any]:
    """Apply `fn` to every job with the named executor; results come back in job order.

    `fn` must not raise for a failing job (the sweep's job function records the error instead), so
    one bad cell never stops the others; a dead worker becomes ``on_crash(job, reason)`` (default:
    re-raise). KeyboardInterrupt or Terminated stops the whole map (raised again after the running
    jobs were stopped); results already reported through `on_result` are kept by the caller, and
    `on_result` itself may raise KeyboardInterrupt to stop the map. `gpus_per_job` is Ray's
    ``num_gpus`` per task (a sweep on ``--device cuda`` asks for one GPU per job).
    """
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{executor}'; choose one of: {', '.join(EXECUTORS)}")
    results: dict[int, Any] = {}

    def report(index: int, result: Any) -> None:
        results[index] = result
        bar.update(1)
        if on_result is not None:
            on_result(index, result)

    def crashed(index: int, reason: str) -> None:
        if on_crash is None:
            raise RuntimeError(f"job {index} crashed: {reason}")
        report(index, on_crash(jobs[index], reason))

    with tqdm(total=len(jobs), disable=not show_progress, desc=f"sweep ({executor})", leave=False) as bar:
        if executor == "serial":
            for i, job in enumerate(jobs):
                report(i, fn(job))
        elif executor == "process":
            workers = max(1, min(len(jobs), max_workers or os.cpu_count() or 1))
            _map_process(fn, jobs, workers, report, crashed, grace_s)
        else:
            _map_ray(fn, jobs, address, report, crashed, gpus_per_job, grace_s)
    return [results[i] for i in sorted(results)]


def _init_worker() -> None:
    """Pool workers ignore Ctrl-C (the parent decides what stops; an idle worker hit by SIGINT would break the
    pool) and die quietly on SIGTERM between jobs (a forked worker inherits the parent's raising handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _map_process(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, report: OnResult,
                 crashed: Callable[[int, str], None], grace_s: float) -> None:
    """A process pool that survives dead workers: rebuild it, re-run the bystanders alone, blame the culprit."""
    queue: deque[int] = deque(range(len(jobs)))
    suspects: deque[int] = deque()  # were running when a worker died: re-run one at a time
    while queue or suspects:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)
        running: dict[Future, int] = {}
        broken = False
        try:
            while (queue or suspects or running) and not broken:
                if suspects and not running:
                    index = suspects.popleft()
                    running[pool.submit(fn, jobs[index])] = index
                while queue and not suspects and len(running) < workers:
                    index = queue.popleft()
                    running[pool.submit(fn, jobs[index])] = index
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                alone = len(running) == 1
                for future in done:
                    index = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as err:
                        broken = True
                        if alone:  # it ran by itself: it killed its worker
                            crashed(index, f"worker process died ({err})")
                        else:
                            suspects.append(index)
                    else:
                        report(index, result)
            for future, index in running.items():  # a break takes every running job with it
                suspects.append(index)
        except (KeyboardInterrupt, Terminated):
            _stop_pool(pool, running, report, grace_s)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


def _stop_pool(pool: ProcessPoolExecutor, running: dict[Future, int], report: OnResult, grace_s: float) -> None:
    """Cancel queued work, SIGTERM the workers (each labels its run), report what comes back in time."""
    for future in running:
        future.cancel()
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            os.kill(process.pid, signal.SIGTERM)
        except (ProcessLookupError, AttributeError):
            pass
    done, _ = wait(running, timeout=grace_s)
    for future in done:
        if not future.cancelled() and future.exception() is None:
            report(running[future], future.result())


def _map_ray(fn: Callable[[Any], Any], jobs: Sequence[Any], address: str | None, report: OnResult,
             crashed: Callable[[int, str], None], gpus_per_job: float, grace_s: float) -> None:
    """One Ray task per job (``num_cpus=1``, ``num_gpus=gpus_per_job``). Joins the cluster at `address` or starts one.

    Ray retries a task whose worker died (``max_retries``); the job function makes each attempt write a
    fresh run directory. A task that still fails (RayTaskError, WorkerCrashedError, ...) is a crash.
    """
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError:
        raise UsageError("executor 'ray' needs Ray: pip install -e '.[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    index: dict[Any, int] = {}
    reported: set[int] = set()
    try:
        remote = ray.remote(num_cpus=1, num_gpus=gpus_per_job)(fn)
        index = {remote.remote(job): i for i, job in enumerate(jobs)}
        pending = list(index)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            reported.add(index[done[0]])
            try:
                result = ray.get(done[0])
            except RayError as err:
                crashed(index[done[0]], f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            else:
                report(index[done[0]], result)
    except (KeyboardInterrupt, Terminated):
        unreported = [ref for ref, i in index.items() if i not in reported]
        ready, _ = ray.wait(unreported, num_returns=len(unreported), timeout=0) if unreported else ([], [])
        for ref in set(unreported) - set(ready):
            ray.cancel(ref)  # queued: never starts; running: KeyboardInterrupt, its run labelled interrupted
        done, _ = ray.wait(unreported, num_returns=len(unreported), timeout=grace_s) if unreported else ([], [])
        for ref in done:
            try:
                report(index[ref], ray.get(ref))
            except RayError:
                pass  # cancelled: the sweep reads that job's state from its run directory
        raise
    finally:
        if started_here:  # never shut down a cluster the caller started
            ray.shutdown()


def map_resumable(fn: Callable[[Any], dict], jobs: Sequence[Any], keys: Sequence[str], ctx: Any, executor: str,
                  *, max_workers: int | None = None, keep: Callable[[dict], Any] | None = None,
                  log_fields: dict | None = None) -> list[Any]:
    """:func:`map_jobs` over a run's jobs, resumable: what each job kept, in job order.

    `fn(job)` returns a dict whose ``log`` list (if any) goes to the run's ``metrics.jsonl`` (each entry after
    `log_fields`); ``keep(result)`` (default: the result without its log) is stored under the job's key in the
    run's checkpoint (``ctx``: a :class:`~scenarios.rundir.RunContext`) as soon as the job finishes, so a
    resumed run (``--resume``) runs only the jobs whose keys are not there yet.
    """
    done: dict[str, Any] = dict((ctx.load_checkpoint() or {}).get("done", {}))
    todo = [i for i, key in enumerate(keys) if key not in done]

    def record(position: int, result: dict) -> None:
        for entry in result.get("log", ()):
            ctx.log({**(log_fields or {}), **entry})
        done[keys[todo[position]]] = keep(result) if keep else {k: v for k, v in result.items() if k != "log"}
        ctx.save_checkpoint({"done": done})

    map_jobs(fn, [jobs[i] for i in todo], executor, max_workers=max_workers, show_progress=ctx.show_progress,
             on_result=record)
    return [done[key] for key in keys]
