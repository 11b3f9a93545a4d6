"""Held versions: partitions built, checked and staged under changed code or configuration but
not published (``[run] republish = "hold"``), one per partition, until they are approved
(published) or rejected (dropped)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, upsert

KEY = ["project", "asset", "partition_key"]


class HeldVersions(Repository):
    """The versions held for approval. (``builtins.list`` below: in the class body, ``list`` is
    the method.)"""

    def hold(self, rows: builtins.list[dict]) -> None:
        """Keep ``rows`` as the held versions of their partitions, replacing one held before."""
        upsert(self.c, t.held_versions, rows, KEY)

    def list(self, project: str, *, asset: str | None = None, keys: Iterable[str] | None = None) -> builtins.list[dict]:
        """Held versions of ``project`` (of ``asset``, of partitions ``keys``), by asset and key."""
        h = t.held_versions.c
        q = sa.select(t.held_versions).where(h.project == project)
        if asset is not None:
            q = q.where(h.asset == asset)
        if keys is not None:
            q = q.where(h.partition_key.in_(builtins.list(keys)))
        return [dict(r) for r in self.c.execute(q.order_by(h.asset, h.partition_key)).mappings()]

    def drop(self, project: str, asset: str, keys: Iterable[str]) -> int:
        """Forget the held versions of ``keys`` (approved, rejected, or replaced by a publish)."""
        keys = builtins.list(keys)
        h = t.held_versions.c
        dropped = 0
        for i in range(0, len(keys), 500):
            result = self.c.execute(t.held_versions.delete().where(
                h.project == project, h.asset == asset, h.partition_key.in_(keys[i : i + 500])))
            dropped += int(result.rowcount or 0)
        return dropped

    def paths(self, project: str, asset: str) -> dict[str, str]:
        """Staged files of ``asset``'s held versions (kept until approved or rejected): path -> run id."""
        h = t.held_versions.c
        q = sa.select(h.staged_path, h.run_id).where(h.project == project, h.asset == asset)
        return {path: run_id for path, run_id in self.c.execute(q)}
