"""How a new version of a published partition differs from the version it replaces, when a code
or configuration change republishes it, and whether the difference is material.

The monitors cannot see a rollout: every partition the new code rebuilds is judged against
other rebuilt partitions, so a change that halves every day looks normal to them. What can see
it is the old version itself, still published (or readable by its Delta version): each new
version is compared with the one it replaces, from stored facts where they exist — the row
counts of both, the profile metrics measured on both — and, for an asset that declares a
``key``, by a row diff on that key.

A change is **material** when any of these holds (the tolerances below):

- the row count moved by more than ``ROWS_SHARE`` of the old count, or a partition became empty
  or stopped being empty: rows are what readers count, and a few percent is more than a code
  change that means to keep the data ever moves them;
- a column's mean moved by more than ``MEAN_SHARE`` of its scale (the larger of its old mean's
  size and its old standard deviation: a shift small beside the spread of the values is noise,
  a shift of a column centred on zero is judged against its spread);
- a column's null fraction moved by more than ``NULL_POINTS`` (absolute: one percentage point
  more nulls is a broken parse or join, whatever the column's size);
- a column's standard deviation or distinct count moved by more than ``SPREAD_SHARE`` of what it
  was, a user metric by more than ``USER_SHARE``, or a column appeared or disappeared;
- on the key, more than ``DIFF_SHARE`` of the old rows were removed, changed, or added anew.

A refactor (a comment, a renamed variable) changes the code version and nothing else: the
counts, metrics and rows are equal, so it is not material. Tolerances are shares, not sigmas: a
rollout is one before/after pair per partition, with no series to learn a spread from."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.events import Event, EventKind

ROWS_SHARE = 0.02
MEAN_SHARE = 0.05
NULL_POINTS = 0.01
SPREAD_SHARE = 0.10
USER_SHARE = 0.05
DIFF_SHARE = 0.02
JUDGED = ("mean", "null_fraction", "std", "distinct_count")  # per column; user metrics are table-level
TABLE = ""  # the column of table-level metrics (row_count, user metrics)
MOVES_KEPT = 20  # metric moves kept per partition
CHANGES_LISTED = 50  # entries of the event's ``changes``; ``partitions`` names them all
CAUSES = ("code", "configuration")

Points = Mapping[tuple[str, str], float | None]  # (column, metric) -> value


@dataclass(frozen=True, kw_only=True)
class MetricMove:
    column: str
    metric: str
    before: float | None
    after: float | None

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "metric": self.metric, "before": self.before, "after": self.after}


@dataclass(frozen=True, kw_only=True)
class PartitionChange:
    """One new version against the version it replaces. ``added``/``removed``/``changed`` are
    rows on the asset's key (None when not diffed); ``metrics`` the profile metrics that moved
    beyond their tolerance; ``reasons`` say what makes it material (empty: it is not)."""

    partition: str
    cause: str
    from_code_version: str
    to_code_version: str
    rows_before: int | None
    rows_after: int
    added: int | None = None
    removed: int | None = None
    changed: int | None = None
    metrics: tuple[MetricMove, ...] = ()
    reasons: tuple[str, ...] = ()
    note: str | None = None  # what could not be compared, and why

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"a rollout's cause is one of {', '.join(CAUSES)}, not {self.cause!r}")

    @property
    def material(self) -> bool:
        return bool(self.reasons)

    @property
    def rows_moved(self) -> bool:
        return any(r.startswith("row_count") for r in self.reasons)

    def to_json(self) -> dict[str, Any]:
        """The entry of a ``rollout_changed`` event's ``changes``."""
        return {"partition": self.partition, "rows_before": self.rows_before, "rows_after": self.rows_after,
                "added": self.added, "removed": self.removed, "changed": self.changed,
                "metrics": [m.to_json() for m in self.metrics]}

    def to_record(self) -> dict[str, Any]:
        """Everything, as a held version keeps it."""
        return {**self.to_json(), "cause": self.cause, "from_code_version": self.from_code_version,
                "to_code_version": self.to_code_version, "reasons": list(self.reasons), "note": self.note}

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> PartitionChange:
        return cls(partition=r["partition"], cause=r["cause"], from_code_version=r["from_code_version"],
                   to_code_version=r["to_code_version"], rows_before=r["rows_before"], rows_after=r["rows_after"],
                   added=r.get("added"), removed=r.get("removed"), changed=r.get("changed"),
                   metrics=tuple(MetricMove(**m) for m in r.get("metrics") or ()),
                   reasons=tuple(r.get("reasons") or ()), note=r.get("note"))


