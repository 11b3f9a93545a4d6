"""Telling a scenario's reporters how a tick ended, over the project's alert routes.

A report is queued in the alert outbox (change ``report``, no incident) in the same unit of work
that records the tick's outcome, its words composed at once, with an idempotency key per tick,
route and condition; the pump delivers it with the incident notifications, with their retries,
backoff and dead letters. What was queued is kept with the tick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from weir.alerts.messages import Message

if TYPE_CHECKING:
    from weir.model.scenarios import Scenario
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


def conditions(tick: dict) -> list[str]:
    """The report conditions a finished tick meets."""
    met = []
    if tick["state"] in ("succeeded", "failed"):
        met.append(tick["state"])
    if any(i.get("change") in ("opened", "reopened") for i in tick.get("incidents") or []):
        met.append("incident_opened")
    return met


def message(project: Project, scenario: Scenario, tick: dict, condition: str, to: tuple[str, ...]) -> Message:
    """Subject and text of one report: how the tick ended, step by step, and what it opened."""
    fired = describe_fired(tick.get("fired_by") or {})
    what = {"failed": "failed", "succeeded": "succeeded", "incident_opened": "opened an incident"}[condition]
    subject = f"[weir] {project.name}: scenario {scenario.name} {what}"
    lines = [f"Scenario {scenario.name} (tick {tick['id']}, {fired}) {tick['state']}: {tick.get('outcome') or ''}", ""]
    for rec in tick.get("steps") or []:
        lines.append(f"- {rec.get('name')}: {rec.get('state')}{' - ' + rec['message'] if rec.get('message') else ''}")
    for incident in tick.get("incidents") or []:
        lines.append(f"- incident {incident['id']} {incident.get('change', 'opened')}: {incident['title']} "
                     f"('weir incidents show {incident['id']}')")
    if tick.get("run_ids"):
        lines.append(f"Runs: {', '.join(tick['run_ids'])} ('weir runs show ID')")
    lines.append(f"History: weir scenario history {scenario.name}")
    data = {"scenario": scenario.name, "tick": tick["id"], "state": tick["state"], "condition": condition,
            "fired_by": tick.get("fired_by"), "runs": tick.get("run_ids") or [],
            "incidents": [i["id"] for i in tick.get("incidents") or []]}
    return Message(subject, "\n".join(lines), to, data)


def report(project: Project, store: MetadataStore, scenario: Scenario, tick: dict) -> list[dict]:
    """Queue the reports ``tick`` calls for, in the caller's unit of work; returns what was queued
    (or why not) for each."""
    import json

    met = conditions(tick)
    out = []
    for reporter in scenario.reporters:
        route = project.config.alerts.route(reporter.route)
        for condition in (c for c in reporter.on if c in met):
            key = f"{project.name}:scenario:{scenario.name}:{tick['id']}:{condition}:{reporter.route}"
            if route is None:
                out.append({"route": reporter.route, "condition": condition, "error": "no such route in weir.toml"})
                continue
            to = route.to or project.config.alerts.team or project.config.owners
            words = message(project, scenario, tick, condition, tuple(to))
            store.outbox.enqueue(project.name, key=key, incident_id=0, route=route.name, audience="team",
                                 change="report", message=json.dumps(words.to_json(), default=str))
            out.append({"route": route.name, "condition": condition, "queued": key,
                        "at": datetime.now(UTC).isoformat(timespec="seconds")})
    return out


def describe_fired(fired: dict) -> str:
    """What fired a tick, in a few words."""
    kind = fired.get("kind")
    if kind == "cron":
        missed = fired.get("missed") or 0
        extra = f", {'at least ' if fired.get('at_least') else ''}{missed} missed time(s) coalesced" if missed else ""
        return f"cron {fired.get('scheduled_for')}{extra}"
    if kind in ("landed", "published"):
        parts = fired.get("partitions") or {}
        shown = "; ".join(f"{name} {_keys(keys)}" for name, keys in parts.items())
        return f"{kind}: {shown}"
    if kind == "incident":
        return "incident " + ", ".join(f"{i['id']} {i['change']}" for i in fired.get("incidents") or [])
    if kind == "manual":
        return f"by hand{' (' + fired['by'] + ')' if fired.get('by') else ''}"
    return str(kind)


def _keys(keys: list[str]) -> str:
    keys = [k or "(unpartitioned)" for k in keys]
    if len(keys) <= 3:
        return ", ".join(keys)
    return f"{keys[0]} .. {keys[-1]} ({len(keys)})"
