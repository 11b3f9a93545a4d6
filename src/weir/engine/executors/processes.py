"""The process executor: a pool of worker processes on this machine, each with its own copy of
the project (loaded once per worker), building the specs it is sent.

Workers never outlive the run's process, however it ends (SIGKILL, SIGTERM, a crash): on Linux
the kernel kills them when it dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread in
each worker exits it once its parent is gone."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TYPE_CHECKING

from weir.engine.tasks import TaskOutcome, TaskSpec, execute

if TYPE_CHECKING:
    from weir.project.graph import Project

# Specs queued per worker beyond the one it builds: a worker never waits for the scheduler to
# send its next task, and in-flight work (and memory) stays bounded on big backfills.
QUEUED_PER_WORKER = 1

_WORKER_PROJECT = None
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_SECONDS = 1.0  # how soon a worker notices by itself that its parent is gone


def _init_worker(project_root: str, parent: int) -> None:
    global _WORKER_PROJECT
    from weir.project.loader import load_project

    die_with_parent(parent)
    _WORKER_PROJECT = load_project(project_root)


def die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` ends: the kernel's parent-death signal where
    there is one, and a watchdog thread polling the parent pid everywhere."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            # the signal follows the thread that started this worker: the run's, which outlives the pool
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the watchdog alone does it
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="weir-parent-watchdog", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)  # orphaned: adopted by init (or a subreaper); nobody will read what this builds


def _run_in_worker(message: dict) -> dict:
    """Build the task of a message (``engine.wire``); its outcome as a message."""
    from weir.engine.wire import outcome_to_message, spec_from_message

    assert _WORKER_PROJECT is not None
    spec = spec_from_message(message)
    return outcome_to_message(execute(_WORKER_PROJECT.assets[spec.asset], spec))


class ProcessExecutor:
    """Builds specs in worker processes; ``close(cancel=True)`` terminates them mid-task."""

    name = "processes"

    def __init__(self, project: Project, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        # spawn, not fork: the parent holds DuckDB/Delta threads that fork would copy half-alive
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(project.root), os.getpid()),
        )
        self._running: set[Future] = set()

    def submit(self, spec: TaskSpec) -> None:
        from weir.engine.wire import spec_to_message

        self._running.add(self.pool.submit(_run_in_worker, spec_to_message(spec)))

    def capacity(self) -> int:
        return max(0, self.workers * (1 + QUEUED_PER_WORKER) - len(self._running))

    def completed(self, timeout: float | None = None) -> list[TaskOutcome]:
        if not self._running:
            return []
        from weir.engine.wire import outcome_from_message

        done, self._running = wait(self._running, timeout=timeout, return_when=FIRST_COMPLETED)
        return [outcome_from_message(future.result()) for future in done]

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            for future in self._running:
                future.cancel()
            # the pool has no public way to stop a running task: its workers are ended instead
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                process.terminate()
        self._running.clear()
        self.pool.shutdown(wait=True, cancel_futures=cancel)
