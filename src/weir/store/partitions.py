"""Published partitions: the current version of each, and every version it had."""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, upsert


class Partitions(Repository):
    """The current published state of every asset partition, and every version it had."""

    def record_published(self, rows: list[dict]) -> None:
        """``rows``: project, asset, partition_key, version, run_id, code_version, input_versions, row_count."""
        if not rows:
            return
        now = time.time()
        full = [{**r, "published_at": r.get("published_at", now)} for r in rows]
        upsert(self.c, t.partitions, full, ["project", "asset", "partition_key"])
        self.c.execute(
            t.partition_versions.insert(),
            [{k: r[k] for k in ("project", "asset", "partition_key", "version", "run_id", "code_version", "row_count", "published_at")} for r in full],
        )

    def current(self, project: str, assets: Iterable[str] | None = None) -> dict[tuple[str, str], dict]:
        q = sa.select(
            t.partitions.c.asset,
            t.partitions.c.partition_key,
            t.partitions.c.version,
            t.partitions.c.run_id,
            t.partitions.c.code_version,
            t.partitions.c.input_versions,
            t.partitions.c.row_count,
            t.partitions.c.published_at,
        ).where(t.partitions.c.project == project)
        if assets is not None:
            q = q.where(t.partitions.c.asset.in_(list(assets)))
        return {(r["asset"], r["partition_key"]): dict(r) for r in self.c.execute(q).mappings()}

    def summary(self, project: str) -> dict[str, dict]:
        """Per asset: partitions published, rows, newest key and last publish time — one grouped query."""
        p = t.partitions.c
        q = (
            sa.select(
                p.asset,
                sa.func.count().label("published"),
                sa.func.sum(p.row_count).label("rows"),
                sa.func.min(p.partition_key).label("first"),
                sa.func.max(p.partition_key).label("last"),
                sa.func.max(p.published_at).label("published_at"),
                sa.func.count(sa.distinct(p.code_version)).label("code_versions"),
            )
            .where(p.project == project)
            .group_by(p.asset)
        )
        return {r["asset"]: dict(r) for r in self.c.execute(q).mappings()}

    def code_version_counts(self, project: str, asset: str) -> dict[str, int]:
        p = t.partitions.c
        q = sa.select(p.code_version, sa.func.count()).where(p.project == project, p.asset == asset).group_by(p.code_version)
        return {cv: n for cv, n in self.c.execute(q)}

    def history(self, project: str, asset: str, key: str) -> list[dict]:
        v = t.partition_versions.c
        q = (
            sa.select(t.partition_versions)
            .where(v.project == project, v.asset == asset, v.partition_key == key)
            .order_by(v.version.desc())
        )
        return [dict(r) for r in self.c.execute(q).mappings()]

    def published_by_run(self, project: str, run_id: str) -> set[tuple[str, str]]:
        v = t.partition_versions.c
        q = sa.select(v.asset, v.partition_key).where(v.project == project, v.run_id == run_id)
        return {(a, k) for a, k in self.c.execute(q)}

    def adopt_code_version(self, project: str, asset: str, old: str, new: str) -> int:
        """Partitions recorded with code version ``old`` that ``new`` describes as well (the same
        code, hashed the way weir hashes now) take ``new``; returns how many did."""
        if old == new:
            return 0
        p = t.partitions.c
        result = self.c.execute(
            t.partitions.update().where(p.project == project, p.asset == asset, p.code_version == old).values(code_version=new)
        )
        return int(result.rowcount or 0)

