"""The audit step of write-audit-publish: check and measure each staged partition in one scan
and decide what is published. ``block`` failures quarantine the partition; ``error`` failures
publish it marked ``failed_check``; ``warn`` failures are recorded. Profile metrics are recorded
for every partition, published or not."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from weir.engine.audit import AuditVerdict
from weir.events import Event, EventKind
from weir.model.checks import CheckResult, References, type_family
from weir.model.definitions import Asset, Source
from weir.model.partitions import TimeScheme
from weir.quality.profile import Profile
from weir.quality.scan import ScanInput, ScanStats, scan
from weir.storage.arrow import widens
from weir.storage.delta import AssetTable, StagedPartition, conform
from weir.store.quality import KeptProfile

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

ReferencesOf = Callable[[Asset | Source], tuple[dict[str, list[str]], dict[str, str]]]
TableUri = Callable[[str], str]  # (asset) -> its table's folder
FilesOf = Callable[[str], Mapping[str, list[str]]]  # (asset) -> its published files per partition key
SourceFilesOf = Callable[[Source, str], list[str]]  # (source, partition key) -> the files landed for it


def verdict_of(results: list[CheckResult]) -> AuditVerdict:
    failed = [r for r in results if not r.passed]
    blocking = [r for r in failed if r.severity == "block"]
    errors = [r for r in failed if r.severity == "error"]
    warns = [r for r in failed if r.severity == "warn"]
    if blocking:
        return AuditVerdict(publish=False, state="blocked", message=_summary(blocking + errors))
    if errors:
        return AuditVerdict(publish=True, state="failed_check", message=_summary(errors))
    if warns:
        return AuditVerdict(publish=True, state="succeeded", message="warn: " + _summary(warns))
    return AuditVerdict()


OUTCOMES = ("passed", "warned", "failed", "blocked")


def tally(outcomes: dict[str, dict[str, int]], name: str, results: list[CheckResult]) -> None:
    """Count check outcomes of ``name``: passed, or failed with severity warn/error/block."""
    per = outcomes.setdefault(name, dict.fromkeys(OUTCOMES, 0))
    for r in results:
        per["passed" if r.passed else {"warn": "warned", "error": "failed", "block": "blocked"}[r.severity]] += 1


def _summary(results: list[CheckResult]) -> str:
    text = "; ".join(f"{r.check}: {r.message}" for r in results[:3])
    return text + (f" (+{len(results) - 3} more)" if len(results) > 3 else "")


def result_rows(project: str, asset: str, key: str, run_id: str | None, results: list[CheckResult]) -> list[dict]:
    now = time.time()
    return [
        {
            "project": project, "asset": asset, "partition_key": key, "run_id": run_id, "check_name": r.check,
            "kind": r.kind, "column_name": r.column, "severity": r.severity, "passed": r.passed,
            "observed": r.observed, "threshold": r.threshold, "failing_rows": r.failing_rows,
            "total_rows": r.total_rows, "message": r.message, "sample": r.sample, "checked_at": now,
        }
        for r in results
    ]


def failed_check_events(rows: list[dict]) -> list[Event]:
    """A ``check_failed`` event per failed check result row."""
    return [
        Event(kind=EventKind.CHECK_FAILED, project=r["project"], asset=r["asset"], partition_key=r["partition_key"],
              run_id=r["run_id"], data={"check": r["check_name"], "kind": r["kind"], "column": r["column_name"],
                                        "severity": r["severity"], "message": r["message"],
                                        "failing_rows": r["failing_rows"], "total_rows": r["total_rows"]})
        for r in rows if not r["passed"]
    ]


def reference_files(project: Project, asset: Asset | Source, *, table_uri: TableUri, files_of: FilesOf,
                    source_files_of: SourceFilesOf) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Files (and their format) of every asset or source that ``asset``'s references checks point at."""
    files: dict[str, list[str]] = {}
    formats: dict[str, str] = {}
    for check in asset.checks:
        if not isinstance(check, References) or check.to in files:
            continue
        target = project.node(check.to)
        if isinstance(target, Source):
            found = [f for k in target.partitions.keys() for f in source_files_of(target, k)]
            fmt = target.format
        else:
            found = [os.path.join(table_uri(check.to), p) for ps in files_of(check.to).values() for p in ps]
            fmt = "parquet"
        if found:
            files[check.to], formats[check.to] = found, fmt
    return files, formats


