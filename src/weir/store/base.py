"""What every store module shares: the repository base bound to the store's current unit of
work, and an upsert that speaks both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

    from weir.store.store import MetadataStore


class Repository:
    """Reads and writes one concept's tables on the connection of the store's current scope
    (``store.transaction()`` or ``store.read()``)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    @property
    def c(self) -> sa.Connection:
        return self.store.connection


def dialect_insert(connection: sa.Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` in the connection's dialect, which can take ``ON CONFLICT``."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite
    return sqlite.insert(table)


def upsert(connection: sa.Connection, table: sa.Table, rows: list[dict], keys: list[str]) -> None:
    if not rows:
        return
    stmt = dialect_insert(connection, table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    connection.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)