def judge(*, partition: str, cause: str, from_code_version: str, to_code_version: str, rows_before: int | None,
          rows_after: int, before: Points | None = None, after: Points | None = None, diff: Any = None,
          note: str | None = None) -> PartitionChange:
    """Compare a new version with the one it replaces: row counts, the profile metrics measured
    on both (``before``/``after``; None when one side was not measured), and ``diff`` (a
    ``compute.diff.TableDiff`` on the key, or None)."""
    reasons: list[str] = []
    if rows_before is not None and _rows_moved(rows_before, rows_after):
        reasons.append(f"row_count {rows_before:,} → {rows_after:,}")
    moves: list[MetricMove] = []
    if before is not None and after is not None:
        for column, metric in sorted(set(before) | set(after)):
            if not _judged(column, metric):
                continue
            was, now = before.get((column, metric)), after.get((column, metric))
            std = before.get((column, "std"))
            if _moved(column, metric, was, now, std):
                moves.append(MetricMove(column=column, metric=metric, before=was, after=now))
        old = {c for c, _ in before if c != TABLE}
        new = {c for c, _ in after if c != TABLE}
        reasons += [f"column {c} removed" for c in sorted(old - new)] + [f"column {c} added" for c in sorted(new - old)]
        reasons += [f"{m.column}.{m.metric} {_number(m.before)} → {_number(m.after)}" for m in moves
                    if m.column in old & new or m.column == TABLE]
    added = removed = changed = None
    if diff is not None:
        added, removed, changed = diff.added, diff.removed, diff.changed
        share = DIFF_SHARE * max(rows_before or 0, 1)
        for kind, n in (("removed", removed), ("changed", changed), ("added", added)):
            if n and n > share:
                reasons.append(f"{n:,} rows {kind} on the key")
    return PartitionChange(partition=partition, cause=cause, from_code_version=from_code_version,
                           to_code_version=to_code_version, rows_before=rows_before, rows_after=rows_after,
                           added=added, removed=removed, changed=changed, metrics=tuple(moves[:MOVES_KEPT]),
                           reasons=tuple(reasons), note=note)


def _rows_moved(before: int, after: int) -> bool:
    if (before == 0) != (after == 0):
        return True
    return abs(after - before) > ROWS_SHARE * before


def _judged(column: str, metric: str) -> bool:
    if column == TABLE:
        return metric != "row_count"  # rows are judged on their own; other table-level metrics are the user's
    return metric in JUDGED


def _moved(column: str, metric: str, before: float | None, after: float | None, std: float | None) -> bool:
    if before is None or after is None:
        return (before is None) != (after is None)
    if not (math.isfinite(before) and math.isfinite(after)):
        return before != after
    delta = abs(after - before)
    if metric == "null_fraction":
        return delta > NULL_POINTS
    if column == TABLE:
        return delta > USER_SHARE * abs(before) if before else delta > 1e-12
    if metric == "mean":
        scale = max(abs(before), abs(std or 0.0))
        return delta > MEAN_SHARE * scale if scale else delta > 1e-12
    return delta > SPREAD_SHARE * abs(before) if before else delta > 1e-12


def describe(changes: Iterable[PartitionChange]) -> str:
    """One plain line on what moved over ``changes`` (the material ones), e.g. ``row_count
    halved on 41 partitions (240 → 120 rows per partition)``."""
    material = [c for c in changes if c.material]
    if not material:
        return "no material change"
    rows = _rows_clause(material)
    # beside moved row counts most metrics move with them: only a column going null is told too
    clauses = [c for c in (rows, _metric_clause(material, only=("null_fraction",) if rows else None)) if c]
    if not clauses:
        clauses = [_diff_clause(material) or _other_clause(material)]
    return "; ".join(clauses[:2])


def _partitions(n: int) -> str:
    return f"{n:,} partition{'' if n == 1 else 's'}"


