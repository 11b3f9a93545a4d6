"""Scenario ticks, what each scenario's triggers have handled, and daemon heartbeats.

A tick is created once: ``create`` inserts if absent under the unique (project, scenario,
scheduled_for), so two daemons that see the same cron time or the same landing make one row.
It is run once: ``claim`` moves it to ``running`` with a lease in one conditional UPDATE, so of
two daemons racing for it one wins (PostgreSQL re-checks the condition on the locked row;
SQLite has one writer). A holder renews its lease while it runs; a holder that dies leaves the
lease to lapse, and the next claim takes the tick on where its steps stopped."""

from __future__ import annotations

import time
from typing import Any, Protocol

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert

ACTIVE = ("pending", "running")


class TickReader(Protocol):
    def get(self, tick_id: int) -> dict | None: ...

    def history(self, project: str, scenario: str | None = None, *, limit: int | None = 50) -> list[dict]: ...


class TickWriter(Protocol):
    def create(self, row: dict) -> int | None: ...

    def claim(self, project: str, holder: str, *, now: float, lease: float) -> tuple[dict, dict] | None: ...

    def update(self, tick_id: int, by: str, **values: Any) -> bool: ...


class Ticks(Repository):
    def create(self, row: dict) -> int | None:
        """Insert the tick unless one with its (project, scenario, scheduled_for) exists;
        returns the new id, or None when it was there already."""
        stmt = dialect_insert(self.c, t.scenario_ticks).values(**row).on_conflict_do_nothing(
            index_elements=["project", "scenario", "scheduled_for"]).returning(t.scenario_ticks.c.id)
        return self.c.execute(stmt).scalar()

    def _due(self, now: float) -> sa.ColumnElement[bool]:
        c = t.scenario_ticks.c
        return sa.or_(sa.and_(c.state == "pending", c.due_at <= now),
                      sa.and_(c.state == "running", c.lease_until < now))

    def claim(self, project: str, holder: str, *, now: float, lease: float) -> tuple[dict, dict] | None:
        """Take the tick due first (pending and due, or running with a lapsed lease) for ``lease``
        seconds. Returns (the tick as it was before, the tick now), or None when none is due."""
        c = t.scenario_ticks.c
        q = (sa.select(t.scenario_ticks).where(c.project == project, self._due(now))
             .order_by(c.due_at, c.id).limit(5))
        if self.c.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for before in [dict(r) for r in self.c.execute(q).mappings()]:
            taken = self.c.execute(
                sa.update(t.scenario_ticks).where(c.id == before["id"], self._due(now))
                .values(state="running", holder=holder, lease_until=now + lease, claims=c.claims + 1,
                        started_at=sa.func.coalesce(c.started_at, now))
            ).rowcount
            if taken:
                return before, self.get(before["id"]) or before
        return None

    def start(self, row: dict, holder: str, *, now: float, lease: float) -> int:
        """Create a tick already claimed by ``holder`` (a run by hand); returns its id."""
        values = {**row, "state": "running", "holder": holder, "lease_until": now + lease, "claims": 1,
                  "started_at": now}
        return int(self.c.execute(t.scenario_ticks.insert().values(**values).returning(t.scenario_ticks.c.id)).scalar_one())

    def update(self, tick_id: int, by: str, **values: Any) -> bool:
        """Change a tick holder ``by`` still holds; False when it does not (its lease lapsed and
        another took it)."""
        c = t.scenario_ticks.c
        result = self.c.execute(sa.update(t.scenario_ticks).where(c.id == tick_id, c.holder == by,
                                                                  c.state == "running").values(**values))
        return bool(result.rowcount)

    def note(self, tick_id: int, **values: Any) -> None:
        """Set columns of a tick whoever holds it (what its reporters did, after it finished)."""
        self.c.execute(sa.update(t.scenario_ticks).where(t.scenario_ticks.c.id == tick_id).values(**values))

    def runs(self, tick_id: int) -> list[str]:
        """The runs a tick's steps started (their trigger is ``tick:<id>``), oldest first."""
        r = t.runs.c
        q = sa.select(r.id).where(r.trigger == f"tick:{tick_id}").order_by(r.created_at, r.id)
        return [row[0] for row in self.c.execute(q)]

    def renew(self, holder: str, *, until: float) -> int:
        c = t.scenario_ticks.c
        return int(self.c.execute(sa.update(t.scenario_ticks).where(c.holder == holder, c.state == "running")
                                  .values(lease_until=until)).rowcount or 0)

    def lapse(self, holders: list[str]) -> int:
        """Let the leases of dead holders lapse now, so their ticks are taken on at once."""
        if not holders:
            return 0
        c = t.scenario_ticks.c
        return int(self.c.execute(sa.update(t.scenario_ticks).where(c.holder.in_(holders), c.state == "running")
                                  .values(lease_until=0.0)).rowcount or 0)

    def get(self, tick_id: int) -> dict | None:
        row = self.c.execute(sa.select(t.scenario_ticks).where(t.scenario_ticks.c.id == tick_id)).mappings().first()
        return dict(row) if row else None

    def history(self, project: str, scenario: str | None = None, *, limit: int | None = 50) -> list[dict]:
        """Newest first."""
        c = t.scenario_ticks.c
        q = sa.select(t.scenario_ticks).where(c.project == project)
        if scenario is not None:
            q = q.where(c.scenario == scenario)
        q = q.order_by(c.id.desc())
        if limit:
            q = q.limit(limit)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def latest(self, project: str) -> dict[str, dict]:
        """The newest tick of each scenario of the project."""
        c = t.scenario_ticks.c
        newest = sa.select(sa.func.max(c.id)).where(c.project == project).group_by(c.scenario)
        rows = self.c.execute(sa.select(t.scenario_ticks).where(c.id.in_(newest))).mappings()
        return {r["scenario"]: dict(r) for r in rows}

    def active(self, project: str) -> list[dict]:
        c = t.scenario_ticks.c
        q = sa.select(t.scenario_ticks).where(c.project == project, c.state.in_(ACTIVE)).order_by(c.due_at, c.id)
        return [dict(r) for r in self.c.execute(q).mappings()]


