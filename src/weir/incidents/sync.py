"""The incidents consumer: opens, grows, fixes and resolves incidents from the event log.

``IncidentSync.run`` reads the triggers logged since its cursor (a blocked partition or
delivery, a failed build, a monitor alert, a schema change; warnings never open incidents) and,
in the same unit of work that moves the cursor, opens an incident or adds the trigger to the
open incident it shares a root with (``grouping.match``), saying why. A trigger whose root was
resolved within ``REOPEN_WINDOW`` reopens that incident rather than forking a new one.

When an incident opens, its diagnosis is stored (the story as told) and names the cause; every
partition built under that cause, and everything built from those, joins the scope whenever it
is built (``tracking.py``). At the end of each batch the partitions rebuilt good are fixed, and
an incident whose whole scope is fixed resolves itself (reason fixed). Every change is an event
in the same transaction, and queues its notifications there (``notify``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.events import Event, EventKind, RolloutChanged, payload
from weir.incidents.grouping import BROKEN, TRIGGERS, match, series, summary
from weir.incidents.scope import IncidentCause, cause_of, describe
from weir.incidents.service import Reason, State
from weir.incidents.severity import assess, rank, severity
from weir.incidents.tracking import ScopeTracker, bad_versions, same_cause

if TYPE_CHECKING:
    from weir.incidents.service import IncidentService
    from weir.model.rows import IncidentMember, IncidentRecord, ScopeRecord

# a root partition delivered or built again: if nothing is raised on it after, the incident is fixed
HEALING = (EventKind.PARTITION_PUBLISHED, EventKind.SOURCE_ADMITTED)
REOPEN_WINDOW = 7 * 86400.0  # seconds after resolution during which the same root reopens an incident
BATCH = 500


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


class IncidentSync:
    """One pass of the incidents consumer over the log, for the service's project; it reads
    partitions' neighbours, diagnoses and remedies through the service."""

    def __init__(self, service: IncidentService) -> None:
        self._service = service
        self._project = service._project
        self._store = service._store
        self._notify = service._notify

    def _before(self, asset: str, key: str) -> str | None:
        return self._service._before(asset, key)

    def _event(self, kind: EventKind, incident_id: int, **data: Any) -> Event:
        return self._service._event(kind, incident_id, **data)

    def _get(self, incident_id: int) -> IncidentRecord:
        return self._service._get(incident_id)

    def _diagnose_now(self, row: IncidentRecord, members: list[IncidentMember]) -> dict | None:
        return self._service._diagnose_now(row, members)

    def remedy(self, row: IncidentRecord, scope: list[ScopeRecord]) -> list[Any]:
        return self._service.remedy(row, scope)

    def run(self) -> Synced:
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
