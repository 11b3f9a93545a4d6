"""The in-process executor: builds each task in this process, one at a time."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from weir.engine.tasks import TaskOutcome, TaskSpec, execute

if TYPE_CHECKING:
    from weir.project.graph import Project


class InProcessExecutor:
    """Runs each task in this process when its outcome is asked for: simplest to debug
    (breakpoints work), and no pool to start for a small plan."""

    name = "inprocess"

    def __init__(self, project: Project) -> None:
        self.project = project
        self._queue: deque[TaskSpec] = deque()

    def submit(self, spec: TaskSpec) -> None:
        self._queue.append(spec)

    def capacity(self) -> int:
        return 0 if self._queue else 1

    def completed(self, timeout: float | None = None) -> list[TaskOutcome]:
        if not self._queue:
            return []
        spec = self._queue.popleft()
        return [execute(self.project.assets[spec.asset], spec)]

    def close(self, *, cancel: bool = False) -> None:
        self._queue.clear()