class TriggerStates(Repository):
    def lock(self, project: str, scenario: str) -> dict | None:
        """The state of a scenario's triggers, its row locked until the transaction ends, so
        two daemons never evaluate one scenario at once. None when another daemon holds it now
        (PostgreSQL; SQLite has one writer)."""
        table = t.scenario_triggers
        c = table.c
        q = sa.select(c.state).where(c.project == project, c.scenario == scenario)
        if self.c.dialect.name == "postgresql":
            self.c.execute(dialect_insert(self.c, table).values(project=project, scenario=scenario, state={},
                                                                updated_at=time.time())
                           .on_conflict_do_nothing(index_elements=["project", "scenario"]))
            row = self.c.execute(q.with_for_update(skip_locked=True)).first()
            return dict(row[0] or {}) if row is not None else None
        row = self.c.execute(q).first()
        return dict(row[0] or {}) if row is not None else {}

    def save(self, project: str, scenario: str, state: dict) -> None:
        stmt = dialect_insert(self.c, t.scenario_triggers).values(project=project, scenario=scenario, state=state,
                                                                  updated_at=time.time())
        self.c.execute(stmt.on_conflict_do_update(index_elements=["project", "scenario"],
                                                  set_={"state": stmt.excluded.state,
                                                        "updated_at": stmt.excluded.updated_at}))


class Daemons(Repository):
    def register(self, row: dict, *, alone_unless_dead_before: float | None = None) -> bool:
        """Insert this daemon's row. With ``alone_unless_dead_before``, only if no other daemon
        is running (not stopped, heartbeat after that time), in one statement; returns whether
        it was inserted."""
        table = t.daemons
        if alone_unless_dead_before is None:
            self.c.execute(table.insert().values(**row))
            return True
        c = table.c
        other = sa.select(c.id).where(c.stopped_at.is_(None), c.heartbeat_at >= alone_unless_dead_before)
        columns = list(row)
        values = sa.select(*[sa.literal(row[k], type_=table.c[k].type).label(k) for k in columns]).where(~sa.exists(other))
        return bool(self.c.execute(table.insert().from_select(columns, values)).rowcount)

    def beat(self, daemon_id: str, *, at: float, doing: str | None = None) -> None:
        c = t.daemons.c
        values: dict[str, Any] = {"heartbeat_at": at}
        if doing is not None:
            values["doing"] = doing
        self.c.execute(sa.update(t.daemons).where(c.id == daemon_id).values(**values))

    def stop(self, daemon_id: str, *, at: float, doing: str = "stopped") -> None:
        c = t.daemons.c
        self.c.execute(sa.update(t.daemons).where(c.id == daemon_id, c.stopped_at.is_(None))
                       .values(stopped_at=at, doing=doing))

    def running(self) -> list[dict]:
        """Daemons not stopped, newest first (some may be dead: judge by heartbeat and pid)."""
        c = t.daemons.c
        return [dict(r) for r in self.c.execute(sa.select(t.daemons).where(c.stopped_at.is_(None))
                                                .order_by(c.started_at.desc())).mappings()]

    def list(self, *, limit: int = 50) -> list[dict]:
        c = t.daemons.c
        return [dict(r) for r in self.c.execute(sa.select(t.daemons).order_by(c.started_at.desc()).limit(limit))
                .mappings()]
