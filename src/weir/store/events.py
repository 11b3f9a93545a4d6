"""The durable event log: append inside the unit of work of the change, read by cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa

from weir.events import Event
from weir.store import schema as t
from weir.store.base import Repository

# PostgreSQL hands out serial ids at insert but commits in any order: a consumer could read id 11
# before id 10 commits and skip 10 for ever. Event-writing transactions therefore take this
# transaction-scoped lock, so ids become visible in order (SQLite has one writer anyway).
_EVENT_LOCK = 0x7765697265  # "weire"


class EventReader(Protocol):
    def after(self, cursor: int = 0, *, kinds: Sequence[str] = (), project: str | None = None,
              limit: int | None = 1000) -> list[Event]: ...

    def newest(self, *, before: int | None = None, kinds: Sequence[str] = (), project: str | None = None,
               limit: int = 100) -> list[Event]: ...

    def last_id(self) -> int: ...


class EventWriter(Protocol):
    def append(self, events: Sequence[Event]) -> list[Event]: ...


class EventLog(Repository):
    def append(self, events: Sequence[Event]) -> list[Event]:
        """Insert ``events`` in order; returns them with their ids."""
        if not events:
            return []
        if self.c.dialect.name == "postgresql":
            self.c.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _EVENT_LOCK})
        rows = [{"kind": str(e.kind), "project": e.project, "asset": e.asset, "partition_key": e.partition_key,
                 "run_id": e.run_id, "at": e.at, "data": dict(e.data)} for e in events]
        # ids follow the order of the changes: one multi-row insert returning them in parameter order
        ids = self.c.execute(t.events.insert().returning(t.events.c.id, sort_by_parameter_order=True), rows).scalars().all()
        return [_with_id(e, i) for e, i in zip(events, ids, strict=True)]

    def after(self, cursor: int = 0, *, kinds: Sequence[str] = (), project: str | None = None,
              limit: int | None = 1000) -> list[Event]:
        """Events with an id above ``cursor``, oldest first."""
        e = t.events.c
        q = sa.select(t.events).where(e.id > cursor).order_by(e.id)
        if kinds:
            q = q.where(e.kind.in_([str(k) for k in kinds]))
        if project:
            q = q.where(e.project == project)
        if limit is not None:
            q = q.limit(limit)
        return [_event(r) for r in self.c.execute(q).mappings()]

    def newest(self, *, before: int | None = None, kinds: Sequence[str] = (), project: str | None = None,
               limit: int = 100) -> list[Event]:
        """The ``limit`` newest events (with an id below ``before``, if given), oldest first."""
        e = t.events.c
        q = sa.select(t.events).order_by(e.id.desc()).limit(limit)
        if before is not None:
            q = q.where(e.id < before)
        if kinds:
            q = q.where(e.kind.in_([str(k) for k in kinds]))
        if project:
            q = q.where(e.project == project)
        return [_event(r) for r in reversed(self.c.execute(q).mappings().all())]

    def about_incident(self, project: str, incident_id: int, *, kinds: Sequence[str] = ()) -> list[Event]:
        """The events of one incident (``data.incident``), oldest first: read by the incident, not
        by scanning the log."""
        e = t.events.c
        q = (sa.select(t.events).where(e.project == project, e.data["incident"].as_integer() == incident_id)
             .order_by(e.id))
        if kinds:
            q = q.where(e.kind.in_([str(k) for k in kinds]))
        return [_event(r) for r in self.c.execute(q).mappings()]

    def about_incidents(self, project: str, incident_ids: Sequence[int], *, kinds: Sequence[str] = ()) -> list[Event]:
        """The events of the incidents ``incident_ids`` (``data.incident``), oldest first."""
        if not incident_ids:
            return []
        e = t.events.c
        out: list[Event] = []
        ids = sorted(set(incident_ids))
        for i in range(0, len(ids), 500):
            q = sa.select(t.events).where(e.project == project, e.data["incident"].as_integer().in_(ids[i : i + 500]))
            if kinds:
                q = q.where(e.kind.in_([str(k) for k in kinds]))
            out.extend(_event(r) for r in self.c.execute(q).mappings())
        return sorted(out, key=lambda x: x.id or 0)

    def since(self, at: float, *, kinds: Sequence[str] = (), project: str | None = None) -> list[Event]:
        """Events logged at or after ``at`` (seconds since the epoch), oldest first."""
        e = t.events.c
        q = sa.select(t.events).where(e.at >= at).order_by(e.id)
        if kinds:
            q = q.where(e.kind.in_([str(k) for k in kinds]))
        if project:
            q = q.where(e.project == project)
        return [_event(r) for r in self.c.execute(q).mappings()]

    def by_id(self, event_id: int) -> Event | None:
        row = self.c.execute(sa.select(t.events).where(t.events.c.id == event_id)).mappings().first()
        return _event(row) if row else None

    def last_id(self) -> int:
        return int(self.c.execute(sa.select(sa.func.max(t.events.c.id))).scalar() or 0)


def _with_id(e: Event, new_id: int) -> Event:
    from dataclasses import replace

    return replace(e, id=int(new_id))


def _event(r: sa.RowMapping) -> Event:
    return Event(id=r["id"], kind=r["kind"], project=r["project"], asset=r["asset"], partition_key=r["partition_key"],
                 run_id=r["run_id"], at=r["at"], data=r["data"] or {})
