"""Monitoring as users ask for it: metric series with the limits each point was judged against,
the signals the monitors stored, and the state of every monitored series.

The severity shown here is derived again at read time (``policy_severity``) from the charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from weir.errors import UnknownObjectError
from weir.project.keys import partition_key

if TYPE_CHECKING:
    from weir.monitoring.engine import MonitorRunner
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


class MonitorService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables) -> None:
        self._project = project
        self._store = store
        self._tables = tables
        self._runner: MonitorRunner | None = None

    def runner(self) -> MonitorRunner:
        """The monitor engine of this project (what runs and ingests call after measuring)."""
        if self._runner is None:
            from weir.monitoring.engine import MonitorRunner

            self._runner = MonitorRunner(self._project(), self._store(), model_rows=self._model_rows)
        return self._runner

    def _model_rows(self, name: str) -> list[dict]:
        table = self._tables.get(name)
        return table.read().to_pylist() if table.exists() else []

    def evaluate(self, name: str, keys: list[str]) -> list[dict]:
        """Judge newly measured partitions of ``name``; returns the alerts raised (and stores them)."""
        return self.runner().evaluate(name, keys).alerts()

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
        """Each point with the centre line and limits it was judged against, and its signals."""
        if not points:
            return points
        runner = self.runner()
        history = runner.history(name, column=column, metric=metric)
        index = {k: i for i, k in enumerate(history.order)}
        charts = {(c, m): (settled, chart) for c, m, settled, chart in runner.charts(name, history)}
        view = self._signal_view(name)
        for p in points:
            settled, chart = charts.get((p["column_name"], p["metric"]), (None, None))
            row = chart[index[p["partition_key"]]] if chart is not None and p["partition_key"] in index else {}
            p["center"], p["lower"], p["upper"] = row.get("center"), row.get("lower"), row.get("upper")
            p["signals"] = view(p["partition_key"], p["column_name"], p["metric"], settled, row.get("signals", []))
            p["muted"] = bool(settled and settled.mute)
        return points

    def _signal_view(self, name: str):
        """Chart signals as the monitors store them (``policy_severity``; a drift score alerts
        only where its alert was stored, since only the evaluation judged the distribution)."""
        from weir.monitoring.engine import DRIFT_SCORE, TRAINING_DRIFT, policy_severity

        store = self._store()
        with store.read():
            stored = {(r["partition_key"], r["column_name"], r["metric"], r["method"])
                      for r in store.signals.list(self._project().name, asset=name, limit=None) if r["severity"] == "alert"}

        def view(key: str, column: str, metric: str, settled, signals) -> list[dict]:
            out = []
            for s in signals:
                severity = policy_severity(s, settled, metric)
                if severity is None:
                    continue
                if severity == "alert" and metric in (DRIFT_SCORE, TRAINING_DRIFT) and (key, column, metric, s.method) not in stored:
                    severity = "warn"
                out.append({"method": s.method, "rule": s.rule, "severity": severity, "direction": s.direction})
            return out

        return view

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
        """Every monitored series with its state at its newest partition."""
        project = self._project()
        names = [name] if name else list(project.sources) + list(project.assets)
        runner = self.runner()
        out = []
        for n in names:
            node = project.node(n)
            history = runner.history(n)
            if not history.order:
                continue
            view = self._signal_view(n)
            for column, metric, settled, chart in runner.charts(n, history):
                last = next((r for r in reversed(chart or []) if r["value"] is not None), None)
                shown = view(history.order[last["index"]], column, metric, settled, last["signals"]) if last else []
                if chart is None:
                    state = "muted"
                elif last is None or last["center"] is None:
                    state = "warming up"
                elif any(sg["severity"] == "alert" for sg in shown):
                    state = "alert"
                elif shown:
                    state = "warn"
                else:
                    state = "in control"
                out.append({
                    "asset": n, "kind": node.kind, "column": column, "metric": metric, "state": state,
                    "points": sum(1 for k in history.order if history.series[(column, metric)].get(k) is not None),
                    "last_partition": history.order[last["index"]] if last else None,
                    "last_value": last["value"] if last else None, "center": last["center"] if last else None,
                    "lower": last["lower"] if last else None, "upper": last["upper"] if last else None,
                    "methods": list(settled.methods or ("shewhart", "ewma", "cusum")), "sigma": settled.sigma,
                    "muted": settled.mute,
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
