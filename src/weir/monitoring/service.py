"""Monitoring as users ask for it: metric series with the limits each point was judged against,
the signals the monitors stored, and the state of every monitored series.

Everything shown is what the monitors stored when they judged each point (centre line, limits,
state, signals): reads never redraw a chart, so they are quick and always agree with the alerts
that were raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from weir.errors import PartitionError, UnknownObjectError, UsageError
from weir.monitoring.records import ReplayReport
from weir.project.keys import partition_key

if TYPE_CHECKING:
    from weir.monitoring.evaluator import MonitorRunner
    from weir.project.graph import Node, Project
    from weir.storage.delta import AssetTable
    from weir.store.store import MetadataStore


class AssetTables(Protocol):
    """The project's tables, as the workspace hands them over."""

    def get(self, asset: str) -> AssetTable: ...


class MonitorService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables: AssetTables) -> None:
        self._project = project
        self._store = store
        self._tables = tables
        self._runner: MonitorRunner | None = None

    def runner(self) -> MonitorRunner:
        """The monitor engine of this project (what runs and ingests call after measuring)."""
        if self._runner is None:
            from weir.monitoring.evaluator import MonitorRunner

            self._runner = MonitorRunner(self._project(), self._store(), model_rows=self._model_rows)
        return self._runner

    def _model_rows(self, name: str) -> list[dict]:
        table = self._tables.get(name)
        return table.read().to_pylist() if table.exists() else []

    def evaluate(self, name: str, keys: list[str]) -> list[dict]:
        """Judge newly measured partitions of ``name``; returns the alerts raised (and stores them)."""
        return self.runner().evaluate(name, keys).alerts()

    def replay(self, name: str, *, first: str | None = None) -> list[dict]:
        """What the monitors of ``name`` would raise over its stored history with today's
        settings, from partition ``first`` on (nothing is stored)."""
        project = self._project()
        project.node(name)
        start = partition_key(project, name, first, sources=True) if first else None
        return self.runner().replay(name, start=start).signals

    def replays(self, name: str | None = None, *, first: str | None = None) -> list[ReplayReport]:
        """Per asset or source (every one of the project without ``name``): what the monitors
        would raise over the stored history with today's settings, from partition ``first`` on,
        beside the signals stored now for the same partitions. Nothing is stored."""
        project = self._project()
        names = [name] if name else list(project.sources) + list(project.assets)
        start = self._range_key(name, first) if first is not None else None
        out = []
        for n in names:
            would = sorted(self.runner().replay(n, start=start).signals, key=lambda r: (r["column_name"], r["metric"]))
            would.sort(key=lambda r: r["partition_key"], reverse=True)  # as stored signals are listed
            stored = [r for r in self.signals(n) if start is None or r["partition_key"] >= start]
            out.append(ReplayReport(asset=n, first=start, would=would, stored=stored))
        return out

    def accept(self, series: str, from_key: str, note: str | None = None, *, actor: str = "unknown") -> dict:
        """Accept a new normal: from partition ``from_key`` on, the baseline of ``series`` forms
        only from that partition's point onward. ``series`` is ``ASSET``, ``ASSET.COLUMN``,
        ``ASSET.COLUMN.METRIC`` or ``ASSET.METRIC`` (a table-level metric such as row_count).
        The reset is recorded and the asset's measured partitions from ``from_key`` on are judged
        again, in one transaction. Returns the stored row and ``rejudged`` (those partition keys).
        Raises UnknownObjectError for an asset, column or metric that is not measured,
        PartitionError for a key that does not fit the asset's partitions, UsageError for a
        malformed series."""
        project = self._project()
        name, rest = split_series(series, list(project.sources) + list(project.assets))
        node = project.node(name)
        if not node.partitions.is_partitioned:
            raise PartitionError(f"{node.kind} {name!r} is unpartitioned: its series have one point, no baseline to reset")
        key = partition_key(project, name, from_key, sources=True)
        store = self._store()
        with store.read():
            points = store.metrics.series(project.name, name)
        if not points:
            raise UnknownObjectError(f"nothing is measured on {name!r} yet: its series appear when partitions are "
                                     "built or ingested")
        column, metric = resolve_series(name, rest, {(p["column_name"], p["metric"]) for p in points})
        keys = sorted({p["partition_key"] for p in points if p["partition_key"] >= key})
        with store.transaction():
            row = store.baselines.add(project.name, name, column, metric, key, note, actor=actor)
            if keys:
                self.runner().evaluate(name, keys)
        return {**row, "rejudged": keys}

    def baselines(self, name: str | None = None) -> list[dict]:
        """The baseline resets of the project (or of one asset or source), oldest first."""
        project = self._project()
        if name:
            project.node(name)
        store = self._store()
        with store.read():
            return store.baselines.list(project.name, asset=name)

    def metrics(
        self, name: str, *, column: str | None = None, metric: str | None = None, first: str | None = None,
        last: str | None = None,
    ) -> list[dict]:
        """Metric points of an asset or source, oldest partition first per series. Table-level
        metrics (row_count, user metrics) have column ''."""
        project = self._project()
        node = project.node(name)
        start = partition_key(project, name, first, sources=True) if first else None
        end = partition_key(project, name, last, sources=True) if last else None
        store = self._store()
        with store.read():
            points = store.metrics.series(project.name, name, column=column, metric=metric, start=start, end=end)
            if not points and (column is not None or metric is not None):
                every = store.metrics.series(project.name, name, start=start, end=end)
                _explain_empty(name, every, column, metric)
        if not points and node.kind == "asset" and not node.profile and not node.metrics:
            raise UnknownObjectError(f"asset {name!r} is not profiled (profile=False) and declares no metrics")
        return self._with_limits(name, points, column, metric)

    def _with_limits(self, name: str, points: list[dict], column: str | None, metric: str | None) -> list[dict]:
        """Each point with the centre line and limits it was judged against and its signals, as
        the monitors stored them when they evaluated it: no chart is redrawn here."""
        if not points:
            return points
        by_point = self._stored_signals(name)
        for p in points:
            p["signals"] = by_point.get((p["partition_key"], p["column_name"], p["metric"]), [])
            p["muted"] = p["state"] == "muted"
        return points

    def _stored_signals(self, name: str) -> dict[tuple[str, str, str], list[dict]]:
        store = self._store()
        with store.read():
            rows = store.signals.list(self._project().name, asset=name, limit=None)
        out: dict[tuple[str, str, str], list[dict]] = {}
        for r in rows:
            out.setdefault((r["partition_key"], r["column_name"], r["metric"]), []).append(
                {"method": r["method"], "rule": r["rule"], "severity": r["severity"], "direction": r["direction"]})
        return out

    def signals(self, name: str | None = None, partition: str | None = None, *, alerts_only: bool = False,
                first: str | None = None, last: str | None = None) -> list[dict]:
        """Stored monitor signals, newest partition first; ``first``/``last`` bound the partition
        range (inclusive). Without ``name``, keys are matched as given once some asset or source
        of the project accepts them (keys of assets on different schemes differ). Raises
        PartitionError for a key no partition scheme accepts."""
        project = self._project()
        key = partition
        if name:
            project.node(name)
            key = partition_key(project, name, partition, sources=True) if partition is not None else None
        start = self._range_key(name, first) if first is not None else None
        end = self._range_key(name, last) if last is not None else None
        store = self._store()
        with store.read():
            rows = store.signals.list(project.name, asset=name, partition=key, limit=None)
        rows = [
            r for r in rows
            if (not alerts_only or r["severity"] == "alert") and (start is None or r["partition_key"] >= start)
            and (end is None or r["partition_key"] <= end)
        ]
        rows.sort(key=lambda r: (r["asset"], r["column_name"], r["metric"], r["id"]))  # ties in the order found
        rows.sort(key=lambda r: r["partition_key"], reverse=True)
        return rows

    def _range_key(self, name: str | None, key: str) -> str:
        """``key`` as stored for ``name``; without a name, as given once a scheme accepts it."""
        project = self._project()
        if name:
            return partition_key(project, name, key, sources=True)
        nodes: list[Node] = [*project.sources.values(), *project.assets.values()]
        schemes = [n.partitions for n in nodes if n.partitions.is_partitioned]
        for scheme in schemes:
            try:
                return scheme.validate_key(key)
            except PartitionError:
                continue
        kinds = sorted({s.describe() for s in schemes})
        raise PartitionError(f"partition {key!r} is not a key of any asset or source"
                             f"{' (' + '; '.join(kinds) + ')' if kinds else ''}")

    def states(self, name: str | None = None) -> list[dict]:
        """Every measured series with the state its newest point was judged in (stored when the
        monitors evaluated it). A point measured but never judged is ``not judged``."""
        from weir.model.monitors import settle_monitor
        from weir.monitoring.policy import model_of

        project = self._project()
        names = [name] if name else list(project.sources) + list(project.assets)
        store = self._store()
        out = []
        for n in names:
            node = project.node(n)
            with store.read():
                points = store.metrics.series(project.name, n)
            series: dict[tuple[str, str], list[dict]] = {}
            for p in points:
                if p["value"] is not None:
                    series.setdefault((p["column_name"], p["metric"]), []).append(p)
            settings = tuple(getattr(node, "monitors", ()))
            for (column, metric), measured in sorted(series.items()):
                last = measured[-1]  # series() orders each series by partition key
                settled = settle_monitor(settings, column, metric)
                out.append({
                    "asset": n, "kind": node.kind, "column": column, "metric": metric,
                    "state": last["state"] or "not judged", "points": len(measured),
                    "last_partition": last["partition_key"], "last_value": last["value"], "center": last["center"],
                    "lower": last["lower"], "upper": last["upper"],
                    "model": model_of(settled),
                    "methods": list(settled.methods or (("shewhart", "ewma", "cusum") if model_of(settled) == "classic"
                                                         else ("shewhart", "cusum"))),
                    "sigma": settled.sigma,
                    "muted": last["state"] == "muted",
                })
        return out


