"""The run lifecycle: record the run, let the scheduler build its graph, and for each partition
take its lease, admit its sources, resolve its inputs, audit and publish what was built, record
the results. A partition another live run is building is waited for or skipped (``on_conflict``)."""

from __future__ import annotations

import os
import secrets
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weir.engine.audit import Auditor, PassAll
from weir.engine.blocked import checks_version, normalized
from weir.engine.cancel import CancelSignals, RunTerminated
from weir.engine.executors import AUTO, Executor, choose_executor, make_executor
from weir.engine.heartbeat import Heartbeat, this_host
from weir.engine.inputs import InputResolver
from weir.engine.leasing import POLL_SECONDS, PartitionLeases, transact
from weir.engine.planner import Plan
from weir.engine.republish import RolloutCauses, RolloutJudge, held_version
from weir.engine.rollout import PartitionChange, describe
from weir.engine.scheduler import Held, Scheduler, TaskGraph
from weir.engine.tasks import InputSpec, TaskOutcome, TaskSpec
from weir.errors import UsageError
from weir.events import Event, EventKind
from weir.model.definitions import Asset, Source
from weir.model.mappings import Previous
from weir.model.partitions import TimeScheme
from weir.project.config import ON_CONFLICT, REPUBLISH
from weir.project.configuration import capture as capture_configuration
from weir.project.graph import Project
from weir.reporting import Reporter, SilentReporter
from weir.storage.catalog import TableCatalog
from weir.storage.delta import AssetTable
from weir.store.store import MetadataStore

PUBLISH_BATCH = 500  # partitions per Delta commit during a backfill
PUBLISH_EVERY_SECONDS = 10.0  # the longest a built partition waits for its batch (Run's default)
# While another run of the project is live, what it published is read again at most this often
# (whether one is live is asked as often): a partition it built after this run planned is not rebuilt.
RIVALS_SECONDS = 1.0
FAILED_STATES = ("failed", "upstream_failed")
TASK_FIELDS = (
    "state", "reason", "attempt", "input_versions", "output_version", "row_count",
    "started_at", "finished_at", "seconds", "staged_path", "error", "traceback",
)


