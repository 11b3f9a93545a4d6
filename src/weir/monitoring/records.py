"""The documented JSON forms of metric points, signals, monitored series, baseline resets and
replays (docs/cli.md, "JSON output"), and the read models the shells render them from: signals
grouped per asset, partition and column, and a replay beside the signals stored now."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from weir.model.records import iso

SEVERITY_RANK = {"alert": 0, "warn": 1}


def metric_json(name: str, p: dict) -> dict[str, Any]:
    """One metric point with the limits it was judged against (``weir metrics --json``)."""
    return {
        "asset": name, "partition": p["partition_key"], "column": p["column_name"], "metric": p["metric"],
        "value": p["value"], "quarantined": p["quarantined"], "run_id": p["run_id"], "measured_at": iso(p["measured_at"]),
        "center": p.get("center"), "lower": p.get("lower"), "upper": p.get("upper"), "signals": p.get("signals", []),
        "muted": p.get("muted", False), "state": p.get("state") or "not judged", "model": p.get("model"),
    }


def signal_json(r: dict) -> dict[str, Any]:
    """One stored signal (``weir monitors --signals --json``); ``group`` names the
    (asset, partition, column) group it is shown in."""
    return {
        "asset": r["asset"], "partition": r["partition_key"], "kind": r["kind"], "column": r["column_name"],
        "metric": r["metric"], "method": r["method"], "rule": r["rule"], "value": r["value"], "center": r["center"],
        "lower": r["lower"], "upper": r["upper"], "severity": r["severity"], "direction": r["direction"],
        "details": r["details"], "run_id": r["run_id"], "created_at": iso(r["created_at"]), "group": group_of(r),
    }


def series_state_json(r: dict) -> dict[str, Any]:
    """One monitored series and its state at its newest partition (``weir monitors --json``)."""
    keys = ("asset", "kind", "column", "metric", "state", "points", "last_partition", "last_value", "center", "lower",
            "upper", "model", "methods", "sigma", "muted")
    return {k: r[k] for k in keys}


def baseline_json(r: dict) -> dict[str, Any]:
    """One baseline reset as stored (``weir monitors accept --json``); ``column`` and ``metric``
    are null for all of them, ``column`` is ``""`` for table-level series; ``rejudged`` lists the
    partitions judged again when it was recorded."""
    out = {"id": r["id"], "project": r["project"], "asset": r["asset"], "column": r["column_name"],
           "metric": r["metric"], "from": r["from_key"], "note": r["note"], "created_at": iso(r["created_at"]),
           "actor": r.get("actor")}
    if "rejudged" in r:
        out["rejudged"] = r["rejudged"]
    return out


# -- signals grouped ------------------------------------------------------------------------------


def group_of(r: dict) -> str:
    """The group a signal is shown in: ``asset|partition|column``."""
    return f"{r['asset']}|{r['partition_key']}|{r['column_name']}"


def signal_message(r: dict) -> str:
    """What a signal says in plain words: the monitors' own sentence when they wrote one, else
    the metric, its value and the rule it broke."""
    details = r.get("details")
    if isinstance(details, dict) and isinstance(details.get("message"), str) and details["message"]:
        return details["message"]
    if r["kind"] == "schema" or r["value"] is None:
        return r["rule"] if r["kind"] == "schema" else f"{r['metric']}: {r['rule']}"
    return f"{r['metric']} {number(r['value'])}: {r['rule']}"


def _excess(r: dict) -> float:
    """How far past its limit a signal's value is, in limit widths (0 when unknown)."""
    value, center = r.get("value"), r.get("center")
    limit = r.get("upper") if r.get("direction") != "down" else r.get("lower")
    if value is None or center is None or limit is None or limit == center:
        return 0.0
    excess = abs(value - center) / abs(limit - center)
    return excess if math.isfinite(excess) else 0.0


