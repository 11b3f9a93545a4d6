"""Checks: small data objects, one variant per kind, each with its severity and its judgement
of what the scan measured (``evaluate``): a row-level check the count of its failing rows
(``failing``), a metric its value (``value``), freshness the newest value (``newest``). How a
scan measures them is quality's (``quality.polars_scan``, ``quality.duckdb_scan``): one pass
over a partition's rows. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any, ClassVar

from weir.errors import ConfigError

SEVERITIES = ("warn", "error", "block")
CheckOutcome = tuple[bool, Any, str, int | None, str]  # what Check.evaluate returns


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """What one check found on one partition."""

    check: str
    kind: str
    column: str | None
    severity: str
    passed: bool
    observed: Any
    threshold: str
    failing_rows: int | None
    total_rows: int
    message: str
    sample: list[dict] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Check:
    """Base: ``severity`` says what a failure does: warn (recorded), error (published, marked
    failed), block (not published). ``name`` defaults to kind plus column."""

    kind: ClassVar[str] = "check"
    row_level: ClassVar[bool] = False
    severity: str = "error"
    name: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"{self.kind}: severity {self.severity!r} must be one of {', '.join(SEVERITIES)}")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        cols = self.columns()
        return f"{self.kind}({', '.join(cols)})" if cols else self.kind

    def columns(self) -> list[str]:
        """Columns the check reads (checked to exist before the scan)."""
        return []

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        """(passed, observed, threshold, failing rows, message) from ``values`` the scan
        measured for the check over ``total`` rows."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class RowCheck(Check):
    """A rule each row passes or fails; ``mostly`` is the share of rows that must pass."""

    row_level: ClassVar[bool] = True
    mostly: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.mostly, (int, float)) or not 0 < self.mostly <= 1:
            raise ConfigError(f"{self.kind}: mostly={self.mostly!r} must be in (0, 1]")

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        failing = int(values["failing"] or 0)
        share = 1.0 if total == 0 else (total - failing) / total
        passed = share >= self.mostly
        threshold = "no failing rows" if self.mostly == 1 else f"≥ {self.mostly:.2%} of rows pass"
        msg = f"{failing:,} of {total:,} rows fail" + ("" if passed else f" ({1 - share:.2%}); {self.describe_rule()}")
        return passed, round(share, 6), threshold, failing, msg

    def describe_rule(self) -> str:
        return self.kind


@dataclass(frozen=True, kw_only=True)
class NotNull(RowCheck):
    kind: ClassVar[str] = "not_null"
    column: str
    where: str | None = None  # only rows matching this SQL condition must be non-null

    def columns(self) -> list[str]:
        return [self.column]

    def describe_rule(self) -> str:
        return f"{self.column} must not be null" + (f" where {self.where}" if self.where else "")


@dataclass(frozen=True, kw_only=True)
class Unique(RowCheck):
    kind: ClassVar[str] = "unique"
    columns_: tuple[str, ...] = ()

    def columns(self) -> list[str]:
        return list(self.columns_)

    def describe_rule(self) -> str:
        return f"({', '.join(self.columns_)}) must be unique"


@dataclass(frozen=True, kw_only=True)
class AcceptedValues(RowCheck):
    kind: ClassVar[str] = "accepted_values"
    column: str
    values: tuple[Any, ...]

    def columns(self) -> list[str]:
        return [self.column]

    def describe_rule(self) -> str:
        shown = ", ".join(map(str, self.values[:10])) + (" ..." if len(self.values) > 10 else "")
        return f"{self.column} must be one of {shown}"


@dataclass(frozen=True, kw_only=True)
class InRange(RowCheck):
    kind: ClassVar[str] = "in_range"
    column: str
    min: float | None = None
    max: float | None = None
    inclusive: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min is None and self.max is None:
            raise ConfigError(f"in_range({self.column}): give min, max or both")

    def columns(self) -> list[str]:
        return [self.column]

    def describe_rule(self) -> str:
        lb, rb = ("[", "]") if self.inclusive else ("(", ")")
        return f"{self.column} must be in {lb}{self.min if self.min is not None else '-inf'}, {self.max if self.max is not None else 'inf'}{rb}"


