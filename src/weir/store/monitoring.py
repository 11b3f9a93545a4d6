"""Monitor signals."""

from __future__ import annotations

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository


class Signals(Repository):
    """What the monitors found: one row per signal, replaced when a partition is evaluated again."""

    def replace(self, project: str, asset: str, keys: list[str], rows: list[dict]) -> None:
        s = t.signals.c
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            self.c.execute(t.signals.delete().where(s.project == project, s.asset == asset, s.partition_key.in_(chunk)))
        if rows:
            self.c.execute(t.signals.insert(), rows)

    def list(self, project: str, *, asset: str | None = None, partition: str | None = None,
             limit: int | None = 1000) -> list[dict]:
        s = t.signals.c
        q = sa.select(t.signals).where(s.project == project)
        if asset:
            q = q.where(s.asset == asset)
        if partition is not None:
            q = q.where(s.partition_key == partition)
        q = q.order_by(s.partition_key.desc(), s.asset, s.column_name, s.metric)
        if limit is not None:
            q = q.limit(limit)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def alerted_keys(self, project: str, asset: str) -> set[str]:
        s = t.signals.c
        q = sa.select(s.partition_key).where(s.project == project, s.asset == asset, s.severity == "alert").distinct()
        return {k for (k,) in self.c.execute(q)}