def window_context(node: Asset | Source, key: str) -> dict:
    """The partition's window, for freshness checks and time metrics relative to the partition."""
    if not isinstance(node.partitions, TimeScheme):
        return {}
    start, end = node.partitions.window(key)
    return {"partition_start": start, "partition_end": end}


@dataclass(kw_only=True)
class PartitionAudit:
    """What the one scan of a partition found: check results (and their stored rows), the
    verdict, and the profile when measured."""

    key: str
    results: list[CheckResult]
    rows: list[dict]
    verdict: AuditVerdict
    profile: Profile | None = None


def audit_partition(
    node: Asset | Source, key: str, data: ScanInput, *, project: str, run_id: str | None,
    references: ReferencesOf | None = None, bins: dict | None = None, profile: bool = False,
    stats: ScanStats | None = None,
) -> PartitionAudit:
    """The one way to audit a partition, whatever holds it (a staged file, a published one, the
    rows of a landed source delivery): every check and, with ``profile``, every metric in one
    scan. ``data`` carries the files or rows and their schema; references checks get their
    target files from ``references``."""
    refs, formats = references(node) if references is not None and _has_references(node) else ({}, {})
    data = dataclasses.replace(data, references=refs, reference_format=formats, context=window_context(node, key))
    outcome = scan(list(node.checks), data, metrics=dict(node.metrics), bins=bins, profile=profile, stats=stats)
    return PartitionAudit(
        key=key, results=outcome.results, rows=result_rows(project, node.name, key, run_id, outcome.results),
        verdict=verdict_of(outcome.results), profile=outcome.profile,
    )


SCHEMA_CHECK = "schema"


def schema_result(problems: list[str], total_rows: int) -> CheckResult:
    """A failed ``block`` result for a partition whose columns its table (or its source's earlier
    deliveries) cannot take; recorded like a check so it is listed, counted and alerted on."""
    return CheckResult(check=SCHEMA_CHECK, kind="table_schema", column=None, severity="block", passed=False,
                       observed=None, threshold="", failing_rows=None, total_rows=total_rows, message="; ".join(problems))


@dataclass(frozen=True, kw_only=True)
class SchemaJudgement:
    """What the table makes of a publish's staged partitions: the column types they are published
    with, and why those it cannot take are blocked (by partition key)."""

    types: dict[str, pa.DataType]
    problems: dict[str, list[str]]


def judge_schemas(table: pa.Schema | None, staged: list[StagedPartition], *, evolve: bool) -> SchemaJudgement:
    """The table keeps its column types. A partition's column is published in the table's type
    when it has that type, has no value, or casts up to it safely (``widens``: an integer column
    into a double one); a column of the table must not be missing from a partition with rows.
    A column the table does not have yet (all of them before its first publish) takes the widest
    type the partitions with a value in it have, if they all cast up to it; else the first's (in
    key order), and the others are blocked. A partition whose column is wider than the table's
    would need the table widened: blocked (``evolve`` declares that it may be, see WIDENING)."""
    ordered = sorted(staged, key=lambda s: s.key)
    known = {f.name: f.type for f in table} if table is not None else {}
    types = dict(known)
    for s in ordered:
        for f in s.schema:
            if f.name in known or f.name in s.empty:
                continue
            have = types.get(f.name)
            if have is None or widens(have, f.type):
                types[f.name] = f.type
    problems: dict[str, list[str]] = {}
    for s in ordered:
        found = [p for p in (_column_problem(name, s, want, name in known, evolve=evolve) for name, want in types.items()) if p]
        if found:
            problems[s.key] = found
    return SchemaJudgement(types=types, problems=problems)


