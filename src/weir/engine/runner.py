"""The run lifecycle: record the run, let the scheduler build its graph, and for each partition
admit its sources, resolve its inputs, audit and publish what was built, record the results."""

from __future__ import annotations

import os
import secrets
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from weir.engine.audit import Auditor, PassAll
from weir.engine.executors import AUTO, choose_executor, make_executor
from weir.engine.heartbeat import Heartbeat, this_host
from weir.engine.inputs import InputResolver
from weir.engine.planner import Plan
from weir.engine.scheduler import Scheduler, TaskGraph
from weir.engine.tasks import InputSpec, TaskOutcome, TaskSpec
from weir.envs.snapshot import capture
from weir.events import Event, EventKind
from weir.model.definitions import Asset, Source
from weir.model.mappings import Previous
from weir.model.partitions import TimeScheme
from weir.project.graph import Project
from weir.reporting import Reporter, SilentReporter
from weir.storage.catalog import TableCatalog
from weir.storage.delta import AssetTable
from weir.store.store import MetadataStore

PUBLISH_BATCH = 500  # partitions per Delta commit during a backfill
PUBLISH_EVERY_SECONDS = 10.0  # the longest a built partition waits for its batch (Run's default)
FAILED_STATES = ("failed", "upstream_failed")
TASK_FIELDS = (
    "state", "reason", "attempt", "input_versions", "output_version", "row_count",
    "started_at", "finished_at", "seconds", "staged_path", "error", "traceback",
)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass(kw_only=True)
class RunResult:
    run_id: str
    state: str
    counts: dict[str, int] = field(default_factory=dict)
    per_asset: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)
    checks: dict[str, dict[str, int]] = field(default_factory=dict)  # per asset/source: passed/warned/failed/blocked
    sources: dict[str, dict[str, int]] = field(default_factory=dict)  # partitions checked on arrival: accepted/blocked
    signals: dict[str, dict[str, int]] = field(default_factory=dict)  # monitor alerts per asset and partition
    monitor_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "state": self.state,
            "counts": self.counts,
            "assets": self.per_asset,
            "failures": self.failures,
            "waiting": self.waiting,
            "checks": self.checks,
            "sources": self.sources,
            "signals": self.signals,
            "seconds": round(self.seconds, 3),
        }


def _task_row(asset: str, key: str, **values) -> dict:
    row = {f: None for f in TASK_FIELDS}
    row["attempt"] = 0  # the column is NOT NULL: tasks skipped before any attempt keep 0
    row.update(values)
    row["asset"], row["partition_key"] = asset, key
    return row


