"""The JSON forms of scenarios and ticks (``weir scenarios --json``, ``weir scenario history
--json``, ``weir scenario run --json``), kept with the records so every shell prints the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weir.model.steps import Call
from weir.model.triggers import Cron, IncidentChange, Landed, Published
from weir.scenarios.reports import describe_fired

if TYPE_CHECKING:
    from weir.model.scenarios import Scenario


def iso(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if at else None


def trigger_json(trigger: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": trigger.kind, "describe": trigger.describe()}
    if isinstance(trigger, Cron):
        out |= {"schedule": trigger.schedule, "timezone": trigger.timezone}
    elif isinstance(trigger, Landed):
        out |= {"sources": list(trigger.sources), "together": trigger.together, "debounce": trigger.debounce}
    elif isinstance(trigger, Published):
        out |= {"assets": list(trigger.assets), "debounce": trigger.debounce}
    elif isinstance(trigger, IncidentChange):
        out |= {"changes": list(trigger.changes), "debounce": trigger.debounce}
    return out


def step_json(step: Any) -> dict[str, Any]:
    return {"kind": step.kind, "describe": step.describe(), "continue_on_failure": step.continue_on_failure,
            "resumable": bool(step.resumable)} | ({"function": step.name} if isinstance(step, Call) else {})


def scenario_json(scenario: Scenario, last: dict | None = None, active: int = 0) -> dict[str, Any]:
    """``weir scenarios --json``: one scenario, its newest tick and how many wait or run."""
    return {
        "name": scenario.name,
        "enabled": scenario.enabled,
        "description": scenario.description,
        "defined_at": str(scenario.location),
        "triggers": [trigger_json(t) for t in scenario.triggers],
        "steps": [step_json(s) for s in scenario.steps],
        "reporters": [{"route": r.route, "on": list(r.on)} for r in scenario.reporters],
        "last_tick": tick_json(last) if last else None,
        "active_ticks": active,
    }


def tick_json(row: dict) -> dict[str, Any]:
    """One tick: what it stands for, what fired it, its state, each step, the runs it started,
    the incidents its work opened, reopened or grew, and what its reporters did."""
    started, finished = row.get("started_at"), row.get("finished_at")
    return {
        "id": row["id"],
        "scenario": row["scenario"],
        "scheduled_for": row["scheduled_for"],
        "trigger": row["trigger"],
        "fired_by": row.get("fired_by") or {},
        "why": describe_fired(row.get("fired_by") or {}),
        "state": row["state"],
        "created_at": iso(row.get("created_at")),
        "due_at": iso(row.get("due_at")),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "seconds": round(finished - started, 3) if started and finished else None,
        "holder": row.get("holder"),
        "claims": row.get("claims") or 0,
        "steps": [_step_record(r) for r in row.get("steps") or []],
        "run_ids": list(row.get("run_ids") or []),
        "incidents": list(row.get("incidents") or []),
        "outcome": row.get("outcome"),
        "reports": list(row.get("reports") or []),
    }


def _step_record(rec: dict) -> dict[str, Any]:
    keep = {"step", "kind", "name", "state", "message", "runs", "resumed"}
    out = {k: rec.get(k) for k in sorted(keep)}
    out["started_at"], out["finished_at"] = iso(rec.get("started_at")), iso(rec.get("finished_at"))
    out["details"] = {k: v for k, v in rec.items() if k not in keep | {"started_at", "finished_at"}}
    return out
