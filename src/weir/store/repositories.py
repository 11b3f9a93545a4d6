"""Reading and writing metadata rows. All methods run on the store's one connection."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from weir.store import schema as t

ACTIVE_RUN_STATES = ("queued", "running")


def _upsert(connection, table: sa.Table, rows: list[dict], keys: list[str]) -> None:
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


class Runs:
    """Runs and their per-partition tasks."""

    def __init__(self, connection) -> None:
        self.c = connection

    def create(self, row: dict) -> None:
        self.c.execute(t.runs.insert(), row)

    def update(self, run_id: str, **fields: Any) -> None:
        self.c.execute(t.runs.update().where(t.runs.c.id == run_id).values(**fields))

    def get(self, run_id: str) -> dict | None:
        row = self.c.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        return dict(row) if row else None

    def find(self, prefix: str) -> list[str]:
        rows = self.c.execute(sa.select(t.runs.c.id).where(t.runs.c.id.startswith(prefix)).limit(3)).scalars()
        return list(rows)

    def list(self, *, project: str | None = None, limit: int = 20, state: str | None = None) -> list[dict]:
        q = sa.select(t.runs).order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc()).limit(limit)
        if project:
            q = q.where(t.runs.c.project == project)
        if state:
            q = q.where(t.runs.c.state == state)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def active(self) -> list[dict]:
        q = sa.select(t.runs).where(t.runs.c.state.in_(ACTIVE_RUN_STATES))
        return [dict(r) for r in self.c.execute(q).mappings()]

    def add_tasks(self, rows: list[dict]) -> None:
        if rows:
            self.c.execute(t.run_tasks.insert(), rows)

    def update_tasks(self, run_id: str, rows: list[dict]) -> None:
        """Update tasks by (asset, partition_key); every row must carry the same keys."""
        if not rows:
            return
        fields = [k for k in rows[0] if k not in ("asset", "partition_key")]
        stmt = (
            t.run_tasks.update()
            .where(
                t.run_tasks.c.run_id == run_id,
                t.run_tasks.c.asset == sa.bindparam("b_asset"),
                t.run_tasks.c.partition_key == sa.bindparam("b_key"),
            )
            .values({f: sa.bindparam(f"b_{f}") for f in fields})
        )
        self.c.execute(
            stmt,
            [{"b_asset": r["asset"], "b_key": r["partition_key"], **{f"b_{f}": r[f] for f in fields}} for r in rows],
        )

    def tasks(self, run_id: str) -> list[dict]:
        q = sa.select(t.run_tasks).where(t.run_tasks.c.run_id == run_id).order_by(t.run_tasks.c.asset, t.run_tasks.c.partition_key)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def unfinished_tasks_to(self, run_id: str, state: str, reason: str) -> None:
        self.c.execute(
            t.run_tasks.update()
            .where(t.run_tasks.c.run_id == run_id, t.run_tasks.c.state.in_(("queued", "running")))
            .values(state=state, reason=reason)
        )

    def task_counts(self, run_id: str) -> dict[str, int]:
        q = sa.select(t.run_tasks.c.state, sa.func.count()).where(t.run_tasks.c.run_id == run_id).group_by(t.run_tasks.c.state)
        return {s: n for s, n in self.c.execute(q)}

    def last_task_states(self, project: str, asset: str) -> dict[str, int]:
        """Count of failed-like tasks in the newest run that touched ``asset``."""
        q = (
            sa.select(t.run_tasks.c.run_id)
            .where(t.run_tasks.c.project == project, t.run_tasks.c.asset == asset)
            .order_by(t.run_tasks.c.run_id.desc())
            .limit(1)
        )
        run_id = self.c.execute(q).scalar()
        if run_id is None:
            return {}
        q2 = (
            sa.select(t.run_tasks.c.state, sa.func.count())
            .where(t.run_tasks.c.run_id == run_id, t.run_tasks.c.asset == asset)
            .group_by(t.run_tasks.c.state)
        )
        return {"run_id": run_id, **{s: n for s, n in self.c.execute(q2)}}


class Partitions:
    """The current published state of every asset partition, and every version it had."""

    def __init__(self, connection) -> None:
        self.c = connection

    def record_published(self, rows: list[dict]) -> None:
        """``rows``: project, asset, partition_key, version, run_id, code_version, input_versions, row_count."""
        if not rows:
            return
        now = time.time()
        full = [{**r, "published_at": r.get("published_at", now)} for r in rows]
        _upsert(self.c, t.partitions, full, ["project", "asset", "partition_key"])
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


class Environments:
    """Environment snapshots, stored once per content hash."""

    def __init__(self, connection) -> None:
        self.c = connection

    def save(self, row: dict) -> None:
        exists = self.c.execute(sa.select(t.environments.c.id).where(t.environments.c.id == row["id"])).first()
        if not exists:
            self.c.execute(t.environments.insert(), row)

    def get(self, env_id: str) -> dict | None:
        row = self.c.execute(sa.select(t.environments).where(t.environments.c.id == env_id)).mappings().first()
        return dict(row) if row else None

    def count(self) -> int:
        return int(self.c.execute(sa.select(sa.func.count()).select_from(t.environments)).scalar() or 0)


class CheckResults:
    """Every check outcome, per partition and run."""

    def __init__(self, connection) -> None:
        self.c = connection

    def record(self, rows: list[dict]) -> None:
        if rows:
            self.c.execute(t.check_results.insert(), rows)

    def list(
        self, project: str, *, asset: str | None = None, partition: str | None = None, failed: bool = False,
        run_id: str | None = None, latest: bool = True, limit: int = 1000,
    ) -> list[dict]:
        c = t.check_results.c
        q = sa.select(t.check_results).where(c.project == project)
        if asset:
            q = q.where(c.asset == asset)
        if partition is not None:
            q = q.where(c.partition_key == partition)
        if run_id:
            q = q.where(c.run_id == run_id)
        if latest:  # newest result of each check on each partition
            newest = (
                sa.select(sa.func.max(c.id))
                .where(c.project == project)
                .group_by(c.asset, c.partition_key, c.check_name)
            )
            q = q.where(c.id.in_(newest))
        if failed:
            q = q.where(c.passed.is_(False))
        q = q.order_by(c.asset, c.partition_key, c.check_name).limit(limit)
        return [dict(r) for r in self.c.execute(q).mappings()]


class Metrics:
    """Profile metric points (one per partition, column and metric: the latest measurement),
    per-partition sketches, and the fixed histogram bins of each column."""

    def __init__(self, connection) -> None:
        self.c = connection

    def record(self, project: str, asset: str, key: str, run_id: str | None, profile, *, quarantined: bool = False) -> None:
        """Replace what was measured on ``asset``/``key`` with ``profile`` (a quality.profile.Profile)."""
        now = time.time()
        mp, pr = t.metric_points.c, t.profiles.c
        self.c.execute(t.metric_points.delete().where(mp.project == project, mp.asset == asset, mp.partition_key == key))
        self.c.execute(t.profiles.delete().where(pr.project == project, pr.asset == asset, pr.partition_key == key))
        points = [
            {"project": project, "asset": asset, "partition_key": key, "column_name": col, "metric": metric,
             "value": value, "run_id": run_id, "quarantined": quarantined, "measured_at": now}
            for col, metric, value in profile.points()
        ]
        if points:
            self.c.execute(t.metric_points.insert(), points)
        self.c.execute(
            t.profiles.insert(),
            {"project": project, "asset": asset, "partition_key": key, "run_id": run_id, "row_count": profile.row_count,
             "sampled_rows": profile.sampled, "quarantined": quarantined, "schema": profile.schema,
             "sketches": profile.sketches(), "measured_at": now},
        )

    def put(self, project: str, asset: str, metric: str, points: list[tuple[str, str, float | None]], *,
            run_id: str | None = None, quarantined=frozenset()) -> None:
        """Set ``metric`` for (partition, column) pairs, replacing earlier values (derived metrics
        such as drift scores, computed after the profile). Points of ``quarantined`` partitions
        are marked like the profile points they are derived from."""
        mp = t.metric_points.c
        now = time.time()
        keys = sorted({k for k, _, _ in points})
        for i in range(0, len(keys), 500):
            self.c.execute(t.metric_points.delete().where(
                mp.project == project, mp.asset == asset, mp.metric == metric, mp.partition_key.in_(keys[i : i + 500])
            ))
        self.c.execute(t.metric_points.insert(), [
            {"project": project, "asset": asset, "partition_key": k, "column_name": col, "metric": metric, "value": v,
             "run_id": run_id, "quarantined": k in quarantined, "measured_at": now}
            for k, col, v in points
        ])

    def bins(self, project: str, asset: str) -> dict[str, list[float]]:
        b = t.histogram_bins.c
        q = sa.select(b.column_name, b.edges).where(b.project == project, b.asset == asset)
        return {col: edges for col, edges in self.c.execute(q)}

    def fix_bins(self, project: str, asset: str, new: dict[str, list[float]], fixed_by: str) -> None:
        """Store bins for columns that have none yet (the first writer wins)."""
        have = self.bins(project, asset)
        rows = [
            {"project": project, "asset": asset, "column_name": col, "edges": edges, "fixed_by": fixed_by,
             "created_at": time.time()}
            for col, edges in new.items() if col not in have
        ]
        if rows:
            self.c.execute(t.histogram_bins.insert(), rows)

    def series(
        self, project: str, asset: str, *, column: str | None = None, metric: str | None = None,
        start: str | None = None, end: str | None = None,
    ) -> list[dict]:
        """Metric points ordered by series then partition key; keys compare as text, which orders
        weir's key formats by time."""
        m = t.metric_points.c
        q = sa.select(m.partition_key, m.column_name, m.metric, m.value, m.run_id, m.quarantined, m.measured_at).where(
            m.project == project, m.asset == asset
        )
        if column is not None:
            q = q.where(m.column_name == column)
        if metric is not None:
            q = q.where(m.metric == metric)
        if start is not None:
            q = q.where(m.partition_key >= start)
        if end is not None:
            q = q.where(m.partition_key <= end)
        q = q.order_by(m.column_name, m.metric, m.partition_key)
        names = ("partition_key", "column_name", "metric", "value", "run_id", "quarantined", "measured_at")
        return [dict(zip(names, r)) for r in self.c.execute(q)]

    def profiles(self, project: str, asset: str, keys: list[str] | None = None) -> dict[str, dict]:
        p = t.profiles.c
        q = sa.select(t.profiles).where(p.project == project, p.asset == asset)
        if keys is not None:
            q = q.where(p.partition_key.in_(keys))
        return {r["partition_key"]: dict(r) for r in self.c.execute(q.order_by(p.partition_key)).mappings()}

    def measured_assets(self, project: str) -> list[str]:
        p = t.profiles.c
        return [a for (a,) in self.c.execute(sa.select(p.asset).where(p.project == project).distinct().order_by(p.asset))]


