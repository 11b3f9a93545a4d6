"""Incidents as users act on them: listed, shown, diagnosed, fixed, acknowledged, resolved and
graded by hand, and the trust of the insights above them.

They are opened, grown, fixed and resolved from the durable event log by the incidents consumer
(``sync.py``), which ``sync`` runs: an incident is one root cause, and its scope is that cause,
not its first partition (``scope.py``, ``tracking.py``). An operator's change here is an event
(``incident_updated``, ``incident_resolved``) in the same transaction, with its actor."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from weir.errors import UnknownObjectError, UsageError
from weir.events import Event, EventKind
from weir.incidents.scope import IncidentCause
from weir.incidents.severity import Severity, rank
from weir.incidents.tracking import undelivered
from weir.model.rows import IncidentMember, IncidentRecord, ScopeRecord

if TYPE_CHECKING:
    from weir.incidents.sync import Synced
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


class Reason(StrEnum):
    FIXED = "fixed"
    EXPECTED = "expected"  # the world really changed
    FALSE_ALARM = "false-alarm"


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class IncidentService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore],
                 notify: Callable[[int, str], object] | None = None, tables: Any = None) -> None:
        self._project = project
        self._store = store
        self._tables = tables  # the asset tables, to read a partition beside its last good version
        # queues the notifications of a change (opened, reopened, resolved) in the change's own unit of work
        self._notify = notify or (lambda incident_id, change: None)

    # -- from the log -------------------------------------------------------------------------
    def sync(self) -> Synced:
        """Open or grow incidents from the triggers logged since the last sync (``sync.py``)."""
        from weir.incidents.sync import IncidentSync

        return IncidentSync(self).run()

    def _before(self, asset: str, key: str) -> str | None:
        """The partition of ``asset`` before ``key`` (None: the first, or no time grid)."""
        try:
            scheme = self._project().node(asset).partitions
            return scheme.shift(key, -1) if scheme.is_partitioned else None
        except Exception:  # noqa: BLE001 - an asset no longer in the project, a key off its grid
            return None

    def _event(self, kind: EventKind, incident_id: int, **data: Any) -> Event:
        incident = self._store().incidents.get(incident_id)
        return Event(kind=kind, project=self._project().name, asset=incident.root_asset if incident else None,
                     partition_key=incident.root_partition if incident else None, data={"incident": incident_id, **data})

    # -- as users ask -------------------------------------------------------------------------
    def list(self, state: State | None = None, *, sync: bool = False) -> builtins.list[dict]:
        """Incidents, newest first, each with its member count (``state``: only those). A read:
        it shows what the last pump made of the log (``sync`` brings it up to date first)."""
        if sync:
            self.sync()
        store = self._store()
        with store.read():
            rows = store.incidents.select(self._project().name, states=(state,) if state else ())
            members = store.incidents.members([r.id for r in rows])
        return [{**r.as_dict(), "members": len(members.get(r.id, [])),
                 "assets": sorted({m.asset for m in members.get(r.id, []) if m.asset})} for r in rows]

    def show(self, incident_id: int) -> dict:
        """One incident with its members (why each joined) and its timeline."""
        store = self._store()
        with store.read():
            row = store.incidents.get(incident_id)
            if row is None or row.project != self._project().name:
                raise UnknownObjectError(f"no incident {incident_id} in project {self._project().name!r}")
            members = store.incidents.members([incident_id])[incident_id]
            kinds = (EventKind.INCIDENT_OPENED, EventKind.INCIDENT_UPDATED, EventKind.INCIDENT_RESOLVED)
            timeline = store.events.about_incident(self._project().name, incident_id, kinds=kinds)
            scope = store.incidents.scope([incident_id])[incident_id]
            told = store.incidents.diagnoses(incident_id)
        cause = IncidentCause.from_json(row.cause)
        diagnosis = told[-1]["diagnosis"] if told else self._diagnose_now(row, members)
        return {**row.as_dict(), "member_list": [m.as_dict() for m in members], "timeline": timeline, "diagnosis": diagnosis,
                "diagnoses": [{"at": d["at"], "change": d["change"], "verdict": d["diagnosis"]["classification"]}
                              for d in told],
                "cause": cause.to_json() if cause else None, "scope": [r.as_dict() for r in scope],
                "left": sum(1 for r in scope if r.fixed_run_id is None),
                "fix": [s.to_json() for s in self.remedy(row, scope)] if row.state != State.RESOLVED else [],
                "assets": sorted({m.asset for m in members if m.asset} | {r.asset for r in scope})}

    def remedy(self, row: IncidentRecord, scope: builtins.list[ScopeRecord] | None = None) -> builtins.list[Any]:
        """The steps that fix the incident's whole scope (``remedy.py``)."""
        from weir.incidents.remedy import remedy_for

        store = self._store()
        if scope is None:
            with store.read():
                scope = store.incidents.scope([row.id])[row.id]
        return remedy_for(self._project(), IncidentCause.from_json(row.cause), scope)

    def undelivered(self, incident_id: int) -> builtins.list[str]:
        """The source partitions of an incident's scope still bad whose landed files are still a
        delivery the incident holds bad (nothing new has landed for them): ``["source key"]``."""
        return undelivered(self._project(), self._store(), incident_id)

    def diagnose_incident(self, row: IncidentRecord, members: builtins.list[IncidentMember]) -> dict | None:
        """The diagnosis of an incident as it was told when it opened (or last reopened), never a
        recomputation against today; one made now for an incident that has none stored."""
        store = self._store()
        with store.read():
            told = store.incidents.diagnoses(row.id)
        return told[-1]["diagnosis"] if told else self._diagnose_now(row, members)

    def _diagnose_now(self, row: IncidentRecord, members: builtins.list[IncidentMember]) -> dict | None:
        from weir.incidents.telling import diagnose_incident

        return diagnose_incident(self._project(), self._store(), row.root_asset, row.root_partition, members,
                                 tables=self._tables,
                                 before=self._before)

    def diagnose(self, asset: str, partition: str) -> dict:
        """What changed since the last good build of ``asset``, for partition ``partition``."""
        from weir.incidents.diagnosis import diagnose
        from weir.incidents.telling import diagnose_incident
        from weir.project.keys import partition_key

        project = self._project()
        key = partition_key(project, asset, partition, sources=True)
        # as an incident on it would be told: one key moved while its peers did not, a witness
        store = self._store()
        with store.read():  # a partition of a fault that goes on is compared with the days before the fault
            active = store.incidents.select(project.name, states=(State.OPEN, State.ACKNOWLEDGED))
            scopes = store.incidents.scope([i.id for i in active])
        first = min((r.partition_key for rows in scopes.values() if any(
            (r.asset, r.partition_key) == (asset, key) for r in rows) for r in rows if r.asset == asset),
            default=key)
        told = diagnose_incident(project, store, asset, key, [],
                                 tables=self._tables, before=lambda a, k: self._before(a, min(first, k)))
        return told if told is not None else diagnose(project, self._store(), asset, key)

    def trust(self, insight: str | None = None, *, sync: bool = False, now: datetime | None = None) -> builtins.list[dict]:
        """The trust status of every insight (or one): trusted, suspect, stale or broken, why,
        the partition it is trusted through and its history (``trust.py``); ``now`` (default:
        the clock) is the moment deadlines are judged at."""
        from weir.incidents.trust import read_facts, trust

        if sync:
            self.sync()
        project, store = self._project(), self._store()
        if insight and insight not in project.insights:
            from weir.project.graph import suggest

            raise UnknownObjectError(f"unknown insight {insight!r}{suggest(insight, list(project.insights))}")
        insights = [project.insights[insight]] if insight else list(project.insights.values())
        with store.read():
            facts = read_facts(project, store, insights, now or datetime.now(UTC))
        return trust(insights, facts)

    def acknowledge(self, incident_id: int, note: str | None = None, *, actor: str = "unknown") -> IncidentRecord:
        return self._change(incident_id, State.ACKNOWLEDGED, note=note, actor=actor)

    def resolve(self, incident_id: int, reason: Reason, note: str | None = None, *, actor: str = "unknown") -> IncidentRecord:
        return self._change(incident_id, State.RESOLVED, reason=reason, note=note, actor=actor)

    def set_severity(self, incident_id: int, level: Severity, note: str | None = None, *,
                     actor: str = "unknown") -> IncidentRecord:
        """Set an incident's severity by hand (any state): automatic grading leaves it as set from
        then on. An ``incident_updated`` event (change severity, by hand)."""
        store = self._store()
        with store.transaction():
            row = self._own(incident_id)
            changes: dict[str, Any] = {"severity": str(level), "severity_by_hand": True, "updated_at": time.time()}
            if note is not None:
                changes["note"] = note
            store.incidents.update(incident_id, **changes)
            store.emit(self._event(EventKind.INCIDENT_UPDATED, incident_id, change="severity", severity=str(level),
                                   was=row.severity, by="hand", note=note, actor=actor))
            if row.state != State.RESOLVED and rank(level) > rank(row.severity):
                self._notify(incident_id, "escalated")
            return store.incidents.get(incident_id) or row

    def _get(self, incident_id: int) -> IncidentRecord:
        row = self._store().incidents.get(incident_id)
        if row is None:
            raise UnknownObjectError(f"no incident {incident_id}")
        return row

    def _own(self, incident_id: int) -> IncidentRecord:
        row = self._store().incidents.get(incident_id)
        if row is None or row.project != self._project().name:
            raise UnknownObjectError(f"no incident {incident_id} in project {self._project().name!r}")
        return row

    def _change(self, incident_id: int, state: State, *, reason: Reason | None = None, note: str | None = None,
                actor: str = "unknown") -> IncidentRecord:
        store = self._store()
        with store.transaction():
            row = self._own(incident_id)
            if row.state == State.RESOLVED:
                raise UsageError(f"incident {incident_id} is already resolved ({row.reason})")
            if state == State.ACKNOWLEDGED and row.state == State.ACKNOWLEDGED:
                return row
            now = time.time()
            changes: dict[str, Any] = {"state": str(state), "updated_at": now}
            if note is not None:
                changes["note"] = note
            if state == State.RESOLVED:
                changes.update(reason=str(reason), resolved_at=now)
                store.incidents.update(incident_id, **changes)
                store.emit(self._event(EventKind.INCIDENT_RESOLVED, incident_id, reason=str(reason), note=note,
                                       actor=actor))
                self._notify(incident_id, "resolved")
            else:
                store.incidents.update(incident_id, **changes)
                store.emit(self._event(EventKind.INCIDENT_UPDATED, incident_id, change="acknowledged", note=note,
                                       actor=actor))
            return store.incidents.get(incident_id) or row
