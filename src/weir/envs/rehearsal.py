"""What a rehearsal found, and its JSON form (docs/cli.md, "JSON output"): per asset partition a
verdict — ``identical``, ``changes output`` (how: schema, rows, columns, metrics) or ``fails``
(the error, or the checks that failed) — with the evidence behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.model.records import iso

if TYPE_CHECKING:
    from weir.quality.profile import Profile

IDENTICAL, CHANGES, FAILS = "identical", "changes output", "fails"
VERDICTS = (IDENTICAL, CHANGES, FAILS)
FAILING = ("error", "block")  # severities whose failure means the partition fails


@dataclass(kw_only=True)
class PartitionRehearsal:
    """One asset partition rehearsed: its ``verdict`` and ``summary`` (sentences saying how it
    changes or why it fails), the published version it was compared with, the shadow build's
    ``state`` and ``error``, the failed ``checks``, the ``monitors``' limits it falls outside,
    the profile ``metrics`` that moved, the data ``diff`` (``compute.diff.TableDiff.to_json``),
    ``notes`` on inputs that differ from the published build's, and the ``output`` file."""

    asset: str
    partition: str
    verdict: str
    summary: list[str] = field(default_factory=list)
    published_version: int | None = None
    published_run: str | None = None
    state: str = "built"
    error: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    monitors: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    diff: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    output: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "partition": self.partition, "verdict": self.verdict, "summary": self.summary,
                "published_version": self.published_version, "published_run": self.published_run,
                "state": self.state, "error": self.error, "checks": self.checks, "monitors": self.monitors,
                "metrics": self.metrics, "diff": self.diff, "notes": self.notes, "output": self.output}


@dataclass(kw_only=True)
class Rehearsal:
    """A rehearsal: the ``upgrades`` tried (as ``weir envs diff`` lists packages), the shadow
    ``environment``, and each partition's outcome, kept under ``path``."""

    id: str
    project: str
    created_at: float
    upgrades: list[dict[str, Any]]
    environment: dict[str, Any]
    partitions: list[PartitionRehearsal] = field(default_factory=list)
    seconds: float = 0.0
    path: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return {v: sum(1 for p in self.partitions if p.verdict == v) for v in VERDICTS}

    @property
    def verdict(self) -> str:
        """The worst partition's verdict (``identical`` when nothing was rehearsed)."""
        found = {p.verdict for p in self.partitions}
        return next((v for v in (FAILS, CHANGES) if v in found), IDENTICAL)

    @property
    def ok(self) -> bool:
        return self.verdict != FAILS

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "project": self.project, "created_at": iso(self.created_at),
                "seconds": round(self.seconds, 3), "verdict": self.verdict, "counts": self.counts,
                "upgrades": self.upgrades, "environment": self.environment,
                "partitions": [p.to_json() for p in self.partitions], "path": self.path}


def failed_checks(results: list, published: dict[str, bool]) -> list[dict[str, Any]]:
    """The checks that failed on the rehearsed partition (CheckResults), each with ``published``:
    whether it ``passed`` or ``failed`` on the published version (null if not run on it)."""
    out = []
    for r in results:
        if r.passed:
            continue
        was = published.get(r.check)
        out.append({"check": r.check, "kind": r.kind, "column": r.column, "severity": r.severity,
                    "message": r.message, "observed": r.observed, "failing_rows": r.failing_rows,
                    "total_rows": r.total_rows, "sample": r.sample,
                    "published": None if was is None else "passed" if was else "failed"})
    return out


def metric_deltas(before: Profile | None, after: Profile | None) -> list[dict[str, Any]]:
    """The profile metrics (``quality.profile.Profile``) that differ: ``[{column, metric, before,
    after, delta, relative}]``; ``column`` is ``""`` for table-level metrics."""
    if before is None or after is None:
        return []
    old = {(c, m): v for c, m, v in before.points()}
    out = []
    for (column, metric), value in sorted({(c, m): v for c, m, v in after.points()}.items()):
        was = old.get((column, metric))
        if _same(was, value):
            continue
        delta = value - was if value is not None and was is not None else None
        relative = delta / abs(was) if delta is not None and was else None
        out.append({"column": column, "metric": metric, "before": was, "after": value, "delta": delta,
                    "relative": relative})
    return out