def new_run_id() -> str:
    """A run id that sorts by time: ``YYYYmmdd-HHMMSS-`` and 8 random hex digits, so that runs
    started in the same second (a test, a backfill script, several daemons) never collide."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


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
    # partitions other live runs were building: waited for (and of those, up to date after the
    # wait, so not rebuilt) or skipped, with the runs that held them
    conflicts: dict = field(default_factory=lambda: {"on_conflict": "wait", "runs": [], "waited": 0, "up_to_date": 0,
                                                     "skipped": 0})
    # open blocks this run left alone: nothing that decided them changed (engine.blocked.Block.to_json)
    still_blocked: list[dict] = field(default_factory=list)
    # per asset, the published partitions it republished (or held) under changed code or
    # configuration, judged against the versions they replace (engine.rollout.AssetRollout.to_json)
    rollouts: list[dict] = field(default_factory=list)
    # partitions a stale run left alone, per asset: a version of them held for approval is up to date
    held: dict[str, int] = field(default_factory=dict)
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
            "conflicts": self.conflicts,
            "still_blocked": self.still_blocked,
            "rollouts": self.rollouts,
            "held": self.held,
            "seconds": round(self.seconds, 3),
        }


def _task_row(asset: str, key: str, **values) -> dict:
    row: dict[str, Any] = dict.fromkeys(TASK_FIELDS)
    row["attempt"] = 0  # the column is NOT NULL: tasks skipped before any attempt keep 0
    row.update(values)
    row["asset"], row["partition_key"] = asset, key
    return row


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
        gate=None,
        monitor=None,
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
        self.on_conflict = on_conflict
        self.leases = PartitionLeases(store, project.name, self.run_id)
        self._signals = CancelSignals()
        # what each planned partition was when planned: a waited-for one that changed since was
        # published by the run it waited for
        self._planned = {
            (t.asset, t.key): (row["version"], row["run_id"])
            for t in plan.tasks if (row := resolver.current.get((t.asset, t.key))) is not None
        }
        self._waited: dict[tuple[str, str], str] = {}  # partition -> the run it waited for
        self._deferred: dict[tuple[str, str], str] = {}  # skipped for another run -> that run
        self._refused: dict[tuple[str, str], str] = {}  # claimed, but another live run holds it -> that run
        self._rivals: tuple[float, bool] = (float("-inf"), False)  # (asked at, another run is live)
        self._read_at: dict[str, float] = {}  # asset -> when its published partitions were last read
        self.result.conflicts["on_conflict"] = on_conflict
        self.result.still_blocked = [b.to_json() for b in plan.still_blocked]
        self.result.held = dict(plan.held)
        self.configuration = capture_configuration(project)
        self.republish = republish
        self.judge = RolloutJudge(store, project.name, causes or RolloutCauses(store, project.name, self.configuration))
        self._held_before = dict(held or {})  # (asset, key) -> the run whose version of it is held
        self._held_now: set[tuple[str, str]] = set()  # held by this run
        self._gathered = {r.asset for r in plan.replaces}  # published in as few commits as the batch allows
        self._undecided: dict[str, set[str]] = {}  # per asset, its planned partitions not decided yet
        for t in plan.tasks:
            self._undecided.setdefault(t.asset, set()).add(t.key)

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
        """Record, build and close the run. SIGINT and SIGTERM cancel it: KeyboardInterrupt (or
        its RunTerminated) is raised after the run is recorded ``cancelled``."""
        with self._signals:
            return self._execute()

    def _execute(self) -> RunResult:
        started = time.perf_counter()
        env_id = self.environment["id"] if self.environment else None
        configuration = self.configuration
        now = time.time()

        def record_start() -> None:  # done again if a run starting at once saved the same environment first
            if self.environment:
                self.store.environments.save(self.environment)
            self.store.configurations.save(configuration.to_row())
            self.store.runs.create(
                {
                    "id": self.run_id, "project": self.project.name, "trigger": self.trigger, "state": "queued",
                    "created_at": now, "host": this_host(), "pid": os.getpid(), "environment_id": env_id,
                    "configuration_id": configuration.id, "request": self.request, "heartbeat_at": now,
                    "deployment_id": (self.request or {}).get("deployment"), "actor": (self.request or {}).get("actor"),
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
                EventKind.RUN_STARTED, trigger=self.trigger, tasks=len(self.plan.tasks), environment_id=env_id,
                assets=sorted({t.asset for t in self.plan.tasks}), executor=self.executor_name,
            ))

        transact(self.store, record_start)
        self.result.waiting = {a: len(w) for a, w in self.plan.waiting.items()}
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
            state = "failed" if self._failed or self._check_failed else "succeeded"
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
        pending = [e for asset in list(self.judge.rollouts) for e in self._rollout_events(asset)]  # a run cut short

        def record_end() -> dict[str, int]:
            self.store.emit(*pending)
            if state != "succeeded" or error:
                self.store.runs.unfinished_tasks_to(self.run_id, "cancelled" if state == "cancelled" else "failed", error or "run ended")
            counts = self.store.runs.task_counts(self.run_id)
            self.leases.release_all()
            self.store.runs.update(
                self.run_id, state=state, finished_at=time.time(), error=error, heartbeat_at=time.time(),
                summary={"counts": counts, "waiting": self.result.waiting, "conflicts": self.result.conflicts},
            )
            self.store.emit(self._event(
                EventKind.RUN_FINISHED, state=state, counts=counts, seconds=round(seconds, 3),
                error=error.splitlines()[0] if error else None,
            ))
            return counts

        counts = transact(self.store, record_end)
        self.result.state = state
        self.result.counts = counts
        per = self.result.per_asset  # in plan order, whichever branch finished first
        self.result.per_asset = {a: per[a] for a in dict.fromkeys(t.asset for t in self.plan.tasks) if a in per}
        # check outcomes of this run: the assets' from the auditor, the sources' from the gate
        self.result.checks = {**getattr(self.gate, "outcomes", {}), **getattr(self.auditor, "outcomes", {})}
        self.result.seconds = seconds
        self.result.rollouts = [r.to_json() for r in self.judge.rollouts.values() if r.changes]
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

    def gathers(self, asset: str) -> bool:
        """Whether ``asset`` republishes partitions under changed code or configuration: they are
        published together, so readers never see the old and the new code side by side and the
        judgement goes out with the commit that publishes them."""
        return asset in self._gathered

    def claim(self, nodes: list[tuple[str, str]]) -> None:
        """Take the leases of the partitions about to be decided, in one transaction."""
        wanted = [n for n in nodes if n not in self.leases.held]
        if wanted:
            self._refused.update(self.leases.take(wanted))

    def prepare(self, asset: str, key: str) -> TaskSpec | dict | Held:
        """The spec that builds ``key`` (its lease taken), the task row saying why it is not
        built, or Held while another live run builds it and this run waits."""
        a = self.project.assets[asset]
        node = (asset, key)
        resolved = self.resolver.resolve(a, key)
        reads = [(inp.upstream, uk) for param, inp in a.inputs.items() for uk in resolved.keys[param]]
        bad = [n for n in reads if n in self._failed]
        if bad:
            self._failed.add(node)
            why = self._blocked_sources.get(bad[0])
            reason = f"source {bad[0][0]} {bad[0][1]!r} blocked: {why}" if why else f"{bad[0][0]} {bad[0][1]!r} failed"
            return _task_row(asset, key, state="upstream_failed", reason=reason.replace(" ''", ""))
        held = [n for n in reads if n in self._held_now]
        if held:  # its new version waits for approval: what reads it is built once it is published
            return _task_row(asset, key, state="skipped", reason=f"{held[0][0]} {held[0][1]!r} is held for approval "
                                                                 "('weir approve' publishes it)".replace(" ''", ""))
        busy = [n for n in reads if n in self._deferred]
        if busy:  # what it reads is half-way through another run's rebuild: not read now
            self._deferred[node] = holder = self._deferred[busy[0]]
            self.result.conflicts["skipped"] += 1
            return _task_row(asset, key, state="skipped",
                             reason=f"{busy[0][0]} {busy[0][1]!r} is being built by run {holder}".replace(" ''", ""))
        absent = resolved.describe_missing()
        if absent:
            return _task_row(asset, key, state="skipped", reason=absent)
        taken_by = self._refused.pop(node, None)
        if taken_by is None and node not in self.leases.held:  # not claimed: the lease is taken now
            taken_by = self.leases.take([node]).get(node)
        if taken_by is not None:
            return self._held(node, taken_by)
        if node in self._waited or self._contended():
            resolved, row = self._replan(a, key, again=node in self._waited)
            if row is not None:
                self._conflict_with(row["run_id"])
                self.result.conflicts["up_to_date"] += 1
                when = "while this run waited" if node in self._waited else "after this run planned it"
                return _task_row(asset, key, state="skipped", reason=f"up to date: run {row['run_id']} built it {when}")
            absent = resolved.describe_missing()
            if absent:
                return _task_row(asset, key, state="skipped", reason=absent)
        self._versions[node] = resolved.versions
        return self._spec(a, key, resolved.keys, self.schema(asset))

    def _held(self, node: tuple[str, str], holder: str) -> dict | Held:
        """Another live run holds ``node``'s lease: skip it, or wait for it."""
        conflicts = self.result.conflicts
        self._conflict_with(holder)
        if self.on_conflict == "skip":
            self._deferred[node] = holder
            conflicts["skipped"] += 1
            return _task_row(*node, state="skipped", reason=f"being built by run {holder}")
        if self._waited.get(node) != holder:  # say so where ``weir runs show`` looks
            transact(self.store, lambda: self.store.runs.update_tasks(
                self.run_id, [{"asset": node[0], "partition_key": node[1], "reason": f"waiting for run {holder}"}]))
        if node not in self._waited:
            conflicts["waited"] += 1
        self._waited[node] = holder
        return Held(holder=holder)

    def _conflict_with(self, run_id: str) -> None:
        if run_id not in self.result.conflicts["runs"]:
            self.result.conflicts["runs"].append(run_id)

    def _contended(self) -> bool:
        """Whether another run of this project is live (asked at most every RIVALS_SECONDS)."""
        asked, live = self._rivals
        if time.monotonic() - asked >= RIVALS_SECONDS:
            with self.store.read():
                live = any(r["project"] == self.project.name and r["id"] != self.run_id for r in self.store.runs.active())
            self._rivals = (time.monotonic(), live)
        return live

    def _replan(self, asset: Asset, key: str, *, again: bool):
        """Decide ``key`` again on what is published now (read anew when ``again``, else as read
        at most RIVALS_SECONDS ago): its inputs, and the row of the version another run
        published since this run planned it when that version has this code and these inputs
        (up to date: not rebuilt), else None."""
        names = {asset.name} | {inp.upstream for inp in asset.inputs.values() if inp.upstream in self.project.assets}
        now = time.monotonic()
        stale = sorted(n for n in names if again or now - self._read_at.get(n, float("-inf")) >= RIVALS_SECONDS)
        if stale:
            with self.store.read():
                fresh = self.store.partitions.current(self.project.name, stale)
            for name in stale:  # files read again after the metadata: never older than what it says
                self._files.pop(name, None)
                self._schemas.pop(name, None)
                self._read_at[name] = now
            self.resolver.current.update(fresh)
        resolved = self.resolver.resolve(asset, key)
        row = self.resolver.current.get((asset.name, key))
        if (
            row is not None and row["run_id"] != self.run_id
            and (row["version"], row["run_id"]) != self._planned.get((asset.name, key))
            and row["code_version"] in (asset.code_version, asset.legacy_code_version)
            and normalized(row.get("input_versions")) == normalized(resolved.versions)
        ):
            return resolved, row
        return resolved, None

    def record_unbuilt(self, asset: str, rows: list[dict]) -> None:
        decided = self._decide(asset, [r["partition_key"] for r in rows])

        def record() -> None:
            self.store.emit(*decided)
            self.store.runs.update_tasks(self.run_id, rows)
            self.leases.release([(asset, r["partition_key"]) for r in rows])
            self.store.emit(*(
                self._event(EventKind.PARTITION_FAILED, asset, r["partition_key"], state=r["state"], reason=r["reason"])
                for r in rows if r["state"] == "upstream_failed"
            ))

        transact(self.store, record)
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
        self._evaluate_monitors(asset, [k for k in built if (asset, k) not in self._held_now])

    def _decide(self, asset: str, keys: list[str]) -> list[Event]:
        """``keys`` of ``asset`` are decided; once all its planned partitions are, its rollout
        event (if any), to be written with the transaction that records the last of them."""
        left = self._undecided.get(asset)
        if left is None:
            return []
        left.difference_update(keys)
        if left:
            return []
        del self._undecided[asset]
        return self._rollout_events(asset)

    def _rollout_events(self, asset: str) -> list[Event]:
        """The ``rollout_changed`` event of what this run published of ``asset`` under changed
        code or configuration, once: its held versions are judged again when approved."""
        rollout = self.judge.rollouts.get(asset)
        if rollout is None or rollout.emitted:
            return []
        rollout.emitted = True
        event = rollout.published(lambda key: (asset, key) not in self._held_now).event(self.project.name, self.run_id)
        rollout.announced = event is not None
        return [event] if event is not None else []

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
        decided = self._decide(asset.name, [o.key for o in outcomes])

        def record() -> None:
            self.store.emit(*decided)
            self.store.runs.update_tasks(self.run_id, rows)
            self.leases.release([(asset.name, o.key) for o in outcomes])
            self.store.emit(*(
                self._event(EventKind.PARTITION_FAILED, asset.name, r["partition_key"], state="failed",
                            error=(r["error"] or "").strip().splitlines()[-1:][0] if r["error"] else None, attempts=r["attempt"])
                for r in rows
            ))

        transact(self.store, record)

    def _publish(self, asset: Asset, outcomes: list[TaskOutcome]) -> None:
        table = self.table(asset.name)
        staged = [o.staged for o in outcomes if o.staged is not None]
        verdicts = self.auditor.audit(asset, table.uri, staged, self.run_id)
        # what passed, judged against the versions it replaces under changed code or configuration
        publishable = [s for s in staged if verdicts[s.key].publish]
        replaced = self.judge.replaced(asset, publishable, self.resolver.current)
        changes = self.judge.compare(asset, table, [s for s in publishable if s.key in replaced], replaced,
                                     lambda key: self.auditor.measured(asset.name, key)) if replaced else {}
        with self._signals.shielded():  # a cancel never falls between the Delta commit and its record
            self._commit(asset, table, outcomes, verdicts, replaced, changes)

    def _commit(self, asset: Asset, table: AssetTable, outcomes: list[TaskOutcome], verdicts: dict,
                replaced: Mapping[str, tuple[Mapping[str, Any], str]], changes: Mapping[str, PartitionChange]) -> None:
        """Publish what passed its audit in one Delta commit, but with ``republish`` ``hold`` not
        what ``replaced`` names (held instead: ``changes`` say how each differs from what it
        replaces); record it, the held and blocked builds and their events in one transaction,
        and give up their leases."""
        staged = [o.staged for o in outcomes if o.staged is not None]
        publishable = [s for s in staged if verdicts[s.key].publish]
        held: dict[str, dict] = {}
        if self.republish == "hold" and replaced:
            kept = self.auditor.withhold(asset.name, list(replaced))
            held = {s.key: held_version(self.project.name, self.run_id, asset, s, state=verdicts[s.key].state,
                                        replaced=replaced[s.key], change=changes[s.key], profile=kept.get(s.key),
                                        configuration_id=self.configuration.id,
                                        input_versions=self._versions.get((asset.name, s.key)))
                    for s in publishable if s.key in replaced}
            publishable = [s for s in publishable if s.key not in held]
            self.judge.held(asset.name, len(held))
        index = self.files(asset.name)
        version = None
        self._schemas.pop(asset.name, None)  # a publish may add columns
        if publishable:
            try:
                version = table.publish(publishable, run_id=self.run_id, metadata={"weir.code_version": asset.code_version})
            except Exception as exc:  # noqa: BLE001 - e.g. a schema the table cannot take: these partitions fail
                lost = {s.key for s in publishable}
                failing = [o for o in outcomes if o.key in lost]
                for o in failing:
                    self._failed.add((asset.name, o.key))
                self.judge.forget(asset.name, lost)
                self._record_failures(asset, [TaskOutcome(**{**o.__dict__, "error": f"publish failed: {exc}"}) for o in failing], str(exc))
                outcomes = [o for o in outcomes if o.key not in lost]
                publishable = []
        published = {s.key for s in publishable}
        now = time.time()
        published_rows, task_rows, events = [], [], []
        for o in outcomes:
            s = o.staged
            assert s is not None
            verdict = verdicts[s.key]
            if s.key in published:
                index[s.key] = [s.path]
                row = {
                    "project": self.project.name, "asset": asset.name, "partition_key": s.key, "version": version,
                    "run_id": self.run_id, "code_version": asset.code_version,
                    "input_versions": self._versions.get((asset.name, s.key)), "row_count": s.rows, "published_at": now,
                }
                published_rows.append(row)
                self.resolver.current[(asset.name, s.key)] = row
            elif s.key in held:
                self._held_now.add((asset.name, s.key))
            else:
                self._failed.add((asset.name, s.key))
            state = "held" if s.key in held else verdict.state if s.key in published else "blocked"
            if state in ("blocked", "failed_check") or state == "held" and verdict.state == "failed_check":
                self._check_failed = True
                self.result.failures.append({"asset": asset.name, "partition": s.key, "error": f"{'failed_check' if state == 'held' else state}: {verdict.message}"})
            reason = verdict.message or self._reasons.get((asset.name, s.key))
            if state == "held":
                reason = f"held for approval: {describe([changes[s.key]])}"
            task_rows.append(
                _task_row(
                    asset.name, s.key, state=state, reason=reason, attempt=o.attempts,
                    input_versions=self._versions.get((asset.name, s.key)), output_version=version if s.key in published else None,
                    row_count=s.rows, started_at=o.started_at, finished_at=now, seconds=o.seconds, staged_path=s.path,
                )
            )
            built = {"held": True} if state == "held" else {}
            events.append(self._event(EventKind.PARTITION_BUILT, asset.name, s.key, rows=s.rows, seconds=round(o.seconds, 3),
                                      attempts=o.attempts, code_version=asset.code_version, **built))
            if s.key in published:
                events.append(self._event(
                    EventKind.PARTITION_PUBLISHED, asset.name, s.key, version=version, rows=s.rows, state=state,
                    code_version=asset.code_version, inputs=self._versions.get((asset.name, s.key)), table=table.uri,
                ))
            elif state == "blocked":
                events.append(self._event(EventKind.PARTITION_BLOCKED, asset.name, s.key, rows=s.rows, message=verdict.message,
                                          staged_path=s.path, checks=checks_version(asset)))
            self._count(asset.name, state)
        # a version held before is replaced by what this commit published or held of its partition
        superseded = {k: self._held_before.pop((asset.name, k)) for k in sorted(published | set(held))
                      if (asset.name, k) in self._held_before}
        decided = self._decide(asset.name, [o.key for o in outcomes])

        def record() -> dict[str, dict]:
            self.store.runs.update_tasks(self.run_id, task_rows)  # first: on SQLite the write lock is ours from here
            newer = self._published_since(asset.name, published_rows)
            self.store.partitions.record_published([r for r in published_rows if r["partition_key"] not in newer])
            self.store.partitions.record_versions([r for r in published_rows if r["partition_key"] in newer])
            self._supersede(asset.name, superseded)
            self.store.held.hold(list(held.values()))
            self.leases.release([(asset.name, o.key) for o in outcomes])
            self.auditor.flush()
            self.store.emit(*events, *decided)
            return newer

        newer = transact(self.store, record)
        for key, row in newer.items():  # another run published it after this commit: its version is current
            self.resolver.current[(asset.name, key)] = row
            self._files.pop(asset.name, None)

    def _supersede(self, asset: str, superseded: dict[str, str]) -> None:
        """Versions held before (key -> the run that built them) that a newer build replaced:
        dropped, their builds marked rejected (their staged files go with ``weir vacuum``)."""
        if not superseded:
            return
        self.store.held.drop(self.project.name, asset, list(superseded))
        for run_id in sorted(set(superseded.values()) - {self.run_id}):
            self.store.runs.settle_held(run_id, asset, [k for k, r in superseded.items() if r == run_id], state="rejected",
                                        reason=f"replaced by a newer build in run {self.run_id}")

    def _published_since(self, asset: str, rows: list[dict]) -> dict[str, dict]:
        """Of ``rows`` (this commit's), those the store already records a newer version of — a
        run that took over a lapsed lease and committed after this one — with that version's row."""
        if not rows:
            return {}
        current = self.store.partitions.current(self.project.name, [asset])
        newer = {}
        for r in rows:
            now = current.get((asset, r["partition_key"]))
            if now is not None and now["version"] is not None and now["version"] > r["version"]:
                newer[r["partition_key"]] = now
        return newer
