"""Stop signals as exceptions: SIGTERM and SIGHUP raise :class:`~scenarios.errors.Terminated` in the main thread.

``timeout``, Slurm, Kubernetes and ``docker stop`` send SIGTERM; a closed terminal sends SIGHUP. Python's
default is to die on the spot, leaving ``summary.json`` at ``running``. Inside :func:`stop_signals_raise`
they unwind the stack like Ctrl-C does, so the run (or sweep) labels itself before exiting.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from scenarios.errors import Terminated

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise Terminated (once; repeats are ignored while the run labels itself).

    A no-op outside the main thread, where Python cannot install signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
