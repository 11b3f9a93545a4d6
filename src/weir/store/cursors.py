"""Consumer cursors: the id of the last event each consumer of the durable log is done with.

A consumer reads ``events.after(cursors.get(name))``, handles what it read, then advances its
cursor in a transaction of its own: a crash in between makes it handle those events again
(at least once), never skip them."""

from __future__ import annotations

import time
from typing import Protocol

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert


class CursorReader(Protocol):
    def get(self, name: str) -> int: ...

    def all(self) -> dict[str, dict]: ...


class CursorWriter(Protocol):
    def advance(self, name: str, position: int) -> int: ...


class ConsumerCursors(Repository):
    def get(self, name: str) -> int:
        """The position of consumer ``name``; 0 (the start of the log) for a new consumer."""
        c = t.consumer_cursors.c
        return int(self.c.execute(sa.select(c.position).where(c.name == name)).scalar() or 0)

    def all(self) -> dict[str, dict]:
        """Every consumer: {name: {position, updated_at}}."""
        rows = self.c.execute(sa.select(t.consumer_cursors).order_by(t.consumer_cursors.c.name)).mappings()
        return {r["name"]: {"position": r["position"], "updated_at": r["updated_at"]} for r in rows}

    def advance(self, name: str, position: int) -> int:
        """Move consumer ``name`` forward to ``position``; a cursor never moves back (two senders
        racing may both deliver a batch, but neither rewinds the other). Returns the position."""
        table = t.consumer_cursors
        stmt = dialect_insert(self.c, table).values(name=name, position=int(position), updated_at=time.time())
        ahead = stmt.excluded.position > table.c.position
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "position": sa.case((ahead, stmt.excluded.position), else_=table.c.position),
                "updated_at": sa.case((ahead, stmt.excluded.updated_at), else_=table.c.updated_at),
            },
        )
        self.c.execute(stmt)
        return self.get(name)