# Widening a table column (int64 to double) means committing the wider schema and rewriting the
# published files in it (Polars refuses an integer file in a double column): work for publishing.
WIDENING = "widening a table column needs publishing to rewrite its files, which it does not do yet"


def _column_problem(name: str, s: StagedPartition, want: pa.DataType, in_table: bool, *, evolve: bool) -> str | None:
    if name in s.empty:  # no value: stored in the table's type, or null-typed until the table has one
        return None
    i = s.schema.get_field_index(name)
    if i < 0:
        if in_table and s.rows:
            return f"column {name!r} is {want} in the table but missing from this partition (renamed or dropped: fix the data)"
        return None
    have = s.schema.field(i).type
    if have == want or widens(have, want):
        return None
    text = f"column {name!r} is {want} in {'the table' if in_table else 'the other partitions of this publish'} but {have} in this partition"
    if in_table and widens(want, have):
        if evolve:
            return f"{text} ({WIDENING}: cast it to {want} in the asset meanwhile)"
        return f'{text} (declare schema="evolve" to widen, or fix the data)'
    return f"{text} (fix the data)"


def delivery_schema_problems(seen: Mapping[str, set[str]], table: pa.Table) -> list[str]:
    """Columns of a source delivery (without a contract) whose type is incompatible with what the
    source's earlier admitted deliveries had: ``seen`` maps a column to the Arrow type names it had.
    Integers and floats are one kind (a file's values decide which one is read); a column without
    a value fits any type."""
    problems = []
    for name, column in zip(table.column_names, table.columns):
        before = {t for t in seen.get(name, ()) if _kind(t) != "null"}
        if not before or column.null_count == len(column):
            continue
        if _kind(str(column.type)) not in {_kind(t) for t in before}:
            was = " or ".join(sorted(before))
            problems.append(f"column {name!r} is {was} in earlier deliveries but {column.type} in this one "
                            f"(declare the column's type with the source's columns=, or fix the data)")
    return problems


def _kind(type_name: str) -> str:
    family = type_family(type_name)
    return "number" if family in ("int", "float") or family.startswith("decimal") else family


def _has_references(node: Asset | Source) -> bool:
    return any(isinstance(c, References) for c in node.checks)


def references_resolver(project: Project, *, table_uri: TableUri, files_of: FilesOf,
                        source_files_of: SourceFilesOf) -> ReferencesOf:
    """``references(node)`` for ``audit_partition``, from where tables and landed files are."""
    return lambda node: reference_files(project, node, table_uri=table_uri, files_of=files_of, source_files_of=source_files_of)


