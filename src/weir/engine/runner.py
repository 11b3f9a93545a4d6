"""The run lifecycle: record the run, let the scheduler build its graph, and for each partition
take its lease, admit its sources, resolve its inputs, audit and publish what was built, record
the results. A partition another live run is building is waited for or skipped (``on_conflict``).

The run is the scheduler's ``RunSteps`` and holds the parts that do the work: the records
(``engine.recorder``), the leases and rival runs (``engine.conflicts``), the task specs
(``engine.specs``) and the commits (``engine.publisher``); it admits the sources a partition
reads and has the monitors judge what was measured."""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from weir.engine.audit import Auditor, PassAll
from weir.engine.cancel import CancelSignals, RunTerminated
from weir.engine.conflicts import ConflictPolicy
from weir.engine.executors import AUTO, Executor, choose_executor, make_executor
from weir.engine.heartbeat import Heartbeat
from weir.engine.inputs import InputResolver
from weir.engine.leasing import POLL_SECONDS, PartitionLeases
from weir.engine.planner import Plan
from weir.engine.publisher import Publisher
from weir.engine.recorder import RunRecorder, RunResult, new_run_id, task_row
from weir.engine.republish import RolloutCauses, RolloutJudge
from weir.engine.scheduler import Held, Scheduler, TaskGraph
from weir.engine.specs import PublishedTables, SpecBuilder
from weir.engine.tasks import TaskOutcome, TaskSpec
from weir.errors import UsageError
from weir.model.definitions import Asset, Source
from weir.project.config import ON_CONFLICT, REPUBLISH
from weir.project.configuration import capture as capture_configuration
from weir.project.graph import Project
from weir.reporting import Reporter, SilentReporter
from weir.storage.catalog import TableCatalog
from weir.store.store import MetadataStore

PUBLISH_BATCH = 500  # partitions per Delta commit during a backfill
PUBLISH_EVERY_SECONDS = 10.0  # the longest a built partition waits for its batch (Run's default)
FAILED_STATES = ("failed", "upstream_failed")


class Admission(Protocol):
    """What a run reads of a gate's decision on one landed source partition."""

    @property
    def state(self) -> str: ...

    @property
    def blocked(self) -> bool: ...

    @property
    def checked_now(self) -> bool: ...

    @property
    def message(self) -> str: ...

    @property
    def sample(self) -> Sequence[Mapping[str, Any]]: ...


class SourceGate(Protocol):
    """Admits or blocks landed source partitions before anything reads them (``quality.ingest.SourceGate``)."""

    def admit(self, source: Source, key: str, files: list[str] | None = None,
              run_id: str | None = None) -> Admission | None: ...


class Judgement(Protocol):
    """What judging new metric points found: the signal rows that alert."""

    def alerts(self) -> Sequence[Mapping[str, Any]]: ...


class MetricJudge(Protocol):
    """Judges newly measured partitions of an asset or source (``monitoring.evaluator.MonitorEvaluator``)."""

    def evaluate(self, name: str, keys: list[str], run_id: str | None = None) -> Judgement: ...


