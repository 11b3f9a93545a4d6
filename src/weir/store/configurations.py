"""Configuration snapshots: weir.toml and the checks and monitors of a project, as runs used them."""

from __future__ import annotations

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert


class Configurations(Repository):
    """Configuration snapshots, stored once per content hash."""

    def save(self, row: dict) -> None:
        """Keep a snapshot once per content hash (two runs starting together may both save it)."""
        self.c.execute(dialect_insert(self.c, t.configurations).values(**row)
                       .on_conflict_do_nothing(index_elements=["id"]))

    def get(self, configuration_id: str) -> dict | None:
        c = t.configurations.c
        row = self.c.execute(sa.select(t.configurations).where(c.id == configuration_id)).mappings().first()
        return dict(row) if row else None