@dataclass(frozen=True, kw_only=True)
class SignalGroup:
    """The signals of one column (or the table-level series) of one partition of one asset,
    led by the most severe: one line in ``weir monitors --signals``."""

    asset: str
    partition: str
    column: str
    severity: str  # the most severe of its signals
    message: str  # the leading signal's
    also: tuple[str, ...]  # the other metrics of the column that moved
    signals: tuple[dict, ...] = field(default_factory=tuple)  # leading signal first

    @property
    def series(self) -> str:
        """The series as ``weir monitors accept`` takes it: ``asset.column`` or ``asset``."""
        return f"{self.asset}.{self.column}" if self.column else self.asset


def group_signals(rows: list[dict]) -> list[SignalGroup]:
    """Signals grouped per (asset, partition, column): alerts before warnings, then the newest
    partition first; in a group, the signal furthest past its limit leads."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(group_of(r), []).append(r)
    out = []
    for members in groups.values():
        members = sorted(members, key=lambda r: (SEVERITY_RANK.get(r["severity"], 2), -_excess(r), r["metric"]))
        lead = members[0]
        also = tuple(dict.fromkeys(r["metric"] for r in members[1:] if r["metric"] != lead["metric"]))
        out.append(SignalGroup(asset=lead["asset"], partition=lead["partition_key"], column=lead["column_name"],
                               severity=lead["severity"], message=signal_message(lead), also=also,
                               signals=tuple(members)))
    out.sort(key=lambda g: (g.asset, g.column))
    out.sort(key=lambda g: g.partition, reverse=True)
    out.sort(key=lambda g: SEVERITY_RANK.get(g.severity, 2))
    return out


# -- replays --------------------------------------------------------------------------------------


def _alerted(rows: list[dict]) -> dict[str, list[str]]:
    """Partition -> the series that alerted there (``column.metric``, sorted)."""
    out: dict[str, set[str]] = {}
    for r in rows:
        if r["severity"] == "alert":
            series = f"{r['column_name']}.{r['metric']}" if r["column_name"] else r["metric"]
            out.setdefault(r["partition_key"], set()).add(series)
    return {k: sorted(v) for k, v in out.items()}


@dataclass(frozen=True, kw_only=True)
class ReplayReport:
    """What the monitors of one asset or source would raise over its stored history with
    today's settings (``would``), beside the signals stored now for the same partitions."""

    asset: str
    first: str | None  # the first partition replayed (None: all)
    would: list[dict]  # signal rows, as they would be stored
    stored: list[dict]  # stored signal rows of the same partitions

    def counts(self) -> dict[str, int]:
        """Alerts, the partitions they fall on and warnings: would be raised, and stored now."""
        would, stored = _alerted(self.would), _alerted(self.stored)
        return {
            "alerts": sum(1 for r in self.would if r["severity"] == "alert"), "partitions": len(would),
            "warnings": sum(1 for r in self.would if r["severity"] != "alert"),
            "stored_alerts": sum(1 for r in self.stored if r["severity"] == "alert"), "stored_partitions": len(stored),
            "stored_warnings": sum(1 for r in self.stored if r["severity"] != "alert"),
        }

    def partitions(self) -> list[dict]:
        """Every partition with alerts, newest first: the series that would alert and those
        stored now; ``mark`` is ``new`` (none stored), ``gone`` (none would be raised),
        ``unchanged`` (the same series) or ``changed``."""
        would, stored = _alerted(self.would), _alerted(self.stored)
        out = []
        for key in sorted(set(would) | set(stored), reverse=True):
            now, before = would.get(key, []), stored.get(key, [])
            mark = "new" if not before else "gone" if not now else "unchanged" if now == before else "changed"
            out.append({"partition": key, "mark": mark, "alerts": now, "stored": before})
        return out

    def to_json(self) -> dict[str, Any]:
        """``weir monitors replay --json``: one object per asset or source."""
        return {"asset": self.asset, "from": self.first, "counts": self.counts(), "partitions": self.partitions(),
                "would": [signal_json(r) for r in self.would], "stored": [signal_json(r) for r in self.stored]}


def number(value: float) -> str:
    """A value in a sentence: an integer as such, else four significant digits."""
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15:
        return f"{value:.0f}"
    return f"{value:.4g}"