class CheckAuditor:
    """The audit step of a run: every staged partition audited in one scan; the results are
    recorded with the publish (``flush``). It is given what it needs when it is made and never
    sees the run."""

    def __init__(self, store: MetadataStore, project: Project, *, references: ReferencesOf | None = None) -> None:
        self.store = store
        self.project = project
        self.references = references
        self.stats = ScanStats()
        self._pending: list[tuple] = []
        self._tables: dict[str, AssetTable] = {}
        self.outcomes: dict[str, dict[str, int]] = {}  # check outcomes per asset this run

    def flush(self) -> None:
        """Record what the last audits found; the runner calls this inside the transaction that
        records the publish, so results, metrics and published state commit together."""
        for asset, run_id, rows, new_bins, measured in self._pending:
            self.store.checks.record(rows)
            self.store.emit(*failed_check_events(rows))
            if new_bins:
                self.store.metrics.fix_bins(self.project.name, asset, new_bins, fixed_by=measured[0][0])
            for key, prof, quarantined in measured:
                self.store.metrics.record(self.project.name, asset, key, run_id, prof, quarantined=quarantined)
        self._pending.clear()

    def measured(self, asset: str, key: str) -> Mapping[tuple[str, str], float | None] | None:
        """What the audit of ``asset``/``key`` measured and is not flushed yet, by (column, metric)."""
        for name, _, _, _, measured in reversed(self._pending):
            if name != asset:
                continue
            for k, prof, _ in measured:
                if k == key:
                    return {(column, metric): value for column, metric, value in prof.points()}
        return None

    def withhold(self, asset: str, keys: Collection[str]) -> dict[str, dict]:
        """Take the profiles of ``keys`` out of what the next flush records; returns them as JSON."""
        wanted, kept = set(keys), {}
        for name, _, _, _, measured in self._pending:
            if name != asset:
                continue
            for entry in [m for m in measured if m[0] in wanted]:
                measured.remove(entry)
                kept[entry[0]] = KeptProfile.of(entry[1]).to_json()
        return kept

    def table_schema(self, table_dir: str) -> pa.Schema | None:
        """The schema of the table at ``table_dir`` as now published (None before its first publish)."""
        if table_dir not in self._tables:
            self._tables[table_dir] = AssetTable(Path(table_dir), partitioned=True)
        return self._tables[table_dir].schema()

    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]:
        table = self.table_schema(table_dir)
        if not asset.checks and not asset.profile:
            judged = judge_schemas(table, staged, evolve=asset.schema == "evolve")
            if not judged.problems:
                for s in staged:
                    conform(table_dir, s, judged.types)
                return {s.key: AuditVerdict() for s in staged}
        with self.store.read():
            bins = self.store.metrics.bins(self.project.name, asset.name)
        audits = audit_staged(asset, table, table_dir, staged, project=self.project.name, run_id=run_id,
                              references=self.references, bins=bins, stats=self.stats)
        verdicts, rows, measured, new_bins = {}, [], [], {}
        for s in staged:
            audit = audits[s.key]
            verdict = verdicts[s.key] = audit.verdict
            if audit.results:
                tally(self.outcomes, asset.name, audit.results)
            rows += audit.rows
            if audit.profile is not None:
                measured.append((s.key, audit.profile, not verdict.publish))
                new_bins.update(audit.profile.new_bins)
        self._pending.append((asset.name, run_id, rows, new_bins, measured))
        return verdicts


def audit_staged(asset: Asset, table: pa.Schema | None, table_dir: str, staged: list[StagedPartition], *,
                 project: str, run_id: str | None, references: ReferencesOf | None = None,
                 bins: dict[str, list[float]] | None = None, stats: ScanStats | None = None) -> dict[str, PartitionAudit]:
    """Audit staged partitions of ``asset`` under ``table_dir`` against ``table`` (the schema of
    the table they would be published to): what it cannot take blocks them; the others are
    conformed to its column types, then checked and measured (``audit_partition``). Bins fixed by
    one partition are added to ``bins`` for the next. Returns the audits by partition key."""
    judged = judge_schemas(table, staged, evolve=asset.schema == "evolve")
    conflicts = judged.problems
    bins = bins if bins is not None else {}
    for s in staged:
        if s.key not in conflicts:
            conform(table_dir, s, judged.types)
    out = {}
    for s in staged:
        if asset.checks or asset.profile:
            columns = {f.name: str(f.type) for f in s.schema} | {c: "null" for c in s.empty if c not in s.schema.names}
            data = ScanInput(files=[os.path.join(table_dir, s.path)], schema=columns)
            audit = audit_partition(asset, s.key, data, project=project, run_id=run_id, references=references,
                                    bins=bins, profile=asset.profile, stats=stats)
        else:
            audit = PartitionAudit(key=s.key, results=[], rows=[], verdict=AuditVerdict())
        if s.key in conflicts:
            found = schema_result(conflicts[s.key], s.rows)
            audit.results.insert(0, found)
            audit.rows += result_rows(project, asset.name, s.key, run_id, [found])
            audit.verdict = verdict_of(audit.results)
        if audit.profile is not None:
            bins.update(audit.profile.new_bins)
        out[s.key] = audit
    return out
