"""One scan per partition: every check, every profile metric and every user metric of a
partition compile into one query over its staged data, plus one small query per failed
row-level check for a sample of failing rows.

Polars runs the scan: measured on ``bench/checks`` it computes the same aggregates about twice
as fast as DuckDB on two cores. A check or metric whose SQL Polars cannot parse (DuckDB-only
functions) sends that partition's checks to DuckDB instead, and the profile to a second scan;
``ScanStats`` records both, and the one-scan property is tested on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.model.checks import Check, CheckResult, References
from weir.quality import profile as P
from weir.quality.duckdb_scan import duckdb_checks
from weir.quality.polars_scan import polars_scan
from weir.quality.results import broken

ENGINES = ("auto", "polars", "duckdb")


@dataclass(kw_only=True)
class ScanStats:
    """How many queries touched the staged data (the one-scan property is tested on this)."""

    scans: int = 0
    sample_queries: int = 0
    fallback_scans: int = 0
    engines: dict[str, int] = field(default_factory=dict)

    def used(self, engine: str) -> None:
        self.scans += 1
        self.engines[engine] = self.engines.get(engine, 0) + 1


@dataclass(kw_only=True)
class ScanInput:
    files: list[str] = field(default_factory=list)  # Parquet files of the partition
    schema: dict[str, str] = field(default_factory=dict)  # column -> Arrow type name
    table: Any = None  # or the rows as an Arrow table (sources read from CSV/JSON)
    references: dict[str, list[str]] = field(default_factory=dict)  # asset -> parquet/csv files
    reference_format: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def row_count(self) -> int:
        if self.table is not None:
            return self.table.num_rows
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(f).num_rows for f in self.files)


@dataclass(kw_only=True)
class ScanOutcome:
    results: list[CheckResult]
    profile: P.Profile | None = None
    engine: str = "polars"
    profile_error: str | None = None
    fallback_reason: str | None = None  # why Polars could not run this partition's scan


def scan(
    checks: list[Check], data: ScanInput, *, metrics: dict[str, str] | None = None,
    bins: dict[str, list[float]] | None = None, profile: bool = True, stats: ScanStats | None = None,
    engine: str = "auto",
) -> ScanOutcome:
    """Evaluate ``checks`` and measure the partition. Never raises for a bad check or metric: a
    check that cannot run is a failed result whose message says why."""
    stats = stats if stats is not None else ScanStats()
    metrics = dict(metrics or {})
    results: dict[int, CheckResult] = {}
    runnable: list[tuple[int, Check]] = []
    for i, check in enumerate(checks):
        missing = [c for c in check.columns() if c not in data.schema]
        if isinstance(check, References) and check.to not in data.references:
            results[i] = broken(check, f"cannot read {check.to!r} to check references: it has no published data")
        elif missing:
            results[i] = broken(
                check, f"unknown column {missing[0]!r}; columns are: {', '.join(sorted(data.schema)) or '(none)'}"
            )
        else:
            runnable.append((i, check))
    rows = data.row_count()
    step = P.sample_step(rows)
    outcome, why = None, None
    if engine in ("auto", "polars"):
        try:
            found, prof = polars_scan(runnable, data, metrics, bins or {}, profile, step, stats)
            outcome = ScanOutcome(results=found, profile=prof, engine="polars")
        except Exception as exc:
            if engine == "polars":
                raise
            outcome, why = None, (str(exc).splitlines() or [type(exc).__name__])[0]
    if outcome is None:
        checked, user = duckdb_checks(runnable, data, metrics, stats)
        outcome = ScanOutcome(results=[], engine="duckdb", fallback_reason=why)
        if profile:
            try:
                outcome.profile = polars_scan([], data, {}, bins or {}, True, step, stats)[1]
                if outcome.profile is not None:
                    outcome.profile.user = user
            except Exception as exc:  # noqa: BLE001 - a profile never fails a build
                outcome.profile_error = str(exc).splitlines()[0]
    else:
        checked = {i: r for i, r in zip([i for i, _ in runnable], outcome.results)}
    results.update(checked)
    outcome.results = [results[i] for i in range(len(checks))]
    return outcome


def run_checks(checks: list[Check], data: ScanInput, stats: ScanStats | None = None, engine: str = "auto") -> list[CheckResult]:
    """Checks only, no profile."""
    return scan(checks, data, profile=False, stats=stats, engine=engine).results


