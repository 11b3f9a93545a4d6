"""Environment snapshots."""

from __future__ import annotations

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert


class Environments(Repository):
    """Environment snapshots, stored once per content hash."""

    def save(self, row: dict) -> None:
        """Keep a snapshot once per content hash (two runs starting together may both save it)."""
        self.c.execute(dialect_insert(self.c, t.environments).values(**row).on_conflict_do_nothing(index_elements=["id"]))

    def get(self, env_id: str) -> dict | None:
        row = self.c.execute(sa.select(t.environments).where(t.environments.c.id == env_id)).mappings().first()
        return dict(row) if row else None

    def count(self) -> int:
        return int(self.c.execute(sa.select(sa.func.count()).select_from(t.environments)).scalar() or 0)