class Run:
    """One execution of a plan. ``execute()`` returns a RunResult; Ctrl-C marks it cancelled.

    Tables are found through ``catalog`` (or one over ``data_root``). ``executor`` names a
    registered executor or ``auto``; an unknown name raises UsageError before anything is
    written. A built partition waits at most ``publish_every`` seconds for its publish batch."""

    def __init__(
        self,
        *,
        project: Project,
        store: MetadataStore,
        plan: Plan,
        resolver: InputResolver,
        data_root: Path | None = None,
        catalog: TableCatalog | None = None,
        executor: str = AUTO,
        workers: int | None = None,
        trigger: str = "cli",
        request: dict | None = None,
        reporter: Reporter | None = None,
        auditor: Auditor | None = None,
        gate=None,
        monitor=None,
        publish_every: float = PUBLISH_EVERY_SECONDS,
    ) -> None:
        if catalog is None:
            if data_root is None:
                raise ValueError("a Run needs a table catalog or a data root")
            catalog = TableCatalog(data_root)
        self.project = project
        self.store = store
        self.catalog = catalog
        self.plan = plan
        self.resolver = resolver
        self.executor_name = choose_executor(executor, len(plan.tasks))
        self.workers = workers
        self.publish_every = publish_every
        self.trigger = trigger
        self.request = request or {}
        self.reporter = reporter or SilentReporter()
        self.auditor = auditor or PassAll()
        self.gate = gate  # admits landed source partitions (quality.ingest.SourceGate); None admits all
        self._blocked_sources: dict[tuple[str, str], str] = {}
        self.monitor = monitor  # judges newly measured partitions (monitor.engine.MonitorRunner); None skips
        self._check_failed = False
        self.run_id = new_run_id()
        self.result = RunResult(run_id=self.run_id, state="queued")
        self._files: dict[str, dict[str, list[str]]] = {}
        self._tables: dict[str, AssetTable] = {}
        self._schemas: dict[str, object] = {}  # asset -> table schema, dropped when it publishes
        self._failed: set[tuple[str, str]] = set()
        self._versions: dict[tuple[str, str], dict] = {}
        self._reasons = {(t.asset, t.key): t.reason for t in plan.tasks}  # why planned; kept on the task row

    # -- tables ---------------------------------------------------------------------------
    def table(self, asset: str) -> AssetTable:
        if asset not in self._tables:
            partitioned = self.project.assets[asset].partitions.is_partitioned
            self._tables[asset] = self.catalog.table(self.project.name, asset, partitioned=partitioned)
        return self._tables[asset]

    def schema(self, asset: str):
        """The asset table's schema, loaded once per run and again only after it publishes."""
        if asset not in self._schemas:
            self._schemas[asset] = self.table(asset).schema()
        return self._schemas[asset]

    def files(self, asset: str) -> dict[str, list[str]]:
        if asset not in self._files:
            self._files[asset] = self.table(asset).files()
        return self._files[asset]

    # -- lifecycle ------------------------------------------------------------------------
    def execute(self) -> RunResult:
        started = time.perf_counter()
        env = capture()
        now = time.time()
        with self.store.transaction():
            self.store.environments.save(env.to_row())
            self.store.runs.create(
                {
                    "id": self.run_id, "project": self.project.name, "trigger": self.trigger, "state": "queued",
                    "created_at": now, "host": this_host(), "pid": os.getpid(), "environment_id": env.id,
                    "request": self.request, "heartbeat_at": now,
                }
            )
            self.store.runs.add_tasks(
                [
                    {
                        "run_id": self.run_id, "project": self.project.name, "asset": t.asset, "partition_key": t.key,
                        "state": "queued", "reason": t.reason, "attempt": 0,
                        "code_version": self.project.assets[t.asset].code_version,
                    }
                    for t in self.plan.tasks
                ]
            )
            self.store.runs.update(self.run_id, state="running", started_at=time.time())
            self.store.code.save(self._code_rows())
            for a in self.project.assets.values():  # partitions built when the range was hashed too
                self.store.partitions.adopt_code_version(self.project.name, a.name, a.legacy_code_version, a.code_version)
            self.store.emit(self._event(
                EventKind.RUN_STARTED, trigger=self.trigger, tasks=len(self.plan.tasks), environment_id=env.id,
                assets=sorted({t.asset for t in self.plan.tasks}), executor=self.executor_name,
            ))
        self.result.waiting = {a: len(w) for a, w in self.plan.waiting.items()}
        self.reporter.run_started(self.run_id, len(self.plan.tasks))
        self.store.bus.subscribe(self.reporter)  # partition outcomes reach the reporter as events
        heartbeat = Heartbeat(self.store.engine, self.run_id)
        heartbeat.start()
        executor = None
        state, error = "failed", None
        try:
            if self.plan.tasks:
                executor = make_executor(self.executor_name, self.project, self.workers)
                graph = TaskGraph.of(self.project, self.plan, self.resolver)
                Scheduler(graph, self, executor, batch=PUBLISH_BATCH, every=self.publish_every).run()
            state = "failed" if self._failed or self._check_failed else "succeeded"
        except KeyboardInterrupt:
            state, error = "cancelled", "interrupted by the user"
            if executor is not None:
                executor.close(cancel=True)
                executor = None
            raise
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            raise
        finally:
            heartbeat.stop()
            try:
                if executor is not None:
                    executor.close(cancel=error is not None)
            finally:
                try:
                    self._finish(state, error, time.perf_counter() - started)
                finally:
                    self.store.bus.unsubscribe(self.reporter)
        return self.result

    def _finish(self, state: str, error: str | None, seconds: float) -> None:
        with self.store.transaction():
            if state != "succeeded" or error:
                self.store.runs.unfinished_tasks_to(self.run_id, "cancelled" if state == "cancelled" else "failed", error or "run ended")
            counts = self.store.runs.task_counts(self.run_id)
            self.store.runs.update(
                self.run_id, state=state, finished_at=time.time(), error=error, heartbeat_at=time.time(),
                summary={"counts": counts, "waiting": self.result.waiting},
            )
            self.store.emit(self._event(
                EventKind.RUN_FINISHED, state=state, counts=counts, seconds=round(seconds, 3),
                error=error.splitlines()[0] if error else None,
            ))
        self.result.state = state
        self.result.counts = counts
        per = self.result.per_asset  # in plan order, whichever branch finished first
        self.result.per_asset = {a: per[a] for a in dict.fromkeys(t.asset for t in self.plan.tasks) if a in per}
        # check outcomes of this run: the assets' from the auditor, the sources' from the gate
        self.result.checks = {**getattr(self.gate, "outcomes", {}), **getattr(self.auditor, "outcomes", {})}
        self.result.seconds = seconds
        self.reporter.run_finished(self.result)

    def _event(self, kind: EventKind, asset: str | None = None, key: str | None = None, **data) -> Event:
        return Event(kind=kind, project=self.project.name, asset=asset, partition_key=key, run_id=self.run_id, data=data)

    def _code_rows(self) -> list[dict]:
        """The definition behind each code version this run builds, kept from its first build."""
        rows = []
        for name in sorted({t.asset for t in self.plan.tasks}):
            a = self.project.assets[name]
            rows.append({
                "project": self.project.name, "asset": name, "code_version": a.code_version,
                "kind": "sql" if a.sql else "python", "definition": a.definition_text, "settings": a.code_settings,
                "location": str(a.location),
            })
        return rows

    # -- steps the scheduler takes (engine.scheduler.RunSteps) ---------------------------------
    def open_asset(self, asset: str, keys: list[str]) -> None:
        self.reporter.asset_started(asset, len(keys))
        self._admit_sources(self.project.assets[asset], keys)

    def prepare(self, asset: str, key: str) -> TaskSpec | dict:
        """The spec that builds ``key``, or the task row saying why it is not built."""
        a = self.project.assets[asset]
        resolved = self.resolver.resolve(a, key)
        bad = [
            (inp.upstream, uk)
            for param, inp in a.inputs.items()
            for uk in resolved.keys[param]
            if (inp.upstream, uk) in self._failed
        ]
        if bad:
            self._failed.add((asset, key))
            why = self._blocked_sources.get(bad[0])
            reason = f"source {bad[0][0]} {bad[0][1]!r} blocked: {why}" if why else f"{bad[0][0]} {bad[0][1]!r} failed"
            return _task_row(asset, key, state="upstream_failed", reason=reason.replace(" ''", ""))
        absent = resolved.describe_missing()
        if absent:
            return _task_row(asset, key, state="skipped", reason=absent)
        self._versions[(asset, key)] = resolved.versions
        return self._spec(a, key, resolved.keys, self.schema(asset))

    def record_unbuilt(self, asset: str, rows: list[dict]) -> None:
        with self.store.transaction():
            self.store.runs.update_tasks(self.run_id, rows)
            self.store.emit(*(
                self._event(EventKind.PARTITION_FAILED, asset, r["partition_key"], state=r["state"], reason=r["reason"])
                for r in rows if r["state"] == "upstream_failed"
            ))
        for row in rows:
            self._count(asset, row["state"])
            if row["state"] == "skipped":  # the one outcome without an event
                self.reporter.partition_skipped(asset, row["partition_key"], row["reason"])

    def record_failed(self, outcome: TaskOutcome) -> None:
        self.result.compute_seconds += outcome.compute_seconds
        self._failed.add((outcome.asset, outcome.key))
        self._record_failures(self.project.assets[outcome.asset], [outcome], outcome.error or "failed")

    def publish(self, asset: str, outcomes: list[TaskOutcome]) -> None:
        self.result.compute_seconds += sum(o.compute_seconds for o in outcomes)
        self._publish(self.project.assets[asset], outcomes)

    def finish_asset(self, asset: str, built: list[str]) -> None:
        self._evaluate_monitors(asset, built)

    def _evaluate_monitors(self, name: str, keys: list[str]) -> None:
        """Judge the new points of ``name``'s metric series; alerts are counted in the result.
        A monitor failure is reported, never fatal to the run: the data is already published."""
        if self.monitor is None or not keys:
            return
        try:
            found = self.monitor.evaluate(name, keys, self.run_id)
        except Exception as exc:  # noqa: BLE001
            self.result.monitor_errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return
        for s in found.alerts():
            per = self.result.signals.setdefault(name, {})
            per[s["partition_key"]] = per.get(s["partition_key"], 0) + 1

    def _admit_sources(self, asset: Asset, keys: list[str]) -> None:
        """Check every landed source partition the asset's keys read, once per delivery; a blocked
        one fails what reads it."""
        if self.gate is None:
            return
        checked: dict[str, list[str]] = {}
        self._admit_inputs(asset, keys, checked)
        for source, measured in checked.items():
            self._evaluate_monitors(source, measured)

    def _admit_inputs(self, asset: Asset, keys: list[str], checked: dict[str, list[str]]) -> None:
        for param, inp in asset.inputs.items():
            src = self.project.node(inp.upstream)
            if not isinstance(src, Source):
                continue
            wanted = sorted({uk for key in keys for uk in self.resolver.upstream_keys(asset, param, inp, key)})
            for uk in wanted:
                if (src.name, uk) in self._failed:
                    continue
                files = self.resolver.source_files(src, uk)
                admission = self.gate.admit(src, uk, files, self.run_id) if files else None
                if admission is None:
                    continue
                if admission.checked_now:
                    checked.setdefault(src.name, []).append(uk)
                    per = self.result.sources.setdefault(src.name, {"accepted": 0, "blocked": 0})
                    per[admission.state] = per.get(admission.state, 0) + 1
                if admission.blocked:
                    self._failed.add((src.name, uk))
                    self._blocked_sources[(src.name, uk)] = admission.message
                    self._check_failed = True
                    first = admission.sample[0] if admission.sample else None
                    example = ""
                    if first and first.get("column"):
                        example = f"; e.g. {first['column']}={first.get('value')!r} {first.get('reason', '')}"
                    hint = f" (details: weir ingest {src.name}{' --partition ' + uk if uk else ''})"
                    self.result.failures.append(
                        {"asset": src.name, "partition": uk, "error": f"blocked: {admission.message}{example}{hint}"}
                    )

    def _spec(self, asset: Asset, key: str, keys: dict[str, list[str]], table_schema) -> TaskSpec:
        inputs = []
        for param, inp in asset.inputs.items():
            up = self.project.node(inp.upstream)
            ukeys = keys[param]
            lookback = isinstance(inp.mapping, Previous)
            if isinstance(up, Source):
                files = tuple((uk, f) for uk in ukeys for f in self.resolver.source_files(up, uk))
                inputs.append(
                    InputSpec(param=param, upstream=up.name, kind="source", frame=inp.frame, files=files,
                              format=up.format, options=dict(up.options), columns=dict(up.columns), empty_is_none=lookback)
                )
            else:
                index = self.files(up.name)
                files = tuple((uk, f) for uk in ukeys for f in index.get(uk, []))
                inputs.append(
                    InputSpec(param=param, upstream=up.name, kind="model" if up.model is not None else "asset",
                              frame=inp.frame, files=files,
                              table_dir=self.table(up.name).uri, schema=self.schema(up.name),
                              empty_is_none=lookback)
                )
        start = end = None
        if isinstance(asset.partitions, TimeScheme):
            start, end = asset.partitions.window(key)
        return TaskSpec(
            project_root=str(self.project.root), asset=asset.name, key=key, start=start, end=end, run_id=self.run_id,
            table_dir=self.table(asset.name).uri, table_schema=table_schema, inputs=tuple(inputs),
            attempts=asset.retry.attempts, backoff=asset.retry.backoff,
        )

    def _count(self, asset: str, state: str) -> None:
        per = self.result.per_asset.setdefault(asset, {})
        per[state] = per.get(state, 0) + 1

    def _record_failures(self, asset: Asset, outcomes: list[TaskOutcome], error: str) -> None:
        rows = []
        for o in outcomes:
            rows.append(
                _task_row(
                    asset.name, o.key, state="failed", reason=self._reasons.get((asset.name, o.key)), attempt=o.attempts, input_versions=self._versions.get((asset.name, o.key)),
                    started_at=o.started_at, finished_at=time.time(), seconds=o.seconds,
                    staged_path=o.staged.path if o.staged else None, error=o.error or error, traceback=o.traceback,
                )
            )
            self._count(asset.name, "failed")
            self.result.failures.append({"asset": asset.name, "partition": o.key, "error": o.error or error})
        with self.store.transaction():
            self.store.runs.update_tasks(self.run_id, rows)
            self.store.emit(*(
                self._event(EventKind.PARTITION_FAILED, asset.name, r["partition_key"], state="failed",
                            error=(r["error"] or "").strip().splitlines()[-1:][0] if r["error"] else None, attempts=r["attempt"])
                for r in rows
            ))

    def _publish(self, asset: Asset, outcomes: list[TaskOutcome]) -> None:
        table = self.table(asset.name)
        staged = [o.staged for o in outcomes if o.staged is not None]
        verdicts = self.auditor.audit(asset, table.uri, staged, self.run_id)
        publishable = [s for s in staged if verdicts[s.key].publish]
        index = self.files(asset.name)
        version = None
        self._schemas.pop(asset.name, None)  # a publish may add columns
        if publishable:
            try:
                version = table.publish(
                    publishable, replaced={s.key: index.get(s.key, []) for s in publishable}, run_id=self.run_id,
                    metadata={"weir.code_version": asset.code_version},
                )
            except Exception as exc:  # noqa: BLE001 - e.g. a schema the table cannot take: these partitions fail
                failing = [o for o in outcomes if verdicts[o.key].publish]
                for o in failing:
                    self._failed.add((asset.name, o.key))
                self._record_failures(asset, [TaskOutcome(**{**o.__dict__, "error": f"publish failed: {exc}"}) for o in failing], str(exc))
                outcomes = [o for o in outcomes if not verdicts[o.key].publish]
                publishable = []
        now = time.time()
        published_rows, task_rows, events = [], [], []
        for o in outcomes:
            s = o.staged
            assert s is not None
            verdict = verdicts[s.key]
            if verdict.publish:
                index[s.key] = [s.path]
                row = {
                    "project": self.project.name, "asset": asset.name, "partition_key": s.key, "version": version,
                    "run_id": self.run_id, "code_version": asset.code_version,
                    "input_versions": self._versions.get((asset.name, s.key)), "row_count": s.rows, "published_at": now,
                }
                published_rows.append(row)
                self.resolver.current[(asset.name, s.key)] = row
            else:
                self._failed.add((asset.name, s.key))
            state = verdict.state if verdict.publish else "blocked"
            if state in ("blocked", "failed_check"):
                self._check_failed = True
                self.result.failures.append({"asset": asset.name, "partition": s.key, "error": f"{state}: {verdict.message}"})
            task_rows.append(
                _task_row(
                    asset.name, s.key, state=state, reason=verdict.message or self._reasons.get((asset.name, s.key)), attempt=o.attempts,
                    input_versions=self._versions.get((asset.name, s.key)), output_version=version if verdict.publish else None,
                    row_count=s.rows, started_at=o.started_at, finished_at=now, seconds=o.seconds, staged_path=s.path,
                )
            )
            events.append(self._event(EventKind.PARTITION_BUILT, asset.name, s.key, rows=s.rows, seconds=round(o.seconds, 3),
                                      attempts=o.attempts, code_version=asset.code_version))
            if verdict.publish:
                events.append(self._event(
                    EventKind.PARTITION_PUBLISHED, asset.name, s.key, version=version, rows=s.rows, state=state,
                    code_version=asset.code_version, inputs=self._versions.get((asset.name, s.key)), table=table.uri,
                ))
            else:
                events.append(self._event(EventKind.PARTITION_BLOCKED, asset.name, s.key, rows=s.rows, message=verdict.message,
                                          staged_path=s.path))
            self._count(asset.name, state)
        with self.store.transaction():
            self.store.partitions.record_published(published_rows)
            self.store.runs.update_tasks(self.run_id, task_rows)
            self.auditor.flush()
            self.store.emit(*events)