class Run:
    """One execution of a plan. ``execute()`` returns a RunResult; Ctrl-C marks it cancelled.

    Tables are found through ``catalog`` (or one over ``data_root``). ``executor`` names a
    registered executor or ``auto``; an unknown name raises UsageError before anything is
    written. A built partition waits at most ``publish_every`` seconds for its publish batch.
    ``on_conflict`` (``wait`` or ``skip``) says what becomes of a partition whose lease another
    live run holds; anything else raises UsageError. ``environment`` is the snapshot row the run
    is recorded with (None records none). ``executor`` may also be an executor already started
    (a rebuild's workers in another environment): the run uses it and closes it when it ends.

    A partition published before whose code or configuration changed since is judged against
    the version it replaces (``engine.republish``); with ``republish`` ``hold`` its new version
    is kept staged for ``weir approve`` instead of published. ``held`` maps the partitions that
    have a version held now to the run that built it: a publish replaces it. ``causes`` says why
    a republished partition is judged (default: from this run's configuration)."""

    def __init__(
        self,
        *,
        project: Project,
        store: MetadataStore,
        plan: Plan,
        resolver: InputResolver,
        data_root: Path | None = None,
        catalog: TableCatalog | None = None,
        executor: str | Executor = AUTO,
        workers: int | None = None,
        trigger: str = "cli",
        request: dict | None = None,
        reporter: Reporter | None = None,
        auditor: Auditor | None = None,
        gate: SourceGate | None = None,
        monitor: MetricJudge | None = None,
        publish_every: float = PUBLISH_EVERY_SECONDS,
        on_conflict: str = "wait",
        environment: dict | None = None,
        republish: str = "replace",
        held: dict[tuple[str, str], str] | None = None,
        causes: RolloutCauses | None = None,
    ) -> None:
        if on_conflict not in ON_CONFLICT:
            raise UsageError(f"on_conflict {on_conflict!r} is not one of {', '.join(ON_CONFLICT)}")
        if republish not in REPUBLISH:
            raise UsageError(f"republish {republish!r} is not one of {', '.join(REPUBLISH)}")
        if catalog is None:
            if data_root is None:
                raise ValueError("a Run needs a table catalog or a data root")
            catalog = TableCatalog(data_root)
        self.project = project
        self.store = store
        self.catalog = catalog
        self.plan = plan
        self.resolver = resolver
        self.environment = environment
        self._started = None if isinstance(executor, str) else executor
        self.executor_name = choose_executor(executor, len(plan.tasks)) if isinstance(executor, str) else executor.name
        self.workers = workers
        self.publish_every = publish_every
        self.trigger = trigger
        self.request = request or {}
        self.reporter = reporter or SilentReporter()
        self.auditor = auditor or PassAll()
        self.gate = gate  # admits landed source partitions ; None admits all
        self._blocked_sources: dict[tuple[str, str], str] = {}
        self.monitor = monitor  # judges newly measured partitions ; None skips
        self.run_id = new_run_id()
        self.leases = PartitionLeases(store, project.name, self.run_id)
        self._signals = CancelSignals()
        self.recorder = RunRecorder(store=store, project=project, plan=plan, run_id=self.run_id, leases=self.leases)
        self.result = self.recorder.result
        self.tables = PublishedTables(project, catalog, resolver)
        self.specs = SpecBuilder(project, self.tables, run_id=self.run_id)
        self.conflicts = ConflictPolicy(store=store, project=project, plan=plan, resolver=resolver, tables=self.tables,
                                        recorder=self.recorder, on_conflict=on_conflict)
        self.result.still_blocked = [b.to_json() for b in plan.still_blocked]
        self.result.held = dict(plan.held)
        self.configuration = capture_configuration(project)
        judge = RolloutJudge(store, project.name, causes or RolloutCauses(store, project.name, self.configuration))
        self.publisher = Publisher(store=store, project=project, plan=plan, resolver=resolver, tables=self.tables,
                                   recorder=self.recorder, auditor=self.auditor, judge=judge,
                                   configuration=self.configuration, republish=republish, held=dict(held or {}),
                                   signals=self._signals)

    # -- lifecycle ------------------------------------------------------------------------
    def execute(self) -> RunResult:
        """Record, build and close the run. SIGINT and SIGTERM cancel it: KeyboardInterrupt (or
        its RunTerminated) is raised after the run is recorded ``cancelled``."""
        with self._signals:
            return self._execute()

    def _execute(self) -> RunResult:
        started = time.perf_counter()
        self.recorder.start(trigger=self.trigger, request=self.request, environment=self.environment,
                            configuration=self.configuration, executor=self.executor_name)
        self.reporter.run_started(self.run_id, len(self.plan.tasks))
        self.store.bus.subscribe(self.reporter)  # partition outcomes reach the reporter as events
        heartbeat = Heartbeat(self.store.engine, self.run_id, lease_ttl=self.leases.ttl)
        heartbeat.start()
        executor = None
        state, error = "failed", None
        try:
            if self.plan.tasks:
                executor = self._started or make_executor(self.executor_name, self.project, self.workers)
                graph = TaskGraph.of(self.project, self.plan, self.resolver)
                Scheduler(graph, self, executor, batch=PUBLISH_BATCH, every=self.publish_every, poll=POLL_SECONDS).run()
            state = "failed" if self.recorder.failed or self.recorder.check_failed else "succeeded"
        except KeyboardInterrupt as exc:
            state, error = "cancelled", str(exc) if isinstance(exc, RunTerminated) else "interrupted by the user"
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
        self.recorder.finish(state, error, seconds, self.publisher.pending())
        # check outcomes of this run: the assets' from the auditor, the sources' from the gate
        self.result.checks = {**getattr(self.gate, "outcomes", {}), **getattr(self.auditor, "outcomes", {})}
        self.result.rollouts = self.publisher.rollouts()
        self.reporter.run_finished(self.result)

    # -- steps the scheduler takes (engine.scheduler.RunSteps) ---------------------------------
    def open_asset(self, asset: str, keys: list[str]) -> None:
        self.reporter.asset_started(asset, len(keys))
        self._admit_sources(self.project.assets[asset], keys)

    def gathers(self, asset: str) -> bool:
        return self.publisher.gathers(asset)

    def claim(self, nodes: list[tuple[str, str]]) -> None:
        """Take the leases of the partitions about to be decided, in one transaction."""
        self.conflicts.claim(nodes)

    def prepare(self, asset: str, key: str) -> TaskSpec | dict | Held:
        """The spec that builds ``key`` (its lease taken), the task row saying why it is not
        built, or Held while another live run builds it and this run waits."""
        a = self.project.assets[asset]
        node = (asset, key)
        resolved = self.resolver.resolve(a, key)
        reads = [(inp.upstream, uk) for param, inp in a.inputs.items() for uk in resolved.keys[param]]
        bad = [n for n in reads if n in self.recorder.failed]
        if bad:
            self.recorder.failed.add(node)
            why = self._blocked_sources.get(bad[0])
            reason = f"source {bad[0][0]} {bad[0][1]!r} blocked: {why}" if why else f"{bad[0][0]} {bad[0][1]!r} failed"
            return task_row(asset, key, state="upstream_failed", reason=reason.replace(" ''", ""))
        held = [n for n in reads if n in self.publisher.held_now]
        if held:  # its new version waits for approval: what reads it is built once it is published
            return task_row(asset, key, state="skipped", reason=f"{held[0][0]} {held[0][1]!r} is held for approval "
                                                                 "('weir approve' publishes it)".replace(" ''", ""))
        busy = self.conflicts.deferred(node, reads)
        if busy is not None:
            return busy
        absent = resolved.describe_missing()
        if absent:
            return task_row(asset, key, state="skipped", reason=absent)
        lease = self.conflicts.lease(node)
        if lease is not None:
            return lease
        resolved, unbuilt = self.conflicts.recheck(a, key, resolved)
        if unbuilt is not None:
            return unbuilt
        self.recorder.versions[node] = resolved.versions
        return self.specs.spec(a, key, resolved.keys)

    def record_unbuilt(self, asset: str, rows: list[dict]) -> None:
        self.recorder.unbuilt(asset, rows, self.publisher.decide(asset, [r["partition_key"] for r in rows]))
        for row in rows:
            self.recorder.count(asset, row["state"])
            if row["state"] == "skipped":  # the one outcome without an event
                self.reporter.partition_skipped(asset, row["partition_key"], row["reason"])

    def record_failed(self, outcome: TaskOutcome) -> None:
        self.result.compute_seconds += outcome.compute_seconds
        self.recorder.failed.add((outcome.asset, outcome.key))
        asset = self.project.assets[outcome.asset]
        self.recorder.failures(asset, [outcome], outcome.error or "failed", self.publisher.decide(asset.name, [outcome.key]))

    def publish(self, asset: str, outcomes: list[TaskOutcome]) -> None:
        self.result.compute_seconds += sum(o.compute_seconds for o in outcomes)
        self.publisher.publish(self.project.assets[asset], outcomes)

    def finish_asset(self, asset: str, built: list[str]) -> None:
        self._evaluate_monitors(asset, [k for k in built if (asset, k) not in self.publisher.held_now])

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
        self._admit_inputs(self.gate, asset, keys, checked)
        for source, measured in checked.items():
            self._evaluate_monitors(source, measured)

    def _admit_inputs(self, gate: SourceGate, asset: Asset, keys: list[str], checked: dict[str, list[str]]) -> None:
        for param, inp in asset.inputs.items():
            src = self.project.node(inp.upstream)
            if not isinstance(src, Source):
                continue
            wanted = sorted({uk for key in keys for uk in self.resolver.upstream_keys(asset, param, inp, key)})
            for uk in wanted:
                if (src.name, uk) in self.recorder.failed:
                    continue
                files = self.resolver.source_files(src, uk)
                admission = gate.admit(src, uk, files, self.run_id) if files else None
                if admission is None:
                    continue
                if admission.checked_now:
                    checked.setdefault(src.name, []).append(uk)
                    per = self.result.sources.setdefault(src.name, {"accepted": 0, "blocked": 0})
                    per[admission.state] = per.get(admission.state, 0) + 1
                if admission.blocked:
                    self.recorder.failed.add((src.name, uk))
                    self._blocked_sources[(src.name, uk)] = admission.message
                    self.recorder.check_failed = True
                    first = admission.sample[0] if admission.sample else None
                    example = ""
                    if first and first.get("column"):
                        example = f"; e.g. {first['column']}={first.get('value')!r} {first.get('reason', '')}"
                    hint = f" (details: weir ingest {src.name}{' --partition ' + uk if uk else ''})"
                    self.result.failures.append(
                        {"asset": src.name, "partition": uk, "error": f"blocked: {admission.message}{example}{hint}"}
                    )
