"""What every store module shares: the repository base bound to the store's current unit of
work, and an upsert that speaks both SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa


class Repository:
    """Reads and writes one concept's tables on the connection of the store's current scope
    (``store.transaction()`` or ``store.read()``)."""

    def __init__(self, store) -> None:
        self.store = store

    @property
    def c(self):
        return self.store.connection


def upsert(connection, table: sa.Table, rows: list[dict], keys: list[str]) -> None:
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    connection.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)
