"""The scheduler: submits each planned partition as soon as every planned partition it reads is
published, across the whole graph, so independent branches and the partitions of a chain
overlap; staged partitions are published in batches per asset.

When a partition is submitted is the scheduler's business; what happens to it (source
admission, input resolution, recording, publishing, monitors) is the run's, through the
:class:`RunSteps` it implements. A downstream partition reads the published files of its
upstream partitions, so it is only decided once they are published (or failed)."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from weir.engine.executors import Executor
from weir.engine.inputs import InputResolver
from weir.engine.planner import Plan
from weir.engine.tasks import TaskOutcome, TaskSpec
from weir.project.graph import Project

Node = tuple[str, str]  # (asset, partition key)
CLAIM_AHEAD = 32  # ready partitions handed to RunSteps.claim at once


class RunSteps(Protocol):
    """What the scheduler asks of the run (``engine.runner.Run``)."""

    def open_asset(self, asset: str, keys: list[str]) -> None:
        """Called once, before the first partition of ``asset`` is decided (source admission)."""

    def claim(self, nodes: list[tuple[str, str]]) -> None:
        """The partitions about to be decided, in order, a few at a time (to take their leases)."""

    def prepare(self, asset: str, key: str) -> TaskSpec | dict | Held:
        """The spec to build, the task row of a partition that is not built (skipped, upstream
        failed), or Held while another run builds it."""
        ...

    def record_unbuilt(self, asset: str, rows: list[dict]) -> None: ...

    def record_failed(self, outcome: TaskOutcome) -> None: ...

    def publish(self, asset: str, outcomes: list[TaskOutcome]) -> None:
        """Audit and publish staged outcomes in one commit; each ends published, blocked or failed."""

    def gathers(self, asset: str) -> bool:
        """Whether ``asset``'s partitions wait for each other to publish in one commit (up to the
        batch) rather than go out as they are built."""
        ...

    def finish_asset(self, asset: str, built: list[str]) -> None:
        """Called once every planned partition of ``asset`` is done; ``built`` are those staged."""


@dataclass(frozen=True, kw_only=True)
class Held:
    """A partition another live run is building: it is decided again once that run lets go."""

    holder: str


@dataclass(frozen=True, kw_only=True)
class TaskGraph:
    """The planned partitions in plan order, and which planned partitions each one reads."""

    order: dict[Node, int]
    upstream: dict[Node, frozenset[Node]]
    downstream: dict[Node, tuple[Node, ...]]
    keys: dict[str, list[str]]  # per asset, its planned keys in plan order

    @classmethod
    def of(cls, project: Project, plan: Plan, resolver: InputResolver) -> TaskGraph:
        order = {(t.asset, t.key): i for i, t in enumerate(plan.tasks)}
        upstream: dict[Node, frozenset[Node]] = {}
        downstream: dict[Node, list[Node]] = {}
        keys: dict[str, list[str]] = {}
        for t in plan.tasks:
            node = (t.asset, t.key)
            keys.setdefault(t.asset, []).append(t.key)
            asset = project.assets[t.asset]
            reads = frozenset(
                (inp.upstream, uk)
                for param, inp in asset.inputs.items()
                if inp.upstream in project.assets
                for uk in resolver.upstream_keys(asset, param, inp, t.key)
                if (inp.upstream, uk) in order
            )
            upstream[node] = reads
            for up in reads:
                downstream.setdefault(up, []).append(node)
        return cls(order=order, upstream=upstream, downstream={n: tuple(d) for n, d in downstream.items()}, keys=keys)


class Scheduler:
    """Drives one run's graph through an executor. ``batch`` partitions at most per publish;
    a staged partition waits at most ``every`` seconds for its batch to fill; a held partition
    is decided again after ``poll`` seconds."""

    def __init__(
        self, graph: TaskGraph, steps: RunSteps, executor: Executor, *, batch: int, every: float,
        poll: float = 1.0, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.graph = graph
        self.steps = steps
        self.executor = executor
        self.batch = batch
        self.every = every
        self.poll = poll
        self.clock = clock
        self.sleep = sleep
        self._waiting = {n: len(ups) for n, ups in graph.upstream.items()}  # upstream partitions not done yet
        self._left = {a: len(keys) for a, keys in graph.keys.items()}  # partitions of the asset not done yet
        self._ready: list[tuple[int, Node]] = [(graph.order[n], n) for n, w in self._waiting.items() if w == 0]
        heapq.heapify(self._ready)
        self._opened: set[str] = set()
        self._running: set[Node] = set()
        self._staged: dict[str, list[TaskOutcome]] = {}  # per asset, built and waiting to be published
        self._staged_since: dict[str, float] = {}
        self._built: dict[str, list[str]] = {}
        self._held: dict[Node, float] = {}  # partitions another run builds -> when to ask again
        self._claimed: set[Node] = set()  # handed to steps.claim and not decided yet

    def run(self) -> None:
        while any(self._left.values()):
            self._ask_again()
            self._dispatch()
            if not self._running:
                if self._staged:
                    for asset in list(self._staged):  # nothing else can move until these are published
                        self._publish(asset)
                    continue
                if self._held:  # only other runs' partitions are left to wait for
                    self.sleep(max(0.0, min(self._held.values()) - self.clock()))
                    continue
                if any(self._left.values()):
                    raise RuntimeError(f"scheduler stalled with {sum(self._left.values())} partitions left")
                return
            for outcome in self.executor.completed(self._timeout()):
                self._collect(outcome)
            self._publish_due()

    # -- submitting ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Decide ready partitions while the executor takes more: submit, or record as not built."""
        while self._ready and self.executor.capacity() > 0:
            unbuilt: dict[str, list[dict]] = {}
            while self._ready and self.executor.capacity() > 0:
                _, (asset, key) = heapq.heappop(self._ready)
                if asset not in self._opened:
                    self._opened.add(asset)
                    self.steps.open_asset(asset, self.graph.keys[asset])
                if (asset, key) not in self._claimed:
                    ahead = [(asset, key)] + [n for _, n in heapq.nsmallest(CLAIM_AHEAD - 1, self._ready)]
                    self.steps.claim(ahead)
                    self._claimed.update(ahead)
                self._claimed.discard((asset, key))
                decided = self.steps.prepare(asset, key)
                if isinstance(decided, TaskSpec):
                    self.executor.submit(decided)
                    self._running.add((asset, key))
                elif isinstance(decided, Held):
                    self._held[(asset, key)] = self.clock() + self.poll
                else:
                    unbuilt.setdefault(asset, []).append(decided)
            for asset, rows in unbuilt.items():
                self.steps.record_unbuilt(asset, rows)
                for row in rows:
                    self._done((asset, row["partition_key"]))

    def _ask_again(self) -> None:
        """Held partitions whose time has come are ready to be decided again."""
        now = self.clock()
        for node, when in list(self._held.items()):
            if when <= now:
                del self._held[node]
                heapq.heappush(self._ready, (self.graph.order[node], node))

    def _timeout(self) -> float | None:
        due = [since + self.every for since in self._staged_since.values()] + list(self._held.values())
        if not due:
            return None
        return max(0.0, min(due) - self.clock())

    # -- collecting and publishing ------------------------------------------------------------
    def _collect(self, outcome: TaskOutcome) -> None:
        node = (outcome.asset, outcome.key)
        self._running.discard(node)
        if not outcome.ok:
            self.steps.record_failed(outcome)
            self._done(node)
            return
        self._built.setdefault(outcome.asset, []).append(outcome.key)
        self._staged.setdefault(outcome.asset, []).append(outcome)
        self._staged_since.setdefault(outcome.asset, self.clock())

    def _publish_due(self) -> None:
        now = self.clock()
        for asset in list(self._staged):
            staged = self._staged[asset]
            late = now - self._staged_since[asset] >= self.every and not self.steps.gathers(asset)
            if len(staged) >= self.batch or len(staged) == self._left[asset] or late:
                self._publish(asset)
        if self._ready or self.executor.capacity() <= 0:
            return
        # the executor could take more but nothing is ready: publish what planned partitions wait for
        for asset in list(self._staged):
            if not self.steps.gathers(asset) and any(self.graph.downstream.get((asset, o.key)) for o in self._staged[asset]):
                self._publish(asset)

    def _publish(self, asset: str) -> None:
        staged = self._staged.pop(asset)
        del self._staged_since[asset]
        for i in range(0, len(staged), self.batch):
            chunk = staged[i : i + self.batch]
            self.steps.publish(asset, chunk)
            for o in chunk:
                self._done((asset, o.key))

    def _done(self, node: Node) -> None:
        """``node`` is published, blocked, failed or not built: what reads it may be decided."""
        for down in self.graph.downstream.get(node, ()):
            self._waiting[down] -= 1
            if self._waiting[down] == 0:
                heapq.heappush(self._ready, (self.graph.order[down], down))
        asset = node[0]
        self._left[asset] -= 1
        if self._left[asset] == 0:
            self.steps.finish_asset(asset, self._built.pop(asset, []))