@dataclass(frozen=True, kw_only=True)
class Matches(RowCheck):
    kind: ClassVar[str] = "matches"
    column: str
    pattern: str

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ConfigError(f"matches({self.column}): invalid pattern {self.pattern!r}: {exc}") from None

    def columns(self) -> list[str]:
        return [self.column]

    def describe_rule(self) -> str:
        return f"{self.column} must match {self.pattern!r}"


@dataclass(frozen=True, kw_only=True)
class Expression(RowCheck):
    kind: ClassVar[str] = "expression"
    sql: str

    @property
    def label(self) -> str:
        return self.name or f"expression({self.sql})"

    def describe_rule(self) -> str:
        return f"rows must satisfy {self.sql}"


@dataclass(frozen=True, kw_only=True)
class References(RowCheck):
    """Values of ``column`` exist in ``to_column`` of asset ``to`` (referential integrity)."""

    kind: ClassVar[str] = "references"
    column: str
    to: str
    to_column: str | None = None

    def columns(self) -> list[str]:
        return [self.column]

    def describe_rule(self) -> str:
        return f"{self.column} must exist in {self.to}.{self.to_column or self.column}"


@dataclass(frozen=True, kw_only=True)
class RowCount(Check):
    kind: ClassVar[str] = "row_count"
    min: int | None = None
    max: int | None = None

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        ok = (self.min is None or total >= self.min) and (self.max is None or total <= self.max)
        threshold = f"[{self.min if self.min is not None else 0}, {self.max if self.max is not None else 'inf'}]"
        return ok, total, threshold, None, f"{total:,} rows" + ("" if ok else f", expected {threshold}")


@dataclass(frozen=True, kw_only=True)
class Metric(Check):
    """Any SQL aggregate (e.g. ``avg(dep_delay)``) between bounds."""

    kind: ClassVar[str] = "metric"
    sql: str
    min: float | None = None
    max: float | None = None

    @property
    def label(self) -> str:
        return self.name or f"metric({self.sql})"

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        v = values["value"]
        ok = v is not None and (self.min is None or v >= self.min) and (self.max is None or v <= self.max)
        threshold = f"[{self.min if self.min is not None else '-inf'}, {self.max if self.max is not None else 'inf'}]"
        return ok, v, threshold, None, f"{self.sql} = {v}" + ("" if ok else f", expected {threshold}")


@dataclass(frozen=True, kw_only=True)
class Freshness(Check):
    """The newest ``column`` value is at most ``max_age`` before the partition's end (or now)."""

    kind: ClassVar[str] = "freshness"
    column: str
    max_age: timedelta
    relative_to: str = "partition_end"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.relative_to not in ("partition_end", "now"):
            raise ConfigError(f"freshness: relative_to must be 'partition_end' or 'now', got {self.relative_to!r}")

    def columns(self) -> list[str]:
        return [self.column]

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        from datetime import date, datetime

        newest = values["newest"]
        ref = context.get("partition_end") if self.relative_to == "partition_end" else None
        ref = ref or datetime.now(UTC)
        if newest is None:
            return False, None, f"≤ {self.max_age} old", None, f"{self.column} has no values"
        if isinstance(newest, date) and not isinstance(newest, datetime):
            newest = datetime(newest.year, newest.month, newest.day)
        if newest.tzinfo is None:
            newest = newest.replace(tzinfo=ref.tzinfo or UTC)
        age = ref - newest
        ok = age <= self.max_age
        return ok, newest.isoformat(), f"≤ {self.max_age} before {self.relative_to}", None, (
            f"newest {self.column} is {age} before {self.relative_to}" + ("" if ok else f" (max {self.max_age})")
        )


_TYPE_FAMILIES = {
    "int": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "float": ("float", "double", "halffloat", "float16", "float32", "float64"),
    "string": ("string", "large_string", "utf8", "large_utf8", "string_view"),
    "bool": ("bool",),
    "timestamp": ("timestamp",),
    "date": ("date32", "date64", "date32[day]", "date64[ms]"),
}


def type_family(arrow_type: str) -> str:
    t = arrow_type.lower()
    for fam, names in _TYPE_FAMILIES.items():
        if t in names or t.startswith(fam) or any(t.startswith(n) for n in names):
            return fam
    return t