def outside_limits(points: list[dict], after: Profile | None) -> list[dict[str, Any]]:
    """The rehearsed partition's metric values (``after``, a Profile) that fall outside the
    limits the monitors judged its published version against (``points``: that partition's
    stored metric points): ``[{column, metric, value, published, center, lower, upper}]``."""
    if after is None:
        return []
    values = {(c, m): v for c, m, v in after.points()}
    out = []
    for p in points:
        value = values.get((p["column_name"], p["metric"]))
        if value is None or (p["lower"] is None and p["upper"] is None):
            continue
        if (p["lower"] is not None and value < p["lower"]) or (p["upper"] is not None and value > p["upper"]):
            out.append({"column": p["column_name"], "metric": p["metric"], "value": value, "published": p["value"],
                        "center": p["center"], "lower": p["lower"], "upper": p["upper"]})
    return out


def judge(p: PartitionRehearsal) -> PartitionRehearsal:
    """Set ``p``'s verdict and summary from what was found: it fails when its build did (or was
    blocked, or what it reads did) or an error or block check fails that passed on the published
    version; else it changes output when its data differs; else it is identical."""
    newly = [c for c in p.checks if c["severity"] in FAILING and c["published"] != "failed"]
    if p.state != "built" or newly:
        p.verdict = FAILS
        if p.state in ("failed", "upstream_failed", "skipped"):
            said = (p.error or "").strip().splitlines()
            p.summary = [p.state.replace("_", " ") + (f": {said[-1]}" if said else "")]
        else:  # blocked by its checks, or an error check newly fails
            shown = newly or [c for c in p.checks if c["severity"] == "block"]
            p.summary = [f"check {c['check']} ({c['severity']}) fails: {c['message']}" for c in shown]
        return p
    d = p.diff or {}
    p.verdict = IDENTICAL if d.get("identical") else CHANGES
    if p.verdict == CHANGES:
        p.summary = describe(d, p.metrics)
    p.summary += [f"monitors: {m['column'] + ' ' if m['column'] else ''}{m['metric']} {_num(m['value'])} is outside "
                  f"[{_num(m['lower'])}, {_num(m['upper'])}] (published {_num(m['published'])})" for m in p.monitors[:3]]
    p.summary += [f"warn check {c['check']} fails: {c['message']}" for c in p.checks if c["severity"] == "warn"
                  and c["published"] != "failed"]
    return p


def describe(d: dict[str, Any], metrics: list[dict[str, Any]]) -> list[str]:
    """Sentences for a data diff (``TableDiff.to_json`` plus ``identical``)."""
    out = []
    schema = d["schema"]
    for c in schema["added"]:
        out.append(f"column {c['column']} added ({c['type']})")
    for c in schema["removed"]:
        out.append(f"column {c['column']} removed")
    for c in schema["retyped"]:
        out.append(f"column {c['column']} {c['from']} -> {c['to']}")
    rows = d["rows"]
    if rows["before"] != rows["after"]:
        out.append(f"rows {rows['before']} -> {rows['after']}")
    if d["added"] or d["removed"]:
        how = f"matched on {', '.join(d['key'])}" if d["key"] else "no key: rows compared as multisets"
        out.append(f"{_rows(d['added'])} added, {d['removed']} removed ({how})")
    means = {m["column"]: m for m in metrics if m["metric"] == "mean"}
    for column, n in d["columns"].items():
        mean = means.get(column)
        moved = f"; mean {_num(mean['before'])} -> {_num(mean['after'])}" if mean else ""
        out.append(f"{column} changed in {n} of {_rows(rows['before'])}{moved}")
    if not d["key"]:  # rows compared as multisets: which columns moved, their means say
        out += [f"{c} mean {_num(m['before'])} -> {_num(m['after'])}" for c, m in means.items() if c][:5]
    if d["note"]:
        out.append(d["note"])
    return out


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _num(v: float | None) -> str:
    return "null" if v is None else f"{v:.6g}"
