"""Executors build the TaskSpecs the scheduler submits and hand back TaskOutcomes.

An executor is four methods, so another engine (a Dask cluster) slots in by registering a
factory under a name, without the runner knowing it:

- ``submit(spec)`` takes one spec (plain, picklable data);
- ``capacity()`` says how many more specs it takes now;
- ``completed(timeout)`` returns the outcomes finished since the last call, waiting up to
  ``timeout`` seconds (None: until one finishes) when it has work and none is finished yet;
- ``close(cancel=False)`` releases the workers; ``cancel`` stops running work."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, overload

from weir.errors import UsageError

if TYPE_CHECKING:
    from weir.engine.tasks import TaskOutcome, TaskSpec
    from weir.project.graph import Project

AUTO = "auto"
# A worker pool costs ~0.7-1.3 s to spawn and import weir, pandas and the project (measured with
# 2 workers on 2 cores); a small partition costs ~15 ms in process. Up to 8 tasks the pool only
# pays off for partitions of over ~0.25 s each, and plans that small are mostly one-off rebuilds.
AUTO_INPROCESS_MAX_TASKS = 8


class Executor(Protocol):
    name: str

    def submit(self, spec: TaskSpec) -> None: ...

    def capacity(self) -> int: ...

    def completed(self, timeout: float | None = None) -> list[TaskOutcome]: ...

    def close(self, *, cancel: bool = False) -> None: ...


ExecutorFactory = Callable[..., Executor]
"""``factory(project=Project, workers=int | None) -> Executor``."""

_FACTORIES: dict[str, ExecutorFactory] = {}


def register_executor(name: str, factory: ExecutorFactory, *, replace: bool = False) -> None:
    """Make ``name`` a choice of ``weir run --executor``; ``factory(project=, workers=)`` builds it.
    Raises ValueError for a name taken (unless ``replace``) or not a plain word."""
    if not name.isidentifier() or name == AUTO:
        raise ValueError(f"executor name {name!r} must be a plain word other than {AUTO!r}")
    if name in _FACTORIES and not replace:
        raise ValueError(f"executor {name!r} is already registered")
    _FACTORIES[name] = factory


def unregister_executor(name: str) -> None:
    _FACTORIES.pop(name, None)


class _ExecutorNames(Sequence[str]):
    """The names ``--executor`` accepts, read from the registry each time (``auto`` last)."""

    def _names(self) -> list[str]:
        return [*_FACTORIES, AUTO]

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self._names()[i]

    def __len__(self) -> int:
        return len(_FACTORIES) + 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name == AUTO or name in _FACTORIES

    def __repr__(self) -> str:
        return repr(tuple(self._names()))


EXECUTORS: Sequence[str] = _ExecutorNames()


def choose_executor(name: str, tasks: int) -> str:
    """The registered executor a run of ``tasks`` partitions uses: ``auto`` is in-process for a
    handful of tasks and a process pool beyond. Raises UsageError for an unknown name."""
    if name == AUTO:
        return "inprocess" if tasks <= AUTO_INPROCESS_MAX_TASKS else "processes"
    if name not in _FACTORIES:
        raise UsageError(f"unknown executor {name!r} (choose: {', '.join(EXECUTORS)})")
    return name


def make_executor(name: str, project: Project, workers: int | None = None, *, tasks: int = 0) -> Executor:
    """Build the executor ``name`` (``auto`` chooses by ``tasks``). Raises UsageError if unknown."""
    return _FACTORIES[choose_executor(name, tasks)](project=project, workers=workers)


def _inprocess(*, project: Project, workers: int | None = None) -> Executor:
    from weir.engine.executors.inprocess import InProcessExecutor

    return InProcessExecutor(project)


def _processes(*, project: Project, workers: int | None = None) -> Executor:
    from weir.engine.executors.processes import ProcessExecutor

    return ProcessExecutor(project, workers)


register_executor("inprocess", _inprocess)
register_executor("processes", _processes)