@dataclass(frozen=True, kw_only=True)
class Schema(Check):
    """Required columns with their types (int, float, string, bool, timestamp, date or an Arrow
    type name); with ``allow_extra=False`` no other columns."""

    kind: ClassVar[str] = "schema"
    columns_: dict[str, str] = field(default_factory=dict)
    allow_extra: bool = True

    def evaluate(self, values: dict[str, Any], total: int, context: dict) -> CheckOutcome:
        have: dict[str, str] = context["schema"]
        problems = []
        for col, want in self.columns_.items():
            if col not in have:
                problems.append(f"missing column {col!r}")
            elif type_family(have[col]) != type_family(want):
                problems.append(f"{col!r} is {have[col]}, expected {want}")
        if not self.allow_extra:
            extra = sorted(set(have) - set(self.columns_))
            if extra:
                problems.append(f"unexpected columns {extra}")
        return not problems, "; ".join(problems) or "ok", f"columns {dict(self.columns_)}", None, "; ".join(problems) or "schema matches"

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.columns_.items()), self.allow_extra, self.severity, self.name))


# -- constructors users call: weir.checks.not_null("dep_delay"), ... -------------------------------


def not_null(column: str, *, where: str | None = None, mostly: float = 1.0, severity: str = "error", name: str = "") -> NotNull:
    return NotNull(column=column, where=where, mostly=mostly, severity=severity, name=name)


def unique(*columns: str, mostly: float = 1.0, severity: str = "error", name: str = "") -> Unique:
    if not columns:
        raise ConfigError("unique() needs at least one column")
    return Unique(columns_=tuple(columns), mostly=mostly, severity=severity, name=name)


def accepted_values(column: str, values: Iterable[Any], *, mostly: float = 1.0, severity: str = "error", name: str = "") -> AcceptedValues:
    values = tuple(values)
    if not values:
        raise ConfigError(f"accepted_values({column}): give at least one value")
    return AcceptedValues(column=column, values=values, mostly=mostly, severity=severity, name=name)


def in_range(column: str, min: float | None = None, max: float | None = None, *, inclusive: bool = True, mostly: float = 1.0,
             severity: str = "error", name: str = "") -> InRange:
    return InRange(column=column, min=min, max=max, inclusive=inclusive, mostly=mostly, severity=severity, name=name)


def matches(column: str, pattern: str, *, mostly: float = 1.0, severity: str = "error", name: str = "") -> Matches:
    return Matches(column=column, pattern=pattern, mostly=mostly, severity=severity, name=name)


def row_count(min: int | None = None, max: int | None = None, *, severity: str = "error", name: str = "") -> RowCount:
    return RowCount(min=min, max=max, severity=severity, name=name)


def freshness(column: str, max_age: timedelta | str, *, relative_to: str = "partition_end", severity: str = "error",
              name: str = "") -> Freshness:
    return Freshness(column=column, max_age=parse_duration(max_age), relative_to=relative_to, severity=severity, name=name)


def schema(columns: dict[str, str], *, allow_extra: bool = True, severity: str = "block", name: str = "") -> Schema:
    return Schema(columns_=dict(columns), allow_extra=allow_extra, severity=severity, name=name)


def references(column: str, to: str, to_column: str | None = None, *, mostly: float = 1.0, severity: str = "error",
               name: str = "") -> References:
    return References(column=column, to=to, to_column=to_column, mostly=mostly, severity=severity, name=name)


def expression(sql: str, *, mostly: float = 1.0, severity: str = "error", name: str = "") -> Expression:
    return Expression(sql=sql, mostly=mostly, severity=severity, name=name)


def metric(sql: str, *, min: float | None = None, max: float | None = None, severity: str = "error", name: str = "") -> Metric:
    return Metric(sql=sql, min=min, max=max, severity=severity, name=name)


def parse_duration(value: timedelta | str) -> timedelta:
    """``timedelta`` or text like ``36h``, ``2d``, ``90m``, ``45s``."""
    if isinstance(value, timedelta):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(value))
    if not m:
        raise ConfigError(f"duration {value!r} must look like 90m, 36h or 2d")
    n, unit = float(m.group(1)), m.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


CONSTRUCTORS: dict[str, Callable[..., Check]] = {
    "not_null": not_null, "unique": unique, "accepted_values": accepted_values, "in_range": in_range,
    "matches": matches, "row_count": row_count, "freshness": freshness, "schema": schema,
    "references": references, "expression": expression, "metric": metric,
}
