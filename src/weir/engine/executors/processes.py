"""The process executor: a pool of worker processes on this machine, each with its own copy of
the project (loaded once per worker), building the specs it is sent."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from weir.engine.tasks import TaskOutcome, TaskSpec, execute

# Specs queued per worker beyond the one it builds: a worker never waits for the scheduler to
# send its next task, and in-flight work (and memory) stays bounded on big backfills.
QUEUED_PER_WORKER = 1

_WORKER_PROJECT = None


def _init_worker(project_root: str) -> None:
    global _WORKER_PROJECT
    from weir.project.loader import load_project

    _WORKER_PROJECT = load_project(project_root)


def _run_in_worker(spec: TaskSpec) -> TaskOutcome:
    assert _WORKER_PROJECT is not None
    return execute(_WORKER_PROJECT.assets[spec.asset], spec)


class ProcessExecutor:
    """Builds specs in worker processes; ``close(cancel=True)`` terminates them mid-task."""

    name = "processes"

    def __init__(self, project, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        # spawn, not fork: the parent holds DuckDB/Delta threads that fork would copy half-alive
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(str(project.root),),
        )
        self._running: set[Future] = set()

    def submit(self, spec: TaskSpec) -> None:
        self._running.add(self.pool.submit(_run_in_worker, spec))

    def capacity(self) -> int:
        return max(0, self.workers * (1 + QUEUED_PER_WORKER) - len(self._running))

    def completed(self, timeout: float | None = None) -> list[TaskOutcome]:
        if not self._running:
            return []
        done, self._running = wait(self._running, timeout=timeout, return_when=FIRST_COMPLETED)
        return [future.result() for future in done]

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            for future in self._running:
                future.cancel()
            # the pool has no public way to stop a running task: its workers are ended instead
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                process.terminate()
        self._running.clear()
        self.pool.shutdown(wait=True, cancel_futures=cancel)
