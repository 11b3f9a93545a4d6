"""The documented JSON form of an alert (``weir alerts --json``, ``weir alerts show --json``)."""

from __future__ import annotations

import json
from typing import Any

from weir.model.records import iso


def alert_json(r: dict) -> dict[str, Any]:
    skipped = r["state"] == "skipped"  # its reason is kept where a failed attempt keeps its error
    out = {
        "id": r["id"], "incident": r["incident_id"] or None, "route": r["route"], "audience": r["audience"],
        "change": r["change"], "state": r["state"], "attempts": r["attempts"], "key": r["key"],
        "created_at": iso(r["created_at"]), "next_at": iso(r["next_at"]) if r["state"] == "pending" else None,
        "delivered_at": iso(r["delivered_at"]) if r["delivered_at"] else None, "last_error": None if skipped else r["last_error"], "reason": r["last_error"] if skipped else None,
        "subject": json.loads(r["message"])["subject"] if r.get("message") else None,
        "retried_by": r.get("retried_by"),
    }
    if "composed" in r:
        out["message"] = r["composed"]
    return out
