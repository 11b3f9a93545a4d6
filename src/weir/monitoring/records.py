"""The documented JSON forms of metric points, signals and monitored series (README, "JSON output")."""

from __future__ import annotations

from typing import Any

from weir.model.records import iso


def metric_json(name: str, p: dict) -> dict[str, Any]:
    """One metric point with the limits it was judged against (``weir metrics --json``)."""
    return {
        "asset": name, "partition": p["partition_key"], "column": p["column_name"], "metric": p["metric"],
        "value": p["value"], "quarantined": p["quarantined"], "run_id": p["run_id"], "measured_at": iso(p["measured_at"]),
        "center": p.get("center"), "lower": p.get("lower"), "upper": p.get("upper"), "signals": p.get("signals", []),
        "muted": p.get("muted", False), "state": p.get("state") or "not judged",
    }


def signal_json(r: dict) -> dict[str, Any]:
    """One stored signal (``weir monitors --signals --json``)."""
    return {
        "asset": r["asset"], "partition": r["partition_key"], "kind": r["kind"], "column": r["column_name"],
        "metric": r["metric"], "method": r["method"], "rule": r["rule"], "value": r["value"], "center": r["center"],
        "lower": r["lower"], "upper": r["upper"], "severity": r["severity"], "direction": r["direction"],
        "details": r["details"], "run_id": r["run_id"], "created_at": iso(r["created_at"]),
    }


def series_state_json(r: dict) -> dict[str, Any]:
    """One monitored series and its state at its newest partition (``weir monitors --json``)."""
    keys = ("asset", "kind", "column", "metric", "state", "points", "last_partition", "last_value", "center", "lower",
            "upper", "model", "methods", "sigma", "muted")
    return {k: r[k] for k in keys}
