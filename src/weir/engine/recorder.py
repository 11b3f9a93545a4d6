"""A run's records: its run row and task rows in the metadata store, written with their events in
one transaction each, and the RunResult its caller is told. The recorder also keeps what the
run's steps learn of its partitions as they go: which failed, whether a check did, what each
one read and why each was planned."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weir.engine.heartbeat import this_host
from weir.engine.leasing import PartitionLeases, transact
from weir.events import Event, EventKind

if TYPE_CHECKING:
    from weir.engine.planner import Plan
    from weir.engine.tasks import TaskOutcome
    from weir.model.definitions import Asset
    from weir.project.configuration import ConfigurationSnapshot
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

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


def task_row(asset: str, key: str, **values: Any) -> dict:
    """A task row of ``key`` of ``asset`` with ``values``, every other field None."""
    row: dict[str, Any] = dict.fromkeys(TASK_FIELDS)
    row["attempt"] = 0  # the column is NOT NULL: tasks skipped before any attempt keep 0
    row.update(values)
    row["asset"], row["partition_key"] = asset, key
    return row


class RunRecorder:
    """Records run ``run_id`` of ``plan``: its start and end, and the partitions it does not
    publish (unbuilt, failed), giving up their leases (``leases``) in the same transaction."""

    def __init__(self, *, store: MetadataStore, project: Project, plan: Plan, run_id: str,
                 leases: PartitionLeases) -> None:
        self.store = store
        self.project = project
        self.plan = plan
        self.run_id = run_id
        self.leases = leases
        self.result = RunResult(run_id=run_id, state="queued")
        self.failed: set[tuple[str, str]] = set()  # partitions failed, blocked or not admitted
        self.check_failed = False
        self.versions: dict[tuple[str, str], dict] = {}  # partition -> the input versions it read
        self.reasons = {(t.asset, t.key): t.reason for t in plan.tasks}  # why planned; kept on the task row

    def event(self, kind: EventKind, asset: str | None = None, key: str | None = None, **data: Any) -> Event:
        return Event(kind=kind, project=self.project.name, asset=asset, partition_key=key, run_id=self.run_id, data=data)

    def count(self, asset: str, state: str) -> None:
        per = self.result.per_asset.setdefault(asset, {})
        per[state] = per.get(state, 0) + 1

    # -- the run ----------------------------------------------------------------------------------
    def start(self, *, trigger: str, request: dict, environment: dict | None, configuration: ConfigurationSnapshot,
              executor: str) -> None:
        """The run row (``running``), its queued task rows, the code it builds and its
        ``run_started`` event, in one transaction."""
        env_id = environment["id"] if environment else None
        now = time.time()

        def record_start() -> None:  # done again if a run starting at once saved the same environment first
            if environment:
                self.store.environments.save(environment)
            self.store.configurations.save(configuration.to_row())
            self.store.runs.create(
                {
                    "id": self.run_id, "project": self.project.name, "trigger": trigger, "state": "queued",
                    "created_at": now, "host": this_host(), "pid": os.getpid(), "environment_id": env_id,
                    "configuration_id": configuration.id, "request": request, "heartbeat_at": now,
                    "deployment_id": (request or {}).get("deployment"), "actor": (request or {}).get("actor"),
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
            self.store.code.save(self.code_rows())
            for a in self.project.assets.values():  # partitions built when the range was hashed too
                self.store.partitions.adopt_code_version(self.project.name, a.name, a.legacy_code_version, a.code_version)
            self.store.emit(self.event(
                EventKind.RUN_STARTED, trigger=trigger, tasks=len(self.plan.tasks), environment_id=env_id,
                assets=sorted({t.asset for t in self.plan.tasks}), executor=executor,
            ))

        transact(self.store, record_start)
        self.result.waiting = {a: len(w) for a, w in self.plan.waiting.items()}

    def finish(self, state: str, error: str | None, seconds: float, pending: list[Event]) -> None:
        """The run's end: its unfinished tasks failed (or cancelled), its leases given up, its
        counts and ``run_finished`` event, with ``pending`` events, in one transaction."""

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
            self.store.emit(self.event(
                EventKind.RUN_FINISHED, state=state, counts=counts, seconds=round(seconds, 3),
                error=error.splitlines()[0] if error else None,
            ))
            return counts

        counts = transact(self.store, record_end)
        self.result.state = state
        self.result.counts = counts
        per = self.result.per_asset  # in plan order, whichever branch finished first
        self.result.per_asset = {a: per[a] for a in dict.fromkeys(t.asset for t in self.plan.tasks) if a in per}
        self.result.seconds = seconds

    def code_rows(self) -> list[dict]:
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

    # -- partitions not published -----------------------------------------------------------------
    def unbuilt(self, asset: str, rows: list[dict], decided: list[Event]) -> None:
        """Task rows of partitions not built (skipped, upstream failed), with ``decided`` events."""

        def record() -> None:
            self.store.emit(*decided)
            self.store.runs.update_tasks(self.run_id, rows)
            self.leases.release([(asset, r["partition_key"]) for r in rows])
            self.store.emit(*(
                self.event(EventKind.PARTITION_FAILED, asset, r["partition_key"], state=r["state"], reason=r["reason"])
                for r in rows if r["state"] == "upstream_failed"
            ))

        transact(self.store, record)

    def failures(self, asset: Asset, outcomes: list[TaskOutcome], error: str, decided: list[Event]) -> None:
        """Builds that failed (``error`` where an outcome says none), with ``decided`` events."""
        rows = []
        for o in outcomes:
            rows.append(
                task_row(
                    asset.name, o.key, state="failed", reason=self.reasons.get((asset.name, o.key)), attempt=o.attempts, input_versions=self.versions.get((asset.name, o.key)),
                    started_at=o.started_at, finished_at=time.time(), seconds=o.seconds,
                    staged_path=o.staged.path if o.staged else None, error=o.error or error, traceback=o.traceback,
                )
            )
            self.count(asset.name, "failed")
            self.result.failures.append({"asset": asset.name, "partition": o.key, "error": o.error or error})

        def record() -> None:
            self.store.emit(*decided)
            self.store.runs.update_tasks(self.run_id, rows)
            self.leases.release([(asset.name, o.key) for o in outcomes])
            self.store.emit(*(
                self.event(EventKind.PARTITION_FAILED, asset.name, r["partition_key"], state="failed",
                           error=(r["error"] or "").strip().splitlines()[-1:][0] if r["error"] else None, attempts=r["attempt"])
                for r in rows
            ))

        transact(self.store, record)
