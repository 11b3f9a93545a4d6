"""The facade every shell calls: CLI, web app and daemon. Thin: it wires the project, the
metadata store and the tables together and delegates to the engine and repositories."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from weir.errors import PartitionError, UnknownObjectError, UsageError
from weir.model.partitions import UNPARTITIONED_KEY

WORKSPACE_ENV = "WEIR_HOME"
DEFAULT_WORKSPACE = ".weir"


def resolve_workspace(option: str | Path | None) -> Path:
    """``--workspace``, else ``WEIR_HOME``, else ``./.weir``."""
    return Path(option or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).resolve()


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    assets: tuple[str, ...] = ()
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    stale: bool = False
    executor: str = "processes"
    workers: int | None = None
    trigger: str = "cli"


class Workspace:
    """One weir installation (metadata store + data root) seen from one project folder."""

    def __init__(self, home: str | Path | None = None, project_dir: str | Path | None = None) -> None:
        self.home = resolve_workspace(home)
        self.project_dir = Path(project_dir or ".").resolve()
        self._store = None
        self._project = None

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def store(self):
        if self._store is None:
            from weir.store.store import MetadataStore

            self._store = MetadataStore.for_workspace(self.home)
            self._reap()
        return self._store

    @property
    def project(self):
        if self._project is None:
            from weir.project.loader import load_project

            self._project = load_project(self.project_dir)
        return self._project

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def table(self, asset: str, project: str | None = None):
        from weir.storage.delta import AssetTable

        a = self.project.asset(asset) if project in (None, self.project.name) else None
        partitioned = a.partitions.is_partitioned if a else True
        return AssetTable(self.data_root / (project or self.project.name) / asset, partitioned=partitioned)

    def _reap(self) -> list[dict]:
        with self._store.read():
            if not self._store.runs.active():  # the common case: nothing to reap, nothing to import
                return []
        from weir.engine.recovery import reap_dead_runs
        from weir.storage.delta import AssetTable

        def table_for(project: str, asset: str) -> AssetTable:
            path = self.data_root / project / asset
            return AssetTable(path, partitioned=_is_partitioned(path))

        return reap_dead_runs(self._store, table_for)

    # -- runs -----------------------------------------------------------------------------
    def _resolver(self):
        from weir.engine.inputs import InputResolver

        project = self.project  # validate the project before the store is created or touched
        with self.store.read():
            current = self.store.partitions.current(project.name)
        return InputResolver(project, current)

    def plan(self, request: RunRequest, resolver=None):
        """What ``run`` would build and why, from ``resolver``'s view of what is published."""
        from weir.engine.planner import make_plan

        return make_plan(
            self.project, resolver or self._resolver(), assets=list(request.assets) or None,
            selection=_selection(request), stale=request.stale,
        )

    def run(self, request: RunRequest, reporter=None, auditor=None):
        """Plan and execute. Returns the RunResult (state ``succeeded`` or ``failed``)."""
        from weir.engine.runner import Run

        resolver = self._resolver()
        if auditor is None:
            from weir.quality.auditor import CheckAuditor

            auditor = CheckAuditor(self.store, self.project, references=self.references())
        plan = self.plan(request, resolver)
        run = Run(
            project=self.project, store=self.store, data_root=self.data_root, plan=plan, resolver=resolver,
            executor=request.executor, workers=request.workers, trigger=request.trigger,
            request={k: v for k, v in request.__dict__.items() if v not in (None, (), False)} | {"assets": list(request.assets)},
            reporter=reporter, auditor=auditor,
            gate=self.gate(outcomes=getattr(auditor, "outcomes", None)),
            monitor=self.monitors_runner(),
        )
        return run.execute()

    def references(self):
        """Where the targets of references checks are: published tables and landed files."""
        from weir.quality.auditor import references_resolver
        from weir.storage.sources import source_files

        return references_resolver(
            self.project, table_uri=lambda n: self.table(n).uri,
            files_of=lambda n: self.table(n).files() if self.table(n).exists() else {},
            source_files_of=lambda src, k: source_files(src, Path(self.project.root), k),
        )

    def monitors_runner(self):
        from weir.monitoring.engine import MonitorRunner

        def model_rows(name: str) -> list[dict]:
            table = self.table(name)
            return table.read().to_pylist() if table.exists() else []

        return MonitorRunner(self.project, self.store, model_rows=model_rows)

    def gate(self, outcomes: dict | None = None):
        """The source gate: admits or blocks landed source partitions."""
        from weir.quality.ingest import SourceGate

        return SourceGate(self.project, self.store, references=self.references(), outcomes=outcomes)

    def ingest(self, source: str, partitions: list[str] | None = None, *, force: bool = False, on_progress=None) -> list[dict]:
        """Check landed partitions of ``source`` (all that landed, or ``partitions``) without
        building anything. Partitions already judged for the same files keep their decision."""
        src = self.project.sources.get(source)
        if src is None:
            from weir.project.graph import suggest

            if source in self.project.assets:
                raise UnknownObjectError(f"{source!r} is an asset, not a source")
            raise UnknownObjectError(f"unknown source {source!r}{suggest(source, list(self.project.sources))}")
        keys = [self._key(source, p, sources=True) for p in partitions] if partitions else list(src.partitions.keys())
        gate = self.gate()
        out = []
        for key in keys:
            admission = gate.admit(src, key, force=force)
            if admission is not None:
                out.append(admission.to_dict())
            if on_progress is not None:
                on_progress()
        checked = [a["partition"] for a in out if a["checked_now"]]
        if checked:
            alerts = self.monitors_runner().evaluate(source, checked).alerts()
            for a in out:
                a["signals"] = sum(1 for s in alerts if s["partition_key"] == a["partition"])
        for a in out:
            a.setdefault("signals", 0)
        return out

    def runs(self, limit: int = 20, state: str | None = None) -> list[dict]:
        with self.store.read():
            return self.store.runs.list(limit=limit, state=state)

    def run_detail(self, run_id: str) -> dict:
        with self.store.read():
            run = self.store.runs.get(run_id)
            if run is None:
                matches = self.store.runs.find(run_id)
                if len(matches) == 1:
                    run = self.store.runs.get(matches[0])
                elif matches:
                    raise UnknownObjectError(f"run id {run_id!r} is ambiguous: {', '.join(matches)}")
            if run is None:
                raise UnknownObjectError(f"unknown run {run_id!r}; 'weir runs' lists them")
            tasks = self.store.runs.tasks(run["id"])
            env = self.store.environments.get(run["environment_id"]) if run["environment_id"] else None
        return {**run, "tasks": tasks, "environment": env}

    def events(self, *, after: int = 0, kinds: tuple[str, ...] = (), limit: int | None = 100):
        """Events of the durable log with an id above ``after``, oldest first."""
        from weir.events import EventKind

        for k in kinds:
            if k not in EventKind.__members__.values():
                raise UsageError(f"--kind {k!r} is not an event kind (choose: {', '.join(EventKind)})")
        with self.store.read():
            return self.store.events.after(after, kinds=kinds, limit=limit)

    # -- state ----------------------------------------------------------------------------
    def status(self, asset: str | None = None) -> list[dict]:
        """Per asset: partitions expected/published/stale-by-code, rows, newest key, last run's failures."""
        project = self.project
        names = [project.asset(asset).name] if asset else [n for n in project.order if n in project.assets]
        with self.store.read():
            summary = self.store.partitions.summary(project.name)
            out = []
            for name in names:
                a = project.assets[name]
                s = summary.get(name, {})
                codes = self.store.partitions.code_version_counts(project.name, name) if s else {}
                last = self.store.runs.last_task_states(project.name, name)
                total = a.partitions.count()
                out.append(
                    {
                        "asset": name,
                        "kind": "sql" if a.sql else "python",
                        "partitions": a.partitions.describe(),
                        "expected": total,
                        "published": int(s.get("published") or 0),
                        "outdated_code": sum(n for cv, n in codes.items() if cv != a.code_version),
                        "rows": int(s.get("rows") or 0),
                        "first": s.get("first"),
                        "last": s.get("last"),
                        "published_at": s.get("published_at"),
                        "last_run": last.get("run_id"),
                        "last_run_failed": sum(int(last.get(k, 0)) for k in ("failed", "upstream_failed", "blocked")),
                        "downstream_insights": project.insights_on(name),
                    }
                )
        return out

    def lineage(self, asset: str | None = None) -> dict[str, Any]:
        project = self.project
        if asset:
            project.node(asset)
            up = project.closure([asset], upstream=True)
            down = project.closure([asset], upstream=False)
            names = [n for n in project.order if n in set(up) | set(down)]
        else:
            names = list(project.order)
        nodes = []
        for n in names:
            node = project.node(n)
            nodes.append(
                {
                    "name": n,
                    "type": node.kind,
                    "partitions": node.partitions.describe(),
                    "upstream": project.upstreams(n),
                    "downstream": project.downstreams(n),
                    "insights": project.insights_on(n),
                }
            )
        insights = [
            {"name": i.name, "depends_on": list(i.depends_on), "owners": list(i.owners), "url": i.url}
            for i in project.insights.values()
            if not asset or set(i.depends_on) & set(names)
        ]
        return {"project": project.name, "nodes": nodes, "insights": insights}

    def _key(self, asset: str, partition: str | None, *, sources: bool = False) -> str:
        a = self.project.node(asset) if sources else self.project.asset(asset)
        if not a.partitions.is_partitioned:
            if partition not in (None, ""):
                raise PartitionError(f"{a.kind} {asset!r} is unpartitioned; drop --partition")
            return UNPARTITIONED_KEY
        if partition is None:
            raise PartitionError(f"{a.kind} {asset!r} is partitioned ({a.partitions.describe()}); pass --partition KEY")
        return a.partitions.validate_key(partition)

    def history(self, asset: str, partition: str | None) -> list[dict]:
        key = self._key(asset, partition)
        with self.store.read():
            return self.store.partitions.history(self.project.name, asset, key)

    def read(self, asset: str, partition: str | None, version: int | None = None, limit: int | None = None):
        """Published data of one partition (at a version) as Arrow."""
        key = self._key(asset, partition)
        table = self.table(asset)
        if not table.exists():
            raise UnknownObjectError(f"asset {asset!r} has no published data yet; run 'weir run {asset}'")
        if version is not None:
            history = self.history(asset, partition)
            if not any(h["version"] == version for h in history):
                known = ", ".join(str(h["version"]) for h in history) or "none"
                raise UnknownObjectError(f"partition {key!r} of {asset!r} has no version {version} (versions: {known})")
        files = table.files(version)
        if key not in files:
            raise UnknownObjectError(f"partition {key!r} of {asset!r} is not published")
        data = table.read([key], version=version)
        return data.slice(0, limit) if limit is not None else data

    # -- quality --------------------------------------------------------------------------
    def metrics(
        self, name: str, *, column: str | None = None, metric: str | None = None, first: str | None = None,
        last: str | None = None,
    ) -> list[dict]:
        """Metric points of an asset or source, oldest partition first per series. Table-level
        metrics (row_count, user metrics) have column ''."""
        node = self.project.node(name)
        start = self._key(name, first, sources=True) if first else None
        end = self._key(name, last, sources=True) if last else None
        with self.store.read():
            points = self.store.metrics.series(self.project.name, name, column=column, metric=metric, start=start, end=end)
            if not points and (column is not None or metric is not None):
                every = self.store.metrics.series(self.project.name, name, start=start, end=end)
                self._explain_empty(name, every, column, metric)
        if not points and node.kind == "asset" and not node.profile and not node.metrics:
            raise UnknownObjectError(f"asset {name!r} is not profiled (profile=False) and declares no metrics")
        return self._with_limits(name, points, column, metric)

    def _with_limits(self, name: str, points: list[dict], column: str | None, metric: str | None) -> list[dict]:
        """Each point with the centre line and limits it was judged against, and its signals."""
        if not points:
            return points
        runner = self.monitors_runner()
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

        with self.store.read():
            stored = {(r["partition_key"], r["column_name"], r["metric"], r["method"])
                      for r in self.store.signals.list(self.project.name, asset=name, limit=None) if r["severity"] == "alert"}

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
        key = partition
        if name:
            self.project.node(name)
            key = self._key(name, partition, sources=True) if partition is not None else None
        with self.store.read():
            rows = self.store.signals.list(self.project.name, asset=name, partition=key, limit=None)
        return [r for r in rows if r["severity"] == "alert"] if alerts_only else rows

    def monitors(self, name: str | None = None) -> list[dict]:
        """Every monitored series with its state at its newest partition."""
        names = [name] if name else list(self.project.sources) + list(self.project.assets)
        runner = self.monitors_runner()
        out = []
        for n in names:
            node = self.project.node(n)
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

    @staticmethod
    def _explain_empty(name: str, every: list[dict], column: str | None, metric: str | None) -> None:
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

    def check_results(self, asset: str | None = None, partition: str | None = None, failed: bool = False) -> list[dict]:
        """Newest result of every check on every partition (of an asset or source)."""
        key = self._key(asset, partition, sources=True) if asset and partition is not None else partition
        if asset:
            self.project.node(asset)
        with self.store.read():
            return self.store.checks.list(self.project.name, asset=asset, partition=key, failed=failed)

    def recheck(self, asset: str, partition: str | None) -> list[dict]:
        """Run ``asset``'s checks on its published partition now; records and returns the results."""
        from weir.quality.auditor import audit_partition, failed_check_events
        from weir.quality.scan import ScanInput

        a = self.project.asset(asset)
        key = self._key(asset, partition)
        table = self.table(asset)
        files = table.files().get(key) if table.exists() else None
        if not files:
            raise UnknownObjectError(f"partition {key!r} of {asset!r} is not published")
        if not a.checks:
            return []
        data = ScanInput(files=[f"{table.uri}/{f}" for f in files], schema={f.name: str(f.type) for f in table.schema()})
        rows = audit_partition(a, key, data, project=self.project.name, run_id=None, references=self.references()).rows
        with self.store.transaction():
            self.store.checks.record(rows)
            self.store.emit(*failed_check_events(rows))
        return rows

    def read_quarantined(self, asset: str, partition: str | None):
        """The staged data of the newest blocked build of a partition (kept for forensics)."""
        import sqlalchemy as sa

        from weir.storage.delta import read_files
        from weir.store.schema import run_tasks

        key = self._key(asset, partition)
        c = run_tasks.c
        q = (
            sa.select(c.staged_path, c.run_id)
            .where(c.project == self.project.name, c.asset == asset, c.partition_key == key, c.state == "blocked")
            .order_by(c.run_id.desc())
            .limit(1)
        )
        with self.store.read():
            row = self.store.connection.execute(q).first()
        if row is None or not row[0]:
            raise UnknownObjectError(f"partition {key!r} of {asset!r} has no quarantined build")
        return read_files(self.table(asset).uri, [(key, row[0])], None)


def _is_partitioned(path: Path) -> bool:
    return any(p.name.startswith("partition_key=") for p in path.iterdir()) if path.is_dir() else False


def _selection(request: RunRequest):
    from weir.engine.planner import PartitionSelection

    if request.partition and (request.first or request.last):
        raise PartitionError("use either --partition or --from/--to, not both")
    if request.partition:
        return PartitionSelection(first=request.partition, last=request.partition)
    if request.first or request.last:
        if not (request.first and request.last):
            raise PartitionError("--from and --to go together")
        return PartitionSelection(first=request.first, last=request.last)
    return PartitionSelection()
