"""The metadata store: an engine, repositories per concept, and units of work.

A unit of work (``transaction()``) checks a connection out of the pool, commits on success and
returns it; ``read()`` does the same for reads. Nothing holds a connection between units, so a
long-lived daemon or a web server with concurrent requests can share one store. Scopes nest:
an inner scope joins the outer one. Events emitted in a unit of work are appended to the event
log in its transaction and handed to the in-process bus after it commits."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from weir.events import Event, EventBus
from weir.store.alerts import Outbox
from weir.store.baselines import Baselines
from weir.store.code import CodeVersions
from weir.store.configurations import Configurations
from weir.store.cursors import ConsumerCursors
from weir.store.database import connect, database_url, upgrade
from weir.store.envs import Environments
from weir.store.events import EventLog
from weir.store.held import HeldVersions
from weir.store.incidents import Incidents
from weir.store.leases import Leases
from weir.store.monitoring import Signals
from weir.store.partitions import Partitions
from weir.store.projects import Deployments, Projects
from weir.store.quality import CheckResults, Metrics, SourcePartitions
from weir.store.runs import Runs
from weir.store.scenarios import Daemons, Ticks, TriggerStates

if TYPE_CHECKING:
    import sqlalchemy as sa


class UnitOfWork:
    """One connection and one transaction; ``emit`` queues events for its commit."""

    def __init__(self, connection: sa.Connection, *, writes: bool) -> None:
        self.connection = connection
        self.writes = writes
        self.events: list[Event] = []

    def emit(self, *events: Event) -> None:
        self.events.extend(events)


class MetadataStore:
    """Every read and write happens inside ``read()`` or ``transaction()``."""

    def __init__(self, url: str, *, bus: EventBus | None = None) -> None:
        self.url = url
        self.engine, self.revision_before = connect(url)
        self.bus = bus or EventBus()
        self._local = threading.local()
        self.runs = Runs(self)
        self.partitions = Partitions(self)
        self.held = HeldVersions(self)
        self.environments = Environments(self)
        self.configurations = Configurations(self)
        self.code = CodeVersions(self)
        self.checks = CheckResults(self)
        self.metrics = Metrics(self)
        self.sources = SourcePartitions(self)
        self.signals = Signals(self)
        self.baselines = Baselines(self)
        self.incidents = Incidents(self)
        self.outbox = Outbox(self)
        self.events = EventLog(self)
        self.leases = Leases(self)
        self.projects = Projects(self)
        self.deployments = Deployments(self)
        self.cursors = ConsumerCursors(self)
        self.ticks = Ticks(self)
        self.trigger_states = TriggerStates(self)
        self.daemons = Daemons(self)

    @classmethod
    def for_workspace(cls, workspace: Path, *, url: str | None = None, bus: EventBus | None = None) -> MetadataStore:
        """The store of ``workspace``: at ``url`` (the instance's configured one), else its SQLite file."""
        workspace.mkdir(parents=True, exist_ok=True)
        return cls(database_url(workspace, url), bus=bus)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def unit(self) -> UnitOfWork:
        unit = getattr(self._local, "unit", None)
        if unit is None:
            raise RuntimeError("the metadata store was used outside store.read() or store.transaction()")
        return unit

    @property
    def connection(self) -> sa.Connection:
        """The connection of the current unit of work."""
        return self.unit.connection

    def emit(self, *events: Event) -> None:
        """Queue events in the current transaction: logged with it, published after it commits."""
        unit = self.unit
        if not unit.writes:
            raise RuntimeError("events are emitted inside store.transaction(), with the change they describe")
        unit.emit(*events)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """Commit on success, roll back on error. Inside another scope it joins that scope's
        transaction (and inside a read scope it commits at its own end)."""
        outer = getattr(self._local, "unit", None)
        if outer is not None and outer.writes:
            yield outer
            return
        if outer is not None:  # a write inside a read: same connection, committed at the end
            unit = UnitOfWork(outer.connection, writes=True)
            self._local.unit = unit
            try:
                yield unit
                logged = self.events.append(unit.events)
                outer.connection.commit()
            except BaseException:
                outer.connection.rollback()
                raise
            finally:
                self._local.unit = outer
            self.bus.publish(logged)
            return
        with self.engine.connect() as connection:
            unit = UnitOfWork(connection, writes=True)
            self._local.unit = unit
            try:
                yield unit
                logged = self.events.append(unit.events)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                self._local.unit = None
        self.bus.publish(logged)

    @contextlib.contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A read scope: its own connection (or the enclosing scope's), rolled back at the end."""
        outer = getattr(self._local, "unit", None)
        if outer is not None:
            yield outer
            return
        with self.engine.connect() as connection:
            unit = UnitOfWork(connection, writes=False)
            self._local.unit = unit
            try:
                yield unit
            finally:
                self._local.unit = None
                connection.rollback()

    def upgrade(self) -> str | None:
        """Apply pending migrations; returns the revision the store had when this command opened it."""
        with self.engine.connect() as connection:
            upgrade(connection)
        return self.revision_before

    def close(self) -> None:
        self.engine.dispose()
