"""Quality records: check results, metric points and sketches, source partition decisions."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert, upsert


class MeasuredProfile(Protocol):
    """What the store keeps of a partition's profile (``weir.quality.profile.Profile``)."""

    @property
    def row_count(self) -> int: ...

    @property
    def sampled(self) -> int: ...

    @property
    def schema(self) -> dict[str, str]: ...

    def points(self) -> list[tuple[str, str, float | None]]: ...

    def sketches(self) -> dict: ...


@dataclass(frozen=True, kw_only=True)
class KeptProfile:
    """A profile kept as JSON (``to_json``) until it is recorded: the measurements of a version
    held for approval, recorded when it is published."""

    row_count: int
    sampled: int
    schema: dict[str, str]
    kept_points: tuple[tuple[str, str, float | None], ...]
    kept_sketches: dict

    def points(self) -> list[tuple[str, str, float | None]]:
        return list(self.kept_points)

    def sketches(self) -> dict:
        return self.kept_sketches

    @classmethod
    def of(cls, profile: MeasuredProfile) -> KeptProfile:
        return cls(row_count=profile.row_count, sampled=profile.sampled, schema=dict(profile.schema),
                   kept_points=tuple(profile.points()), kept_sketches=profile.sketches())

    def to_json(self) -> dict:
        return {"row_count": self.row_count, "sampled": self.sampled, "schema": self.schema,
                "points": [list(p) for p in self.kept_points], "sketches": self.kept_sketches}

    @classmethod
    def from_json(cls, d: dict) -> KeptProfile:
        return cls(row_count=d["row_count"], sampled=d["sampled"], schema=d["schema"],
                   kept_points=tuple((c, m, v) for c, m, v in d["points"]), kept_sketches=d["sketches"])


class CheckResults(Repository):
    """Every check outcome, per partition and run."""

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


class Metrics(Repository):
    """Profile metric points (one per partition, column and metric: the latest measurement),
    per-partition sketches, and the fixed histogram bins of each column."""

    def record(self, project: str, asset: str, key: str, run_id: str | None, profile: MeasuredProfile, *,
               quarantined: bool = False) -> None:
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
            run_id: str | None = None, quarantined: Collection[str] = frozenset()) -> None:
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

    def judge(self, project: str, asset: str, judgements: list[dict]) -> None:
        """Store how the monitors judged points: ``{partition_key, column_name, metric, center,
        lower, upper, state, model}`` each. Reads show these; they never redraw a chart."""
        if not judgements:
            return
        m = t.metric_points.c
        stmt = (
            t.metric_points.update()
            .where(m.project == project, m.asset == asset, m.partition_key == sa.bindparam("b_key"),
                   m.column_name == sa.bindparam("b_column"), m.metric == sa.bindparam("b_metric"))
            .values(center=sa.bindparam("b_center"), lower=sa.bindparam("b_lower"), upper=sa.bindparam("b_upper"),
                    state=sa.bindparam("b_state"), model=sa.bindparam("b_model"))
        )
        self.c.execute(stmt, [
            {"b_key": j["partition_key"], "b_column": j["column_name"], "b_metric": j["metric"], "b_center": j["center"],
             "b_lower": j["lower"], "b_upper": j["upper"], "b_state": j["state"], "b_model": j.get("model")}
            for j in judgements
        ])

    def chart_states(self, project: str, asset: str) -> dict[tuple[str, str], dict]:
        """The saved forecast-chart states of ``asset``: (column, metric) -> {last_key, settings, state}."""
        c = t.chart_states.c
        q = sa.select(c.column_name, c.metric, c.last_key, c.settings, c.state).where(
            c.project == project, c.asset == asset)
        return {(r.column_name, r.metric): {"last_key": r.last_key, "settings": r.settings, "state": r.state}
                for r in self.c.execute(q)}

    def keep_chart_states(self, project: str, asset: str, rows: list[dict]) -> None:
        """Save states: ``{column_name, metric, last_key, settings, state}`` each (replacing)."""
        upsert(self.c, t.chart_states, [{"project": project, "asset": asset, **r} for r in rows],
               ["project", "asset", "column_name", "metric"])

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
        for row in rows:  # two runs measuring a new column at once: the first writer still wins
            self.c.execute(dialect_insert(self.c, t.histogram_bins).values(**row)
                           .on_conflict_do_nothing(index_elements=["project", "asset", "column_name"]))

    def series(
        self, project: str, asset: str, *, column: str | None = None, metric: str | None = None,
        start: str | None = None, end: str | None = None,
    ) -> list[dict]:
        """Metric points ordered by series then partition key; keys compare as text, which orders
        weir's key formats by time."""
        m = t.metric_points.c
        q = sa.select(m.partition_key, m.column_name, m.metric, m.value, m.run_id, m.quarantined, m.measured_at,
                      m.center, m.lower, m.upper, m.state, m.model).where(
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
        names = ("partition_key", "column_name", "metric", "value", "run_id", "quarantined", "measured_at",
                 "center", "lower", "upper", "state", "model")
        return [dict(zip(names, r, strict=True)) for r in self.c.execute(q)]

    def points(self, project: str, asset: str, keys: list[str]) -> dict[str, list[dict]]:
        """The metric points of partitions ``keys`` by key: ``{column_name, metric, value, run_id, quarantined}``."""
        m = t.metric_points.c
        out: dict[str, list[dict]] = {}
        for i in range(0, len(keys), 500):
            q = sa.select(m.partition_key, m.column_name, m.metric, m.value, m.run_id, m.quarantined).where(
                m.project == project, m.asset == asset, m.partition_key.in_(keys[i : i + 500]))
            for r in self.c.execute(q).mappings():
                out.setdefault(r["partition_key"], []).append(dict(r))
        return out

    def extent(self, project: str, asset: str | None = None) -> dict[str, tuple[str, str]]:
        """Per asset or source (or only ``asset``): its first and last measured partition key
        (as text), for those with partitioned points."""
        m = t.metric_points.c
        q = sa.select(m.asset, sa.func.min(m.partition_key), sa.func.max(m.partition_key)).where(
            m.project == project, m.partition_key != "")
        if asset is not None:
            q = q.where(m.asset == asset)
        return {a: (lo, hi) for a, lo, hi in self.c.execute(q.group_by(m.asset))}

    def profiles(self, project: str, asset: str, keys: list[str] | None = None) -> dict[str, dict]:
        p = t.profiles.c
        q = sa.select(t.profiles).where(p.project == project, p.asset == asset)
        if keys is not None:
            q = q.where(p.partition_key.in_(keys))
        return {r["partition_key"]: dict(r) for r in self.c.execute(q.order_by(p.partition_key)).mappings()}

    def measured_assets(self, project: str) -> list[str]:
        p = t.profiles.c
        return [a for (a,) in self.c.execute(sa.select(p.asset).where(p.project == project).distinct().order_by(p.asset))]


class SourcePartitions(Repository):
    """What the last check of each landed source partition decided (accepted or blocked), and
    for which files (by fingerprint): new files are checked again."""

    def record(self, row: dict) -> None:
        """Keep ``row`` as the decision on its source partition. An upsert: two runs admitting the
        same delivery at once both succeed (the later one's decision stays)."""
        upsert(self.c, t.source_partitions, [row], ["project", "source", "partition_key"])

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
