"""How a run is cancelled from outside: Ctrl-C (SIGINT) and SIGTERM — what ``timeout``, systemd
and Kubernetes send — both end the run as ``cancelled``, but never between a Delta commit and
the metadata that records it: a signal that arrives there takes effect once the step is done."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Self


class RunTerminated(KeyboardInterrupt):
    """SIGTERM arrived: the run is cancelled, as on Ctrl-C."""


class CancelSignals:
    """While entered (in the main thread; elsewhere it does nothing), SIGINT raises
    KeyboardInterrupt and SIGTERM raises RunTerminated, except inside ``shielded()``, which
    raises it on leaving. Later signals of a run already cancelled are ignored."""

    def __init__(self) -> None:
        self._saved: dict[int, object] = {}
        self._shields = 0
        self._pending: KeyboardInterrupt | None = None
        self._raised = False

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._saved[signum] = signal.signal(signum, self._received)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved.clear()

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """A step no signal may cut in two; a cancel that arrives during it is raised after it."""
        self._shields += 1
        try:
            yield
        finally:
            self._shields -= 1
        if self._shields == 0 and self._pending is not None:
            pending, self._pending = self._pending, None
            self._raised = True
            raise pending

    def _received(self, signum: int, _frame: FrameType | None) -> None:
        if self._raised or self._pending is not None:
            return
        exc = RunTerminated("terminated (SIGTERM)") if signum == signal.SIGTERM else KeyboardInterrupt()
        if self._shields:
            self._pending = exc
            return
        self._raised = True
        raise exc
