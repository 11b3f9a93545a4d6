"""The documented JSON forms of incidents (``weir incidents --json``, ``weir incidents show --json``)
and the cause a diagnosis ranks (``weir diagnose --json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.model.keys import AssetKey
from weir.model.records import iso

CAUSE_KINDS = ("input data", "code", "configuration", "library", "data")


@dataclass(frozen=True, kw_only=True)
class Cause:
    """One likely cause of a bad partition: its kind, how likely (0..1), what it is, the facts
    behind it and the fix that fits it."""

    kind: str
    score: float
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CAUSE_KINDS:
            raise ValueError(f"a cause is one of {', '.join(CAUSE_KINDS)}, not {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "score": round(self.score, 2), "summary": self.summary, "evidence": self.evidence,
                "fix": self.fix}


def key_of(project: str, asset: str | None) -> str | None:
    """``project.asset``, the qualified key of an asset an incident names (None without one)."""
    return str(AssetKey(project, asset)) if asset else None


def incident_json(r: dict) -> dict[str, Any]:
    return {
        "id": r["id"], "state": r["state"], "severity": r["severity"], "severity_by_hand": bool(r["severity_by_hand"]),
        "root_asset": r["root_asset"], "root_key": key_of(r["project"], r["root_asset"]),
        "root_partition": r["root_partition"], "title": r["title"], "reason": r["reason"], "note": r["note"],
        "opened_at": iso(r["opened_at"]), "updated_at": iso(r["updated_at"]),
        "resolved_at": iso(r["resolved_at"]) if r["resolved_at"] else None, "reopened": r["reopened"],
        "members": r.get("members"), "assets": r.get("assets", []),
    }


def incident_detail_json(r: dict) -> dict[str, Any]:
    return {
        **incident_json({**r, "members": len(r["member_list"])}),
        "member_list": [{"kind": m["kind"], "asset": m["asset"], "key": key_of(r["project"], m["asset"]),
                         "partition": m["partition_key"], "run_id": m["run_id"],
                         "event_id": m["event_id"], "summary": m["summary"], "why": m["why"], "at": iso(m["at"])}
                        for m in r["member_list"]],
        "timeline": [e.to_json() for e in r["timeline"]],
        "diagnosis": r.get("diagnosis"),
        "diagnoses": [{"at": iso(d["at"]), "change": d["change"], "verdict": d["verdict"]} for d in r.get("diagnoses", [])],
        "cause": r.get("cause"),
        "scope": [scope_json({"project": r["project"], **x}) for x in r.get("scope", [])],
        "left": r.get("left", 0),
        "fix": r.get("fix", []),
    }


def scope_json(x: dict) -> dict[str, Any]:
    return {"asset": x["asset"], "key": key_of(x["project"], x["asset"]), "partition": x["partition_key"], "via": x["via"], "why": x["why"],
            "run_id": x["run_id"], "fixed": x["fixed_run_id"] is not None, "fixed_run_id": x["fixed_run_id"] or None,
            "fixed_at": iso(x["fixed_at"]) if x["fixed_at"] else None}
