"""The documented JSON forms of environments (docs/cli.md, "JSON output"): every shell renders these."""

from __future__ import annotations

from typing import Any

from weir.envs.snapshot import EnvironmentSnapshot
from weir.model.records import iso


def environment_json(e: dict) -> dict[str, Any]:
    """One environment as ``weir envs --json`` lists it."""
    return {
        "id": e["id"], "python": e["python"], "platform": e["platform"], "weir": e.get("weir_version"),
        "packages": len(e.get("packages") or {}), "runs": e["runs"], "first_used": iso(e["first_used"]),
        "last_used": iso(e["last_used"]), "last_run": e.get("last_run"), "projects": e.get("projects", []),
        "assets": e["assets"],
    }


def environment_detail_json(e: dict) -> dict[str, Any]:
    """One environment in full (``weir envs show --json``)."""
    snapshot = EnvironmentSnapshot.from_row(e)
    return {
        "id": e["id"], "run_id": e["run_id"], "python": e["python"], "platform": e["platform"],
        "interpreter": e.get("interpreter"), "base_interpreter": e.get("base_interpreter"),
        "weir": e.get("weir_version"), "created_at": iso(e["created_at"]),
        "packages": [{"name": n, "version": v, "origin": snapshot.origin(n).to_json()} for n, v in snapshot.packages.items()],
        "runs": e["runs"], "first_used": iso(e["first_used"]), "last_used": iso(e["last_used"]),
        "run_list": [{"id": r["id"], "project": r["project"], "state": r["state"], "trigger": r["trigger"],
                      "created_at": iso(r["created_at"])} for r in e["run_list"]],
        "assets": e["assets"],
    }


def deps_json(d: dict) -> dict[str, Any]:
    """The dependency inventory (``weir deps --json``), its times as ISO 8601."""
    return {**d, "assets": [{**a, "last_published": iso(a["last_published"])} for a in d["assets"]]}
