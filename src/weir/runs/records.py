"""The documented JSON forms of runs, plans, tasks and published state (docs/cli.md, "JSON output").
Every shell renders these, so the CLI and an HTTP API cannot disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weir.model.records import iso
from weir.model.rows import RunRecord, TaskRecord

if TYPE_CHECKING:
    from weir.engine.planner import Plan
    from weir.engine.recorder import RunResult


def run_json(r: RunRecord) -> dict[str, Any]:
    """A run as ``weir runs --json`` prints it."""
    return {
        "id": r.id, "project": r.project, "state": r.state, "trigger": r.trigger,
        "created_at": iso(r.created_at), "started_at": iso(r.started_at), "finished_at": iso(r.finished_at),
        "environment_id": r.environment_id, "request": r.request, "counts": (r.summary or {}).get("counts", {}),
        "error": r.error, "deployment_id": r.deployment_id, "actor": r.actor,
    }


def task_json(t: TaskRecord) -> dict[str, Any]:
    """One partition build of a run."""
    return {
        "asset": t.asset, "partition": t.partition_key, "state": t.state, "reason": t.reason,
        "attempt": t.attempt, "code_version": t.code_version, "input_versions": t.input_versions,
        "output_version": t.output_version, "rows": t.row_count, "seconds": t.seconds,
        "error": t.error, "traceback": t.traceback,
    }


def run_detail_json(d: dict) -> dict[str, Any]:
    """A run with its environment and tasks (``weir runs show ID --json``)."""
    env = d["environment"] or {}
    return {
        **run_json(RunRecord.from_row(d)),
        "environment": {"id": env.get("id"), "python": env.get("python"), "platform": env.get("platform"),
                        "packages": env.get("packages")},
        "tasks": [task_json(TaskRecord.from_row(t)) for t in d["tasks"]],
    }


def code_json(c: dict) -> dict[str, Any]:
    """The definition behind a code version (``weir runs show ID --code ASSET --json``)."""
    return {
        "asset": c["asset"], "code_version": c["code_version"], "kind": c["kind"], "definition": c["definition"],
        "settings": c["settings"], "location": c["location"], "kept_at": iso(c["created_at"]),
    }


def result_json(result: RunResult) -> dict[str, Any]:
    """What a run did (``weir run --json``), from the engine's RunResult."""
    return result.to_dict()


def plan_json(plan: Plan, republish: str = "replace") -> dict[str, Any]:
    """What a run would build and why (``weir run --plan --json``); ``republish`` is the
    project's ``[run] republish``: whether what ``replaces`` names would be published or held."""
    return {
        "tasks": [{"asset": t.asset, "partition": t.key, "reason": t.reason} for t in plan.tasks],
        "waiting": {a: [{"partition": k, "why": w} for k, w in items] for a, items in plan.waiting.items()},
        "up_to_date": plan.up_to_date,
        "still_blocked": [b.to_json() for b in plan.still_blocked],
        "replaces": [r.to_json() for r in plan.replaces],
        "republish": republish,
        "held": plan.held,
    }


def status_json(r: dict) -> dict[str, Any]:
    """One asset's published state (``weir status --json``)."""
    keys = ("asset", "kind", "partitions", "expected", "published", "outdated_code", "rows", "first", "last")
    return {**{k: r[k] for k in keys}, "published_at": iso(r["published_at"]), "last_run": r["last_run"],
            "last_run_failed": r["last_run_failed"], "downstream_insights": r["downstream_insights"],
            "blocked": [{"partition": b["partition_key"], "since": iso(b["finished_at"]), "run_id": b["run_id"],
                         "message": b["reason"]} for b in r["blocked"]]}


def version_json(r: dict) -> dict[str, Any]:
    """One published version of a partition (``weir history --json``)."""
    return {"version": r["version"], "run_id": r["run_id"], "code_version": r["code_version"], "rows": r["row_count"],
            "published_at": iso(r["published_at"])}
