"""Executors run TaskSpecs and yield TaskOutcomes as they finish.

The interface is two methods so another engine (a Dask cluster) can slot in: ``run`` takes
specs and yields outcomes in completion order; ``close`` releases workers."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Protocol

from weir.engine.tasks import TaskOutcome, TaskSpec, execute

EXECUTORS = ("inprocess", "processes")


class Executor(Protocol):
    name: str

    def run(self, specs: Iterable[TaskSpec]) -> Iterator[TaskOutcome]: ...

    def close(self, *, cancel: bool = False) -> None: ...


class InProcessExecutor:
    """Runs each task in this process, one after another: simplest to debug (breakpoints work)."""

    name = "inprocess"

    def __init__(self, project) -> None:
        self.project = project

    def run(self, specs: Iterable[TaskSpec]) -> Iterator[TaskOutcome]:
        for spec in specs:
            yield execute(self.project.assets[spec.asset], spec)

    def close(self, *, cancel: bool = False) -> None:
        pass


_WORKER_PROJECT = None


def _init_worker(project_root: str) -> None:
    global _WORKER_PROJECT
    from weir.project.loader import load_project

    _WORKER_PROJECT = load_project(project_root)


def _run_in_worker(spec: TaskSpec) -> TaskOutcome:
    assert _WORKER_PROJECT is not None
    return execute(_WORKER_PROJECT.assets[spec.asset], spec)


class ProcessExecutor:
    """A pool of worker processes on this machine, each with its own copy of the project."""

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

    def run(self, specs: Iterable[TaskSpec]) -> Iterator[TaskOutcome]:
        pending: set[Future] = set()
        queue = list(specs)
        queue.reverse()
        limit = self.workers * 4  # bounded in-flight work keeps memory flat on big backfills
        while queue or pending:
            while queue and len(pending) < limit:
                pending.add(self.pool.submit(_run_in_worker, queue.pop()))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self, *, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


def make_executor(name: str, project, workers: int | None = None) -> Executor:
    if name == "inprocess":
        return InProcessExecutor(project)
    if name == "processes":
        return ProcessExecutor(project, workers)
    from weir.errors import WeirError

    raise WeirError(f"unknown executor {name!r} (choose: {', '.join(EXECUTORS)})")
