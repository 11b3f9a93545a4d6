"""Incidents as users act on them: opened and grouped from the durable event log, listed, shown,
acknowledged and resolved.

``sync`` reads the triggers logged since its cursor (a blocked partition or delivery, a failed
build, a monitor alert, a schema change; warnings never open incidents) and, in the same unit
of work that moves the cursor, opens an incident or adds the trigger to the open incident it
shares a root with (``grouping.match``), saying why. A trigger whose root was resolved within
``REOPEN_WINDOW`` reopens that incident rather than forking a new one.

An incident's scope is its cause, not its first partition (``scope.py``, ``tracking.py``): when
it opens, its diagnosis is stored (the story as told) and names the cause; every partition built
under that cause, and everything built from those, joins the scope whenever it is built. The
incident resolves itself (reason fixed) only when every partition of its scope has been built
again, not under the cause, from good inputs, and raised nothing. Every change is an event
(``incident_opened``, ``incident_updated``, ``incident_resolved``) in the same transaction."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from weir.errors import UnknownObjectError, UsageError
from weir.events import Event, EventKind, RolloutChanged, payload
from weir.incidents.grouping import BROKEN, TRIGGERS, match, series, summary
from weir.incidents.scope import IncidentCause, cause_of, describe
from weir.incidents.severity import Severity, assess, rank, severity
from weir.incidents.tracking import ScopeTracker, bad_versions, same_cause, undelivered
from weir.model.rows import IncidentMember, IncidentRecord, ScopeRecord

# a root partition delivered or built again: if nothing is raised on it after, the incident is fixed
HEALING = (EventKind.PARTITION_PUBLISHED, EventKind.SOURCE_ADMITTED)

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

REOPEN_WINDOW = 7 * 86400.0  # seconds after resolution during which the same root reopens an incident
BATCH = 500


class Reason(StrEnum):
    FIXED = "fixed"
    EXPECTED = "expected"  # the world really changed
    FALSE_ALARM = "false-alarm"


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass
class Synced:
    """What one sync did."""

    opened: list[int] = field(default_factory=list)
    joined: int = 0
    reopened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)  # fixed by themselves: their whole scope came back clean
    fixed: dict[int, list[str]] = field(default_factory=dict)  # incident -> partitions of its scope rebuilt good


def cursor_name(project: str) -> str:
    return f"incidents:{project}"


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
        """Open or grow incidents from the triggers logged since the last sync. Safe to run from
        several processes at once: each batch takes the cursor's row first, so a trigger is
        handled exactly once."""
        project, store = self._project(), self._store()
        out = Synced()
        closure: dict[str, set[str]] = {}

        def downstream(asset: str) -> set[str]:
            if asset not in closure:
                try:
                    closure[asset] = set(project.closure([asset], upstream=False)) - {asset}
                except Exception:  # noqa: BLE001 - an asset the project no longer has
                    closure[asset] = set()
            return closure[asset]

        name = cursor_name(project.name)
        while True:
            with store.transaction():
                store.cursors.advance(name, 0)  # takes the cursor's row: a second syncer waits here
                position = store.cursors.get(name)
                events = store.events.after(position, kinds=(*TRIGGERS, *HEALING, EventKind.ROLLOUT_CHANGED),
                                            project=project.name, limit=BATCH)
                tracker = ScopeTracker(project, store, downstream)
                healed: dict[tuple[str | None, str | None], Event] = {}
                for event in events:
                    where = (event.asset, event.partition_key)
                    if event.kind in HEALING:
                        healed[where] = event
                        tracker.built(event)
                        continue
                    if event.kind == EventKind.ROLLOUT_CHANGED and self._repairs(event, tracker):
                        continue  # a change back over partitions in scope: the fix, not a new fault
                    healed.pop(where, None)  # the new delivery or build raised something again
                    tracker.retract(where)
                    self._take(event, downstream, out, tracker)
                self._settle(tracker, healed, out)
                if len(events) < BATCH:
                    self._regrade_active(downstream)  # an incident that has lasted is graded up
                if events:
                    store.cursors.advance(name, int(events[-1].id or position))
            if len(events) < BATCH:
                return out

    def _take(self, event: Event, downstream: Callable[[str], set[str]], out: Synced, tracker: ScopeTracker) -> None:
        store, project = self._store(), self._project().name
        active = store.incidents.select(project, states=(State.OPEN, State.ACKNOWLEDGED))
        members = store.incidents.members([i.id for i in active])
        line = summary(event)
        scope = {i: {(r.asset, r.partition_key) for r in rows if r.fixed_run_id is None}
                 for i, rows in store.incidents.scope([i.id for i in active]).items()}
        found = match(event, active, members, downstream, self._before, scope)
        now = event.at
        if found is not None:
            incident = next(i for i in active if i.id == found.incident_id)
            changes: dict[str, Any] = {"updated_at": now}
            if found.new_root is not None:
                changes.update(root_asset=found.new_root[0], root_partition=found.new_root[1], title=line)
            store.incidents.update(incident.id, **changes)
            self._member(incident.id, event, line, found.why)
            self._scope_trigger(incident.id, event, found.why, tracker)
            out.joined += 1
            store.emit(self._event(EventKind.INCIDENT_UPDATED, incident.id, change="joined", member=line,
                                   why=found.why, asset=event.asset, partition=event.partition_key))
            self._regrade(incident.id, downstream)
            # what joined may reach an insight whose owners were not told yet: they are told now
            # (routes already told are left alone; the outbox's keys make this idempotent)
            self._notify(incident.id, "escalated")
            return
        recently = store.incidents.resolved_since(project, now - REOPEN_WINDOW)
        recurrence = [i for i in recently if i.root_asset == event.asset and i.root_partition == event.partition_key]
        recurrence = recurrence or same_cause(self._project(), self._store(), event, recently, tracker)
        if recurrence:
            incident = recurrence[0]
            store.incidents.update(incident.id, state=State.OPEN, reason=None, resolved_at=None, updated_at=now,
                                   reopened=incident.reopened + 1)
            self._member(incident.id, event, line, "the same root again: reopened")
            self._scope_trigger(incident.id, event, "the same root again", tracker)
            out.reopened.append(incident.id)
            store.emit(self._event(EventKind.INCIDENT_UPDATED, incident.id, change="reopened", member=line))
            self._tell(incident.id, "reopened", tracker, now)
            self._regrade(incident.id, downstream, notify=False)
            self._notify(incident.id, "reopened")
            return
        level = severity(assess([event], self._project().insights.values(),
                                downstream, time.time() - now))
        new = store.incidents.open(project, root_asset=event.asset or "", root_partition=event.partition_key,
                                   severity=str(level), title=line, at=now)
        self._member(new, event, line, "opened it")
        self._scope_trigger(new, event, "opened it", tracker)
        out.opened.append(new)
        store.emit(self._event(EventKind.INCIDENT_OPENED, new, title=line, severity=str(level), asset=event.asset,
                               partition=event.partition_key))
        self._tell(new, "opened", tracker, now)
        self._regrade(new, downstream, notify=False)
        self._notify(new, "opened")

    def _before(self, asset: str, key: str) -> str | None:
        """The partition of ``asset`` before ``key`` (None: the first, or no time grid)."""
        try:
            scheme = self._project().node(asset).partitions
            return scheme.shift(key, -1) if scheme.is_partitioned else None
        except Exception:  # noqa: BLE001 - an asset no longer in the project, a key off its grid
            return None

    def _scope_trigger(self, incident_id: int, event: Event, why: str, tracker: ScopeTracker) -> None:
        """The trigger's partitions join the scope: its own, or every partition a rollout replaced,
        each with the versions of it that are bad (``_bad_versions``)."""
        keys = list(payload(event, RolloutChanged).partitions or ()) if event.kind == EventKind.ROLLOUT_CHANGED else []
        keys = keys or ([event.partition_key] if event.partition_key else [])
        via = "cause" if event.kind == EventKind.ROLLOUT_CHANGED else "trigger"
        versions = bad_versions(self._project(), self._store(), event, keys)
        for key in keys:
            tracker.add(incident_id, (event.asset or "", key), run_id=event.run_id, via=via, why=why, at=event.at,
                        version=versions.get(key))

    def _tell(self, incident_id: int, change: str, tracker: ScopeTracker, at: float) -> None:
        """Diagnose the incident, keep the diagnosis as told, take its cause and sweep its scope."""
        store = self._store()
        row = self._get(incident_id)
        members = store.incidents.members([incident_id])[incident_id]
        rollout = next((m for m in members if m.kind == EventKind.ROLLOUT_CHANGED), None)
        diagnosis = self._diagnose_now(row, members)
        cause = IncidentCause.from_json(row.cause) if change != "opened" else None
        if cause is None:
            cause = cause_of(diagnosis, row.root_asset or "", broken=any(m.kind in BROKEN for m in members))
            if rollout is not None and cause.kind not in ("code", "configuration"):
                d = store.events.by_id(rollout.event_id) if rollout.event_id else None
                data = d.data if d else {}
                cause = IncidentCause(kind="configuration" if data.get("cause") == "configuration" else "code",
                                      asset=row.root_asset, summary=str(data.get("moved") or rollout.summary),
                                      code_version=data.get("to_code_version"),
                                      good_code_version=data.get("from_code_version"))
            store.incidents.update(incident_id, cause=cause.to_json(), updated_at=row.updated_at or at)
        tracker.changed()
        tracker.sweep(incident_id, cause, at)
        if diagnosis is not None:
            row = store.incidents.get(incident_id) or row
            steps = self.remedy(row, store.incidents.scope([incident_id])[incident_id])
            diagnosis["fix"] = [s.to_json() for s in steps]
            whole = "; then ".join(f"'{s.command}'" if s.kind not in ("revert", "deliver") else s.command for s in steps)
            for c in diagnosis["causes"]:
                if c["kind"] == cause.kind or (c["kind"] == "input data" and cause.kind in ("data", "delivery")):
                    c["fix"] = f"{whole} (every partition of incident {incident_id}'s scope: 'weir incidents fix {incident_id}')"
                    break
            store.incidents.keep_diagnosis(incident_id, change=change, diagnosis=diagnosis, at=at)

    def _repairs(self, event: Event, tracker: ScopeTracker) -> bool:
        """Whether a rollout only rewrites partitions an active incident holds as bad (the fix)."""
        keys = {(event.asset or "", k) for k in payload(event, RolloutChanged).partitions or ()}
        bad = set().union(*(tracker.bad(rows) for _, _, rows in tracker.active())) if tracker.active() else set()
        return bool(keys) and keys <= bad

    def _regrade(self, incident_id: int, downstream: Callable[[str], set[str]], *, notify: bool = True) -> None:
        """Set the severity the incident's impact calls for (``severity.py``), unless an operator
        set it by hand; a change is an ``incident_updated`` event (change severity), and a rise
        is told to the alert routes that hear of it only from now (``escalated``)."""
        store = self._store()
        row = store.incidents.get(incident_id)
        if row is None or row.severity_by_hand:
            return
        members = store.incidents.members([incident_id])[incident_id]
        impact = assess(members, self._project().insights.values(), downstream, time.time() - row.opened_at)
        level = severity(impact)
        if level != row.severity:
            store.incidents.update(incident_id, severity=str(level), updated_at=row.updated_at)
            store.emit(self._event(EventKind.INCIDENT_UPDATED, incident_id, change="severity", severity=str(level),
                                   was=row.severity, by="weir", why=impact.describe()))
            if notify and rank(level) > rank(row.severity):
                self._notify(incident_id, "escalated")

    def _regrade_active(self, downstream: Callable[[str], set[str]]) -> None:
        for incident in self._store().incidents.select(self._project().name, states=(State.OPEN, State.ACKNOWLEDGED)):
            self._regrade(incident.id, downstream)

    def _settle(self, tracker: ScopeTracker, healed: dict[tuple[str | None, str | None], Event], out: Synced) -> None:
        """At the end of a batch: fix the scope partitions rebuilt good, resolve (reason fixed) the
        incidents whose whole scope is good, and tell what is left of the others. An incident with
        no scope (kept from before scopes) resolves when its root is delivered or built again clean."""
        fixed = tracker.settle()
        store = self._store()
        for incident, _, rows in tracker.active():
            n = incident.id
            if not rows:
                event = healed.get((incident.root_asset, incident.root_partition))
                if event is not None and event.at >= incident.updated_at:
                    how = "delivered again" if event.kind == EventKind.SOURCE_ADMITTED else "rebuilt"
                    self._resolved(n, event.at, f"{incident.root_asset} {incident.root_partition} {how} and "
                                   "passed its checks and monitors", out)
                continue
            if n in tracker.grown and n not in out.opened:  # what joins with the opening is part of it
                store.emit(self._event(EventKind.INCIDENT_UPDATED, n, change="scope", added=tracker.grown[n][:50],
                                       scope=describe(rows)))
                self._notify(n, "grew")  # the owners already cautioned hear the period it covers now
            left = [r for r in rows if r.fixed_run_id is None]
            if n not in fixed:
                continue
            out.fixed[n] = fixed[n]
            at = max((r.fixed_at or 0.0) for r in rows)
            if not left:
                self._resolved(n, at, f"all {len(rows)} partition(s) of its scope rebuilt from good inputs and passed "
                               f"their checks and monitors ({describe(rows)})", out)
            else:
                store.emit(self._event(EventKind.INCIDENT_UPDATED, n, change="partly fixed", fixed=fixed[n][:50],
                                       left=[f"{r.asset} {r.partition_key}" for r in left][:50],
                                       note=f"{len(rows) - len(left)} of {len(rows)} partition(s) rebuilt good; "
                                            f"{len(left)} still bad"))

    def _resolved(self, incident_id: int, at: float, note: str, out: Synced) -> None:
        self._store().incidents.update(incident_id, state=State.RESOLVED, reason=str(Reason.FIXED), resolved_at=at,
                                       updated_at=at, note=note)
        self._store().emit(self._event(EventKind.INCIDENT_RESOLVED, incident_id, reason=str(Reason.FIXED), note=note,
                                       automatic=True))
        self._notify(incident_id, "resolved")
        out.resolved.append(incident_id)

    def _member(self, incident_id: int, event: Event, line: str, why: str) -> None:
        self._store().incidents.add_member(
            incident_id, event_id=event.id, kind=str(event.kind), asset=event.asset, partition_key=event.partition_key,
            run_id=event.run_id, summary=line, why=why, at=event.at, series=series(event))

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
