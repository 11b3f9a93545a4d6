"""The documented JSON forms of check results and source admissions (docs/cli.md, "JSON output")."""

from __future__ import annotations

from typing import Any

from weir.model.records import iso


def check_json(r: dict) -> dict[str, Any]:
    """One check result (``weir checks --json``, ``weir check --json``)."""
    return {
        "asset": r["asset"], "partition": r["partition_key"], "check": r["check_name"], "kind": r["kind"],
        "column": r["column_name"], "severity": r["severity"], "passed": r["passed"], "observed": r["observed"],
        "threshold": r["threshold"], "failing_rows": r["failing_rows"], "total_rows": r["total_rows"],
        "message": r["message"], "sample": r["sample"], "run_id": r["run_id"], "checked_at": iso(r["checked_at"]),
    }


def admission_json(a: dict) -> dict[str, Any]:
    """What the check of one landed source partition decided (``weir ingest --json``)."""
    keys = ("source", "partition", "state", "rows", "malformed_rows", "message", "sample", "checked_now", "fingerprint",
            "run_id", "signals")
    return {k: a[k] for k in keys}
