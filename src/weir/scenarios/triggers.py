"""Evaluating a scenario's triggers: from what they handled before (their state, kept in the
store) and what is there now (the clock, landed files, the event log), the ticks to create and
the state to keep. The caller writes both in one transaction, with the scenario's trigger row
locked, so an occurrence becomes one tick whichever daemon sees it first.

- cron: the newest time passed since the last one handled (the others coalesce into it);
  a trigger seen for the first time starts from now.
- landed: partitions whose files are new or changed since the trigger last fired, and not
  already admitted with those very files; fired once the newest of them is ``debounce``
  seconds old, all in one tick.
- published, incident: events after the trigger's cursor in the durable log; fired once the
  newest matching event is ``debounce`` seconds old. A trigger seen for the first time starts
  at the end of the log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.events import Event, EventKind, IncidentUpdated, payload
from weir.model.triggers import Cron, IncidentChange, Landed, Manual, Published, Trigger
from weir.scenarios import cron

if TYPE_CHECKING:
    from weir.model.scenarios import Scenario
    from weir.project.graph import Project
    from weir.scenarios.landing import LandingScanner
    from weir.store.store import MetadataStore

INCIDENT_KINDS = (EventKind.INCIDENT_OPENED, EventKind.INCIDENT_UPDATED, EventKind.INCIDENT_RESOLVED)


@dataclass(frozen=True, kw_only=True)
class Firing:
    """A tick to create: what it is for (its unique key), when it may run, what fired it."""

    trigger: str
    scheduled_for: str
    due_at: float
    fired_by: dict[str, Any]


@dataclass(kw_only=True)
class Facts:
    """What triggers look at, read once per pass and shared by the project's scenarios. The
    event log and the admitted fingerprints are read only when a trigger asks."""

    project: Project
    store: MetadataStore
    scanner: LandingScanner
    now: float
    _landed: dict[str, dict[str, tuple[str, float]]] = field(default_factory=dict)
    _admitted: dict[str, dict[str, str]] = field(default_factory=dict)
    _events: dict[tuple[int, tuple[str, ...]], list[Event]] = field(default_factory=dict)
    ready: list[float] = field(default_factory=list)  # when triggers waiting out their debounce may fire

    def landed(self, source: str) -> dict[str, tuple[str, float]]:
        if source not in self._landed:
            self._landed[source] = self.scanner.landed(self.project.sources[source])
        return self._landed[source]

    def admitted(self, source: str) -> dict[str, str]:
        """{key: fingerprint of the files judged on arrival} (read in the caller's unit of work)."""
        if source not in self._admitted:
            rows = self.store.sources.get(self.project.name, source)
            self._admitted[source] = {k: r["fingerprint"] for k, r in rows.items()}
        return self._admitted[source]

    def events(self, cursor: int, kinds: tuple[str, ...]) -> list[Event]:
        key = (cursor, kinds)
        if key not in self._events:
            self._events[key] = self.store.events.after(cursor, kinds=kinds, project=self.project.name, limit=1000)
        return self._events[key]

    def last_event(self) -> int:
        return self.store.events.last_id()


class TriggerEvaluator:
    """Evaluates triggers pass after pass; remembers, in memory, the next time of each cron
    trigger, so an idle pass does not iterate schedules."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str, float], float] = {}  # (scenario, trigger, last) -> next fire time

    def evaluate(self, scenario: Scenario, state: dict, facts: Facts) -> tuple[list[Firing], dict]:
        """The ticks to create for ``scenario`` and its triggers' new state (``state`` itself
        when nothing changed)."""
        firings: list[Firing] = []
        new = dict(state)
        for trigger in scenario.triggers:
            handler: Callable[..., tuple[Firing | None, dict | None]] = _HANDLERS[type(trigger)]
            before = state.get(trigger.id)
            if isinstance(trigger, Cron):
                firing, after = self._cron(scenario.name, trigger, before, facts)
            else:
                firing, after = handler(trigger, before, facts)
            if firing is not None:
                firings.append(firing)
            if after is not None and after != before:
                new[trigger.id] = after
        return firings, (new if new != state else state)

    def _cron(self, scenario: str, trigger: Cron, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
        now = facts.now
        if before is None:
            return None, {"last": now}
        last = float(before["last"])
        key = (scenario, trigger.id, last)
        upcoming = self._next.get(key)
        if upcoming is not None and now < upcoming:
            return None, None
        got = cron.due(trigger.schedule, trigger.timezone, last, now)
        if got is None:
            times = cron.fire_times(trigger.schedule, trigger.timezone, now, now + 366 * 86400, limit=1)
            self._next = {k: v for k, v in self._next.items() if k[:2] != key[:2]}
            self._next[key] = times[0] if times else float("inf")
            return None, None
        firing = Firing(trigger="cron", scheduled_for="cron:" + cron.iso(got.at), due_at=got.at,
                        fired_by={**got.to_json(), "timezone": trigger.timezone, "schedule": trigger.schedule})
        return firing, {"last": got.at}


def _landed(trigger: Landed, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
    seen: dict[str, dict[str, str]] = {s: dict(v) for s, v in ((before or {}).get("seen") or {}).items()}
    landed = {s: facts.landed(s) for s in trigger.sources}
    fresh: dict[str, dict[str, tuple[str, float]]] = {}
    settled = False  # some files were found admitted already: remembered without firing
    for s in trigger.sources:
        for key, (fp, mtime) in landed[s].items():
            if seen.get(s, {}).get(key) == fp:
                continue
            if facts.admitted(s).get(key) == fp:
                seen.setdefault(s, {})[key] = fp
                settled = True
                continue
            fresh.setdefault(s, {})[key] = (fp, mtime)
    if trigger.together:  # a partition is ready once every source has files for it
        ready = {k for s in fresh for k in fresh[s] if all(k in landed[o] for o in trigger.sources)}
        fresh = {s: {k: v for k, v in items.items() if k in ready} for s, items in fresh.items()}
        fresh = {s: items for s, items in fresh.items() if items}
    after = {"seen": seen} if settled or before is None else None
    if not fresh:
        return None, after
    newest = min(max(m for items in fresh.values() for _, m in items.values()), facts.now)  # seen during this look
    if facts.now - newest < trigger.debounce:
        facts.ready.append(newest + trigger.debounce)
        return None, after  # still arriving: fire once it has been quiet for the debounce
    for s, items in fresh.items():
        for key, (fp, _) in items.items():
            seen.setdefault(s, {})[key] = fp
    listed = sorted((s, k, fp) for s, items in fresh.items() for k, (fp, _) in items.items())
    digest = hashlib.sha256(json.dumps(listed).encode()).hexdigest()[:20]
    partitions = {s: sorted(items) for s, items in sorted(fresh.items())}
    firing = Firing(trigger="landed", scheduled_for=f"landed:{digest}", due_at=facts.now,
                    fired_by={"kind": "landed", "partitions": partitions, "newest_file_at": newest})
    return firing, {"seen": seen}


def _from_log(kinds: tuple[str, ...], matches: Callable[[Event], str | None], describe: Callable[[list[tuple[Event, str]]], dict],
              name: str, debounce: float, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
    if before is None:
        return None, {"cursor": facts.last_event()}
    cursor = int(before["cursor"])
    events = facts.events(cursor, kinds)
    if not events:
        return None, None
    matched = [(e, why) for e in events for why in [matches(e)] if why is not None]
    if not matched:
        return None, {"cursor": int(events[-1].id or cursor)}
    newest = max(e.at for e, _ in matched)
    if facts.now - newest < debounce:
        facts.ready.append(newest + debounce)
        return None, None
    first, last = matched[0][0].id, matched[-1][0].id
    firing = Firing(trigger=name, scheduled_for=f"{name}:{first}-{last}", due_at=facts.now,
                    fired_by={"kind": name, "events": [first, last], **describe(matched)})
    return firing, {"cursor": int(events[-1].id or cursor)}


def _published(trigger: Published, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
    def matches(e: Event) -> str | None:
        return "published" if e.asset in trigger.assets else None

    def describe(matched: list[tuple[Event, str]]) -> dict:
        partitions: dict[str, list[str]] = {}
        for e, _ in matched:
            keys = partitions.setdefault(e.asset or "", [])
            if e.partition_key is not None and e.partition_key not in keys:
                keys.append(e.partition_key)
        return {"partitions": {a: sorted(k) for a, k in sorted(partitions.items())}}

    return _from_log((EventKind.PARTITION_PUBLISHED,), matches, describe, "published", trigger.debounce, before, facts)


def incident_change(e: Event) -> str | None:
    """``opened``, ``escalated`` or ``resolved`` for an incident event (a reopening counts as opened)."""
    if e.kind == EventKind.INCIDENT_OPENED:
        return "opened"
    if e.kind == EventKind.INCIDENT_RESOLVED:
        return "resolved"
    if e.kind != EventKind.INCIDENT_UPDATED:
        return None
    told = payload(e, IncidentUpdated)
    if told.change == "reopened":
        return "opened"
    if told.change == "severity":
        from weir.project.alerts import SEVERITIES

        rank = {s: i for i, s in enumerate(SEVERITIES)}
        now, was = str(told.severity), str(told.was)
        return "escalated" if rank.get(now, -1) > rank.get(was, len(rank)) else None
    return None


def _incident(trigger: IncidentChange, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
    def matches(e: Event) -> str | None:
        change = incident_change(e)
        return change if change in trigger.changes else None

    def describe(matched: list[tuple[Event, str]]) -> dict:
        return {"incidents": [{"id": e.data.get("incident"), "change": why} for e, why in matched]}

    return _from_log(INCIDENT_KINDS, matches, describe, "incident", trigger.debounce, before, facts)


def _manual(trigger: Manual, before: dict | None, facts: Facts) -> tuple[Firing | None, dict | None]:
    return None, None


_HANDLERS: dict[type, Callable[..., tuple[Firing | None, dict | None]]] = {
    Landed: _landed, Published: _published, IncidentChange: _incident, Manual: _manual, Cron: _manual,
}

__all__ = ["Facts", "Firing", "Trigger", "TriggerEvaluator", "incident_change"]
