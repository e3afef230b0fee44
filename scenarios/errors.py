"""Errors the command line turns into one clear line and exit status 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: unknown scenario, preset or override key, wrong type, bad grid syntax."""


class RunAborted(Exception):
    """A run that started (its directory exists, labelled in summary.json) and then failed or was stopped.

    ``status`` is ``failed``, ``interrupted`` (Ctrl-C) or ``terminated`` (SIGTERM/SIGHUP).
    """

    def __init__(self, run_dir, status: str, cause: BaseException):
        self.run_dir, self.status, self.cause = run_dir, status, cause
        super().__init__(f"{status}: {type(cause).__name__}: {cause} (run directory: {run_dir})")


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (``timeout``, Slurm, Kubernetes, ``docker stop``, a closed terminal).

    A BaseException like KeyboardInterrupt, so ``except Exception`` in scenario code does not swallow it.
    """

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(f"received {self.signame}")


#: Exit status of a run or sweep stopped by a signal: 128 + the signal number, as a shell reports it.
def signal_exit_status(err: BaseException) -> int:
    return 128 + err.signum if isinstance(err, Terminated) else 130
