"""Doing one step of a tick through the workspace's services: what it did, in a few words and
as JSON, the runs it started, and whether it succeeded, failed or is still waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weir.errors import UnknownObjectError
from weir.model.steps import Build, Call, Check, Diagnose, Ingest, Rebuild, Retrain, Step, Wait
from weir.model.triggers import Cron

if TYPE_CHECKING:
    from weir.envs.service import EnvironmentService
    from weir.incidents.service import IncidentService
    from weir.model.scenarios import Scenario
    from weir.project.graph import Project
    from weir.quality.service import QualityService
    from weir.runs.service import RunService
    from weir.store.store import MetadataStore


@dataclass(kw_only=True)
class StepOutcome:
    state: str  # succeeded | failed | waiting
    message: str
    runs: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class Services:
    """What steps act through: the workspace's services, handed over by the composition root."""

    project: Callable[[], Project]
    store: Callable[[], MetadataStore]
    runs: RunService
    quality: QualityService
    incidents: Callable[[], IncidentService]
    envs: EnvironmentService
    workspace: Callable[[], Any]  # what a function step receives as context.workspace


@dataclass(frozen=True, kw_only=True)
class StepContext:
    """What a function step is called with."""

    workspace: Any
    scenario: str
    tick: dict
    log: Callable[[str], None]


