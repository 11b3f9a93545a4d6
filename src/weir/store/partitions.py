"""Published partitions: the current version of each, and every version it had."""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, upsert
from weir.store.readers import PartitionSummaryReader
from weir.store.summary import fold

VERSION_FIELDS = ("project", "asset", "partition_key", "version", "run_id", "code_version", "row_count", "published_at")


class Partitions(Repository):
    """The current published state of every asset partition, and every version it had."""

    def record_published(self, rows: list[dict]) -> None:
        """``rows``: project, asset, partition_key, version, run_id, code_version, input_versions, row_count."""
        if not rows:
            return
        now = time.time()
        full = [{**r, "published_at": r.get("published_at", now)} for r in rows]
        upsert(self.c, t.partitions, full, ["project", "asset", "partition_key"])
        self.record_versions(full)

    def set_current(self, rows: list[dict]) -> None:
        """Set the current state of partitions (``record_published``'s fields) without adding to
        their history: for rows rebuilt from a Delta log whose versions the history holds."""
        if rows:
            upsert(self.c, t.partitions, rows, ["project", "asset", "partition_key"])

    def forget_versions(self, project: str, asset: str, *, after: int) -> list[tuple[str, int]]:
        """Drop from ``asset``'s history the versions above ``after`` (versions its table no longer
        has); returns the (partition key, version) pairs dropped."""
        v = t.partition_versions.c
        where = (v.project == project, v.asset == asset, v.version > after)
        gone = [(k, n) for k, n in self.c.execute(sa.select(v.partition_key, v.version).where(*where))]
        if gone:
            self.c.execute(t.partition_versions.delete().where(*where))
        return sorted(gone)

    def record_versions(self, rows: list[dict]) -> None:
        """Add ``rows`` to the partitions' version history only (the current state is left as is)."""
        if not rows:
            return
        now = time.time()
        self.c.execute(
            t.partition_versions.insert(),
            [{**{k: r[k] for k in VERSION_FIELDS if k in r}, "published_at": r.get("published_at", now)} for r in rows],
        )

    def forget(self, project: str, asset: str, keys: Iterable[str]) -> None:
        """Drop the current state of partitions that are no longer published (their history stays)."""
        keys = list(keys)
        if keys:
            p = t.partitions.c
            self.c.execute(t.partitions.delete().where(p.project == project, p.asset == asset, p.partition_key.in_(keys)))

    def projects(self) -> list[str]:
        """Projects with a published partition or a recorded version."""
        q = sa.union(sa.select(t.partitions.c.project), sa.select(t.partition_versions.c.project))
        return sorted(r[0] for r in self.c.execute(q))

    def versions(self, project: str, asset: str) -> set[tuple[str, int]]:
        """Every (partition key, version) the history of ``asset`` holds."""
        v = t.partition_versions.c
        q = sa.select(v.partition_key, v.version).where(v.project == project, v.asset == asset)
        return {(k, n) for k, n in self.c.execute(q)}

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
        """Per asset: partitions published, rows, first and newest key, last publish time, and
        partitions per code version (``by_code``): one scan of the project's partitions."""
        p = t.partitions.c
        q = (
            sa.select(p.asset, p.code_version, sa.func.count(), sa.func.sum(p.row_count), sa.func.min(p.partition_key),
                      sa.func.max(p.partition_key), sa.func.max(p.published_at))
            .where(p.project == project)
            .group_by(p.asset, p.code_version)
        )
        return fold(self.c.execute(q))

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



def _implements(partitions: Partitions) -> PartitionSummaryReader:
    return partitions  # mypy holds the repository to the protocol it shares with the light reader