def split_series(series: str, names: list[str]) -> tuple[str, str | None]:
    """``series`` as (asset or source, what follows it after the dot or None): the longest of
    ``names`` it starts with, so names and columns with dots still resolve."""
    from weir.project.graph import suggest

    if not series.strip():
        raise UsageError("SERIES is empty: name an asset, ASSET.COLUMN or ASSET.COLUMN.METRIC")
    found = [n for n in names if series == n or series.startswith(n + ".")]
    if not found:
        head = series.split(".", 1)[0]
        raise UnknownObjectError(f"series {series!r}: unknown asset {head!r}{suggest(head, names)}")
    name = max(found, key=len)
    if series == name:
        return name, None
    rest = series[len(name) + 1:]
    if not rest:
        raise UsageError(f"series {series!r}: name a column or a metric after {name + '.'!r}")
    return name, rest


def resolve_series(name: str, rest: str | None, measured: set[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(column, metric) of ``rest`` among the ``measured`` (column, metric) pairs of ``name``:
    None, None for the whole asset; a column (the longest that fits) with None for all its
    metrics or with one of them; '' with a table-level metric."""
    from weir.project.graph import suggest

    if rest is None:
        return None, None
    columns = sorted({c for c, _ in measured if c}, key=len, reverse=True)
    if rest in columns:
        return rest, None
    prefixed = [c for c in columns if rest.startswith(c + ".")]
    for column in prefixed:
        if (column, rest[len(column) + 1:]) in measured:
            return column, rest[len(column) + 1:]
    if ("", rest) in measured:
        return "", rest
    if prefixed:
        column, metric = prefixed[0], rest[len(prefixed[0]) + 1:]
        metrics = sorted(m for c, m in measured if c == column)
        raise UnknownObjectError(f"series {name + '.' + rest!r}: column {column!r} has no metric {metric!r}; "
                                 f"its metrics are: {', '.join(metrics)}")
    table = sorted(m for c, m in measured if c == "")
    raise UnknownObjectError(f"series {name + '.' + rest!r}: {name!r} has no measured column or table-level metric "
                             f"{rest!r}{suggest(rest, columns + table)}")


def _explain_empty(name: str, every: list[dict], column: str | None, metric: str | None) -> None:
    """Why a filtered series is empty: an unknown column or metric, named with what exists."""
    from weir.project.graph import suggest

    if not every:
        return
    if column is not None:
        columns = sorted({p["column_name"] for p in every if p["column_name"]})
        if column not in columns and column != "":
            raise UnknownObjectError(f"{name!r} has no measured column {column!r}{suggest(column, columns)}")
    if metric is not None:
        metrics = sorted({p["metric"] for p in every if column is None or p["column_name"] == column})
        holders = sorted({p["column_name"] for p in every if p["metric"] == metric and p["column_name"]})
        if metric not in metrics and column == "" and holders:
            raise UnknownObjectError(
                f"{name!r} has no table-level metric {metric!r}; pass --column "
                f"(columns with {metric}: {', '.join(holders[:8])}{' ...' if len(holders) > 8 else ''})"
            )
        if metric not in metrics:
            raise UnknownObjectError(
                f"{name!r} has no metric {metric!r}{' on ' + repr(column) if column else ''}; "
                f"metrics are: {', '.join(metrics)}"
            )
