"""Monitoring as users ask for it: metric series with the limits each point was judged against,
the signals the monitors stored, and the state of every monitored series.

Everything shown is what the monitors stored when they judged each point (centre line, limits,
state, signals): reads never redraw a chart, so they are quick and always agree with the alerts
that were raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from weir.errors import UnknownObjectError
from weir.project.keys import partition_key

if TYPE_CHECKING:
    from weir.monitoring.evaluator import MonitorRunner
    from weir.project.graph import Project
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

    def signals(self, name: str | None = None, partition: str | None = None, *, alerts_only: bool = False) -> list[dict]:
        """Stored monitor signals, newest partition first. Without ``name``, ``partition`` is
        matched as given (keys of assets on different schemes differ)."""
        project = self._project()
        key = partition
        if name:
            project.node(name)
            key = partition_key(project, name, partition, sources=True) if partition is not None else None
        store = self._store()
        with store.read():
            rows = store.signals.list(project.name, asset=name, partition=key, limit=None)
        return [r for r in rows if r["severity"] == "alert"] if alerts_only else rows

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