class SourcePartitions:
    """What the last check of each landed source partition decided (accepted or blocked), and
    for which files (by fingerprint): new files are checked again."""

    def __init__(self, connection) -> None:
        self.c = connection

    def record(self, row: dict) -> None:
        s = t.source_partitions.c
        self.c.execute(
            t.source_partitions.delete().where(
                s.project == row["project"], s.source == row["source"], s.partition_key == row["partition_key"]
            )
        )
        self.c.execute(t.source_partitions.insert(), row)

    def get(self, project: str, source: str) -> dict[str, dict]:
        s = t.source_partitions.c
        q = sa.select(t.source_partitions).where(s.project == project, s.source == source)
        return {r["partition_key"]: dict(r) for r in self.c.execute(q).mappings()}

    def list(self, project: str, *, source: str | None = None, blocked: bool = False) -> list[dict]:
        s = t.source_partitions.c
        q = sa.select(t.source_partitions).where(s.project == project)
        if source:
            q = q.where(s.source == source)
        if blocked:
            q = q.where(s.state == "blocked")
        return [dict(r) for r in self.c.execute(q.order_by(s.source, s.partition_key)).mappings()]


class Signals:
    """What the monitors found: one row per signal, replaced when a partition is evaluated again."""

    def __init__(self, connection) -> None:
        self.c = connection

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
