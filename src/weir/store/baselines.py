"""Baseline resets: a series (an asset's, one column's, or one column metric's) accepted as a
new normal from a partition on. The monitors form that series' baseline only from the point of
that partition onward, so a level that changed for good stops alerting once it is accepted."""

from __future__ import annotations

import time
from typing import Protocol

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository

COLUMNS = ("id", "project", "asset", "column_name", "metric", "from_key", "note", "created_at", "actor")


class BaselineReader(Protocol):
    def list(self, project: str, asset: str | None = None) -> list[dict]: ...


class BaselineWriter(Protocol):
    def add(self, project: str, asset: str, column: str | None, metric: str | None, from_key: str,
            note: str | None = None, *, actor: str | None = None) -> dict: ...


class Baselines(Repository):
    def add(self, project: str, asset: str, column: str | None, metric: str | None, from_key: str,
            note: str | None = None, *, actor: str | None = None) -> dict:
        """Record a reset of ``asset``'s series from partition ``from_key`` on. ``column`` None
        is every column ('' the table-level series), ``metric`` None every metric. Returns the
        stored row (keys ``COLUMNS``)."""
        row = {"project": project, "asset": asset, "column_name": column, "metric": metric, "from_key": from_key,
               "note": note, "created_at": time.time(), "actor": actor}
        (row_id,) = self.c.execute(t.baseline_resets.insert().values(**row)).inserted_primary_key or (None,)
        return {"id": row_id, **row}

    def list(self, project: str, asset: str | None = None) -> list[dict]:
        """Every reset of the project (or of one asset or source), oldest first."""
        b = t.baseline_resets.c
        q = sa.select(t.baseline_resets).where(b.project == project)
        if asset is not None:
            q = q.where(b.asset == asset)
        return [dict(r) for r in self.c.execute(q.order_by(b.created_at, b.id)).mappings()]