def _rows_clause(material: list[PartitionChange]) -> str | None:
    moved = [c for c in material if c.rows_moved and c.rows_before is not None]
    if not moved:
        return None
    befores = [c.rows_before or 0 for c in moved]
    afters = [c.rows_after for c in moved]
    if len(moved) == 1:
        detail = f"{befores[0]:,} → {afters[0]:,} rows"
    elif len(set(befores)) == 1 and len(set(afters)) == 1:
        detail = f"{befores[0]:,} → {afters[0]:,} rows per partition"
    else:
        detail = f"{sum(befores):,} → {sum(afters):,} rows in all"
    ratios = [a / b for a, b in zip(afters, befores) if b]
    verb = "changed"
    if all(a == 0 for a in afters):
        verb = "fell to zero"
    elif len(ratios) == len(moved) and max(ratios) <= min(ratios) * 1.05:
        verb = _ratio_verb(sorted(ratios)[len(ratios) // 2])
    elif all(a < b for a, b in zip(afters, befores)):
        verb = "fell"
    elif all(a > b for a, b in zip(afters, befores)):
        verb = "rose"
    return f"row_count {verb} on {_partitions(len(moved))} ({detail})"


def _ratio_verb(r: float) -> str:
    if abs(r - 0.5) <= 0.02:
        return "halved"
    if abs(r - 2.0) <= 0.05:
        return "doubled"
    if r < 1:
        return f"fell by {round((1 - r) * 100)}%"
    return f"rose by {round((r - 1) * 100)}%"


_PREFERRED = {"mean": 0, "null_fraction": 1, "std": 2, "distinct_count": 3}


def _metric_clause(material: list[PartitionChange], only: tuple[str, ...] | None = None) -> str | None:
    """The metric that moved on most partitions (a mean before a null fraction before the rest),
    of the metrics ``only`` names when given."""
    counted: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], tuple[str, MetricMove]] = {}
    for c in material:
        for m in c.metrics:
            if only is not None and m.metric not in only:
                continue
            counted[(m.column, m.metric)] += 1
            first.setdefault((m.column, m.metric), (c.partition, m))
    if not counted:
        return None
    (column, metric), n = min(counted.items(), key=lambda kv: (-kv[1], _PREFERRED.get(kv[0][1], 9), kv[0]))
    key, move = first[(column, metric)]
    name = f"{column} {metric}" if column else metric
    example = f"{_number(move.before)} → {_number(move.after)}" + (f" on {key}" if n > 1 else "")
    return f"{name} moved on {_partitions(n)} ({example})"


def _diff_clause(material: list[PartitionChange]) -> str | None:
    diffed = [c for c in material if c.changed or c.removed or c.added]
    if not diffed:
        return None
    c = diffed[0]
    parts = [f"{n:,} {kind}" for kind, n in (("removed", c.removed), ("changed", c.changed), ("added", c.added)) if n]
    of = f" of {c.rows_before:,}" if c.rows_before is not None else ""
    return f"rows differ on the key on {_partitions(len(diffed))} ({', '.join(parts)}{of} rows on {c.partition})"


def _other_clause(material: list[PartitionChange]) -> str:
    c = material[0]
    return f"{c.reasons[0]} on {_partitions(len(material))}" if len(material) > 1 else f"{c.reasons[0]} on {c.partition}"


def _number(v: float | None) -> str:
    if v is None:
        return "none"
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.4g}"


@dataclass(kw_only=True)
class AssetRollout:
    """What one run (or one approval) republished of one asset under changed code or
    configuration: every version judged, and how many of them were held rather than published."""

    asset: str
    changes: list[PartitionChange] = field(default_factory=list)
    held: int = 0
    emitted: bool = False  # its event was decided (written, or found to be none)
    announced: bool = False  # a rollout_changed event was written

    def published(self, keep: Callable[[str], bool]) -> AssetRollout:
        """The same rollout narrowed to the partitions ``keep`` accepts (those published)."""
        return AssetRollout(asset=self.asset, changes=[c for c in self.changes if keep(c.partition)])

    @property
    def material(self) -> list[PartitionChange]:
        return sorted((c for c in self.changes if c.material), key=lambda c: c.partition)

    @property
    def cause(self) -> str:
        return "code" if any(c.cause == "code" for c in self.changes) else "configuration"

    @property
    def moved(self) -> str:
        return describe(self.changes)

    def code_versions(self) -> tuple[str, str]:
        """(the code version most of the replaced versions had, the new one)."""
        judged = self.material or self.changes
        was = Counter(c.from_code_version for c in judged).most_common(1)[0][0]
        return was, judged[0].to_code_version

    def event(self, project: str, run_id: str) -> Event | None:
        """The ``rollout_changed`` event of its material changes, or None when there is none."""
        material = self.material
        if not material:
            return None
        was, now = self.code_versions()
        moved = self.moved
        return Event(kind=EventKind.ROLLOUT_CHANGED, project=project, asset=self.asset,
                     partition_key=material[0].partition, run_id=run_id,
                     data={"cause": self.cause, "from_code_version": was, "to_code_version": now,
                           "partitions": [c.partition for c in material], "moved": moved,
                           "changes": [c.to_json() for c in material[:CHANGES_LISTED]], "message": moved})

    def to_json(self) -> dict[str, Any]:
        """``rollouts`` in ``weir run --json``."""
        was, now = self.code_versions()
        material = self.material
        return {"asset": self.asset, "cause": self.cause, "from_code_version": was, "to_code_version": now,
                "replaced": len(self.changes) - self.held, "held": self.held, "changed": [c.partition for c in material],
                "moved": self.moved if material else None, "event": self.announced}
