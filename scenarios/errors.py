"""Errors the command line turns into one clear line and exit status 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: unknown scenario, preset or override key, wrong type, bad grid syntax."""


class RunAborted(Exception):
    """A run that started (its directory exists, labelled in summary.json) and then failed or was interrupted."""

    def __init__(self, run_dir, status: str, cause: BaseException):
        self.run_dir, self.status, self.cause = run_dir, status, cause
        super().__init__(f"{status}: {type(cause).__name__}: {cause} (run directory: {run_dir})")
