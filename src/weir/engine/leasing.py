"""The leases a run holds on the partitions it builds, so that no two live runs build one
partition at the same time.

A run takes a partition's lease as it comes up to be built (with those next in line, in one
transaction) and gives it up once the partition is published, blocked or failed (all of them when the run ends, also when it is cancelled); the
run's heartbeat renews them. When another run holds the lease, the partition waits for it or is
skipped (``[run] on_conflict``). A lease left by a run that is over — finished, or found dead
through its process id or heartbeat — is taken over at once rather than after it lapses.

Concurrent runs also meet in the metadata store: ``transact`` does a unit of work again when its
transaction lost to another run's."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from weir.engine.heartbeat import is_dead
from weir.store.leases import DEFAULT_TTL
from weir.store.store import MetadataStore

Node = tuple[str, str]  # (asset, partition key)

LEASE_TTL = DEFAULT_TTL  # a killed run's leases lapse after this many seconds without a heartbeat
POLL_SECONDS = 1.0  # how often a partition waiting for another run's lease asks again
LIVE_RUN_STATES = ("queued", "running")
TRANSACTION_ATTEMPTS = 5
# A deadlock or serialization failure (PostgreSQL), a database locked for too long (SQLite), and a
# unique key another transaction inserted between this one's check and its insert (the check
# finds it when done again)
LOST_TO_ANOTHER_WRITER = frozenset({
    "40P01", "40001", "23505",  # PostgreSQL SQLSTATEs
    "SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE",
})

T = TypeVar("T")


def transact(store: MetadataStore, write: Callable[[], T]) -> T:
    """``write()`` in one transaction of ``store``; when the transaction loses to a concurrent
    one (see ``lost_to_another_writer``) it is rolled back and done again on a fresh one, up to
    ``TRANSACTION_ATTEMPTS`` times. ``write`` must touch nothing but the store."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            with store.transaction():
                return write()
        except Exception as exc:
            if attempt == TRANSACTION_ATTEMPTS or not lost_to_another_writer(exc):
                raise
            time.sleep(random.uniform(0.05, 0.2) * attempt)
    raise AssertionError("unreachable")


def lost_to_another_writer(exc: BaseException) -> bool:
    """Whether a failed transaction lost a race with another one and may simply be done again."""
    driver_error = getattr(exc, "orig", None)
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "sqlite_errorname", None)
    return code in LOST_TO_ANOTHER_WRITER or "database is locked" in str(exc).lower()


class PartitionLeases:
    """The leases of run ``run_id`` of ``project``; ``held`` are those it has now."""

    def __init__(self, store: MetadataStore, project: str, run_id: str, *, ttl: float = LEASE_TTL) -> None:
        self.store = store
        self.project = project
        self.run_id = run_id
        self.ttl = ttl
        self.held: set[Node] = set()
        self._taken: set[Node] = set()  # ever granted: a release done again after a rollback finds them

    def take(self, nodes: list[Node]) -> dict[Node, str]:
        """Take the leases of ``nodes`` in one transaction; returns those refused, each with the
        id of the live run that holds it."""
        def acquire() -> dict[Node, str]:
            refused = self._acquire(nodes)
            over = {holder for holder in set(refused.values()) if self._is_over(holder)}
            lapsed = [n for n, holder in refused.items() if holder in over]
            for node in lapsed:
                self.store.leases.release(refused[node], [node])
            if lapsed:
                refused = {n: h for n, h in refused.items() if h not in over} | self._acquire(lapsed)
            return refused

        refused = transact(self.store, acquire)
        granted = [n for n in nodes if n not in refused]
        self.held.update(granted)
        self._taken.update(granted)
        return refused

    def release(self, nodes: Iterable[Node]) -> None:
        """Give up this run's leases of ``nodes`` (in the caller's transaction, if any)."""
        mine = [n for n in nodes if n in self._taken]
        if mine:
            with self.store.transaction():
                self.store.leases.release(self.run_id, mine)
            self.held.difference_update(mine)

    def release_all(self) -> None:
        with self.store.transaction():
            self.store.leases.release(self.run_id)
        self.held.clear()
        self._taken.clear()

    def _acquire(self, nodes: list[Node]) -> dict[Node, str]:
        granted, refused = self.store.leases.acquire(self.project, nodes, self.run_id, ttl=self.ttl)
        return {n: refused.get(n, "?") for n in nodes if n not in granted}

    def _is_over(self, holder: str) -> bool:
        """Whether the run holding a lease can no longer be building: finished, or dead. A holder
        that is not a run (another kind of worker) keeps its lease until it lapses."""
        run = self.store.runs.get(holder)
        return run is not None and (run.state not in LIVE_RUN_STATES or is_dead(run) is not None)