def run_step(step: Step, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    """Do ``step`` for ``tick``; ``record`` is what the tick kept of this step so far (a wait's
    first look). Raises what the service raises (the caller records it as the step's failure)."""
    runner: Callable[..., StepOutcome] = _RUNNERS[type(step)]
    return runner(step, services, scenario, tick, record)


def _landed(tick: dict) -> dict[str, list[str]]:
    fired = tick.get("fired_by") or {}
    return dict(fired.get("partitions") or {}) if fired.get("kind") == "landed" else {}


def _ingest(step: Ingest, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    from weir.quality.ingest import new_ingest_id

    project = services.project()
    landed = _landed(tick)
    sources = list(step.sources) or [s for s in landed if s in project.sources] or list(project.sources)
    accepted = blocked = 0
    per_source: dict[str, dict[str, int]] = {}
    ingest_id = new_ingest_id()  # one id for what the step checks, as a build step has its run's
    for source in sources:
        if landed and source not in landed:  # a landing of other sources: nothing of this one to check
            continue
        keys = landed.get(source)
        judged = services.quality.ingest(source, keys or None, ingest_id=ingest_id)
        counts = per_source.setdefault(source, {"accepted": 0, "blocked": 0, "checked_now": 0})
        for a in judged:
            counts[a["state"]] = counts.get(a["state"], 0) + 1
            counts["checked_now"] += bool(a["checked_now"])
        accepted += counts["accepted"]
        blocked += counts["blocked"]
    checked = sum(c["checked_now"] for c in per_source.values())
    message = f"ingest: {checked} checked now, {accepted} accepted" + (f", {blocked} blocked" if blocked else "")
    return StepOutcome(state="failed" if blocked else "succeeded", message=message,
                       details={"sources": per_source, "run_id": ingest_id})


def _build(step: Build, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    from weir.runs.request import RunRequest

    request = RunRequest(assets=step.assets, stale=step.stale, partition=step.partition, first=step.first,
                         last=step.last, trigger=f"tick:{tick['id']}")
    result = services.runs.run(request)
    counts = result.counts
    built = sum(counts.values())
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to build"
    message = f"build: {parts}" if built else "build: nothing to build"
    return StepOutcome(state="succeeded" if result.ok else "failed", message=message, runs=[result.run_id],
                       details={"run_id": result.run_id, "state": result.state, "counts": counts,
                                "failures": result.failures[:5]})


def _retrain(step: Retrain, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    from weir.runs.request import RunRequest

    trigger = f"tick:{tick['id']}"
    trained = services.runs.run(RunRequest(assets=(step.model,), trigger=trigger))
    results = [trained]
    if trained.ok and step.downstream:
        below = [a for a in services.project().closure([step.model], upstream=False) if a != step.model]
        if below:
            results.append(services.runs.run(RunRequest(assets=tuple(below), stale=True, trigger=trigger)))
    ok = all(r.ok for r in results)
    counts: dict[str, int] = {}
    for r in results[1:]:
        for state, n in r.counts.items():
            counts[state] = counts.get(state, 0) + n
    after = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    message = f"retrain {step.model}: {trained.state}" + (f"; below it: {after}" if after else "")
    return StepOutcome(state="succeeded" if ok else "failed", message=message, runs=[r.run_id for r in results],
                       details={"trained": trained.counts, "downstream": counts, "failures": [
                           f for r in results for f in r.failures][:5]})


def _check(step: Check, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    project, store = services.project(), services.store()
    key = step.partition
    if key is None:
        with store.read():
            current = store.partitions.current(project.name, [step.asset])
        keys = sorted(k for (a, k) in current if a == step.asset)
        if not keys:
            raise UnknownObjectError(f"{step.asset!r} has no published partition to check")
        key = keys[-1]
    rows = services.quality.recheck(step.asset, key)
    failed = [r for r in rows if not r["passed"] and r["severity"] in ("error", "block")]
    message = f"check {step.asset} {key}: {len(rows) - len(failed)} of {len(rows)} passed"
    return StepOutcome(state="failed" if failed else "succeeded", message=message,
                       details={"asset": step.asset, "partition": key,
                                "failed": [r["check_name"] for r in failed]})


def _rebuild(step: Rebuild, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    from weir.envs.rebuild import RebuildRequest

    result = services.envs.rebuild(RebuildRequest(asset=step.asset, partition=step.partition, first=step.first,
                                                  last=step.last, downstream=step.downstream, env_of=step.env_of))
    runs = [r.run_id for r in result.runs]
    built = sum(sum(r.counts.values()) for r in result.runs)
    return StepOutcome(state="succeeded" if result.ok else "failed", runs=runs,
                       message=f"rebuild {step.asset}: {built} partition builds in {len(runs)} run(s)",
                       details={"runs": runs, "environment": result.environment})


def incidents_since(services: Services, since: float) -> list[dict]:
    """Incidents not resolved that were opened, reopened or joined by a new trigger at or after
    ``since`` (after a sync with the log), each with ``change``: ``opened``, ``reopened`` or
    ``grew``; oldest first."""
    from weir.events import EventKind, IncidentOpened, IncidentUpdated, payload

    project, store = services.project(), services.store()
    services.incidents().sync()
    kinds = (EventKind.INCIDENT_OPENED, EventKind.INCIDENT_UPDATED)
    with store.read():
        events = store.events.since(since, kinds=kinds, project=project.name)
        changes: dict[int, str] = {}
        for e in events:
            told = payload(e)
            incident = told.incident if isinstance(told, IncidentOpened | IncidentUpdated) else None
            if not isinstance(incident, int) or not incident:
                continue
            change = "opened" if not isinstance(told, IncidentUpdated) else {
                "reopened": "reopened", "joined": "grew"}.get(str(told.change))
            if change is not None and changes.get(incident) not in ("opened", "reopened"):
                changes[incident] = change
        rows = [store.incidents.get(i) for i in changes]
    return [{"id": r.id, "title": r.title, "severity": r.severity, "change": changes[r.id]}
            for r in rows if r is not None and r.state != "resolved"]


def _diagnose(step: Diagnose, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    found = []
    for row in incidents_since(services, tick["started_at"] or tick["created_at"]):
        shown = services.incidents().show(row["id"])
        diagnosis = shown.get("diagnosis") or {}
        causes = diagnosis.get("causes") or []
        found.append({**row, "verdict": (diagnosis.get("classification") or {}).get("verdict"),
                      "cause": causes[0]["summary"] if causes else None,
                      "fix": causes[0].get("fix") if causes else None})
    message = "diagnose: no incident opened or grown" if not found else "diagnose: " + "; ".join(
        f"incident {i['id']} {i['change']}: {i['title']}" + (f" ({i['verdict']})" if i["verdict"] else "")
        for i in found)
    return StepOutcome(state="succeeded", message=message, details={"incidents": found})


def _call(step: Call, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    import json

    lines: list[str] = []
    context = StepContext(workspace=services.workspace(), scenario=scenario.name, tick=dict(tick),
                          log=lambda text: lines.append(str(text)))
    returned = step.function(context)
    try:
        json.dumps(returned)
    except (TypeError, ValueError):
        returned = repr(returned)
    message = f"call {step.name}" + (f": {lines[-1]}" if lines else "")
    return StepOutcome(state="succeeded", message=message, details={"returned": returned, "log": lines[-50:]})


def scheduled_time(tick: dict, scenario: Scenario) -> datetime:
    """The time a tick is for, in the time zone of the scenario's first cron trigger (UTC without one)."""
    from zoneinfo import ZoneInfo

    zone = next((t.timezone for t in scenario.triggers if isinstance(t, Cron)), "UTC")
    fired = tick.get("fired_by") or {}
    at = tick["due_at"] if fired.get("kind") == "cron" else tick["created_at"]
    return datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(zone))


def _wait(step: Wait, services: Services, scenario: Scenario, tick: dict, record: dict) -> StepOutcome:
    project, store = services.project(), services.store()
    key = step.partition.format(scheduled=scheduled_time(tick, scenario)) if step.partition else None
    node = project.node(step.name)
    from weir.project.keys import partition_key

    key = partition_key(project, step.name, key, sources=True)
    if node.kind == "source":
        from weir.storage.sources import source_files

        there = bool(source_files(project.sources[step.name], project.root, key))
    else:
        with store.read():
            there = (step.name, key) in store.partitions.current(project.name, [step.name])
    since = record.get("waiting_since") or time.time()
    what = f"{step.name} {key}".rstrip()
    if there:
        return StepOutcome(state="succeeded", message=f"wait: {what} is there",
                           details={"partition": key, "waited": round(time.time() - since, 3)})
    if time.time() - since >= step.deadline:
        insights = [i for i in project.insights if step.name in project.closure(list(project.insights[i].depends_on),
                                                                                 upstream=True)]
        tail = f"; insights on it: {', '.join(sorted(insights))}" if insights else ""
        return StepOutcome(state="failed", message=f"wait: {what} missed its deadline{tail}",
                           details={"partition": key, "waiting_since": since, "insights": sorted(insights)})
    return StepOutcome(state="waiting", message=f"wait: {what} not there yet",
                       details={"partition": key, "waiting_since": since})


_RUNNERS: dict[type, Callable[..., StepOutcome]] = {
    Ingest: _ingest, Build: _build, Retrain: _retrain, Check: _check, Rebuild: _rebuild, Diagnose: _diagnose, Call: _call, Wait: _wait,
}

__all__ = ["Services", "StepContext", "StepOutcome", "incidents_since", "run_step", "scheduled_time"]
