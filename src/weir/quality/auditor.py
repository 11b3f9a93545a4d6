"""The audit step of write-audit-publish: check and measure each staged partition in one scan
and decide what is published. ``block`` failures quarantine the partition; ``error`` failures
publish it marked ``failed_check``; ``warn`` failures are recorded. Profile metrics are recorded
for every partition, published or not."""

from __future__ import annotations

import os
import time

from weir.engine.audit import AuditVerdict
from weir.events import Event, EventKind
from weir.model.checks import CheckResult, References
from weir.model.definitions import Asset, Source
from weir.model.partitions import TimeScheme
from weir.quality.scan import ScanInput, ScanOutcome, ScanStats, scan
from weir.storage.delta import StagedPartition


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


def reference_files(project, asset: Asset, *, table_uri, files_of, source_files_of) -> tuple[dict[str, list[str]], dict[str, str]]:
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


def window_context(node, key: str) -> dict:
    """The partition's window, for freshness checks and time metrics relative to the partition."""
    if not isinstance(node.partitions, TimeScheme):
        return {}
    start, end = node.partitions.window(key)
    return {"partition_start": start, "partition_end": end}


def check_partition(
    asset: Asset, key: str, files: list[str], schema: dict[str, str], refs: dict[str, list[str]],
    formats: dict[str, str], stats: ScanStats | None = None, *, bins: dict | None = None, profile: bool = False,
) -> ScanOutcome:
    """Every check of ``asset`` on one partition's files, and with ``profile`` every metric, in one scan."""
    context = window_context(asset, key)
    return scan(
        list(asset.checks),
        ScanInput(files=files, schema=schema, references=refs, reference_format=formats, context=context),
        metrics=dict(asset.metrics), bins=bins, profile=profile, stats=stats,
    )


class CheckAuditor:
    """Runs checks in one scan per staged partition and records every result."""

    def __init__(self, store) -> None:
        self.store = store
        self.run = None
        self.stats = ScanStats()
        self._pending: list[tuple] = []
        self.outcomes: dict[str, dict[str, int]] = {}  # check outcomes per asset (and source) this run

    def bind(self, run) -> None:
        self.run = run

    def flush(self) -> None:
        """Record what the last audits found; the runner calls this inside the transaction that
        records the publish, so results, metrics and published state commit together."""
        for project, asset, rows, new_bins, measured in self._pending:
            self.store.checks.record(rows)
            self.store.emit(*failed_check_events(rows))
            if new_bins:
                self.store.metrics.fix_bins(project, asset, new_bins, fixed_by=measured[0][0])
            for key, prof, quarantined in measured:
                self.store.metrics.record(project, asset, key, self.run.run_id, prof, quarantined=quarantined)
        self._pending.clear()

    def references(self, asset: Asset) -> tuple[dict[str, list[str]], dict[str, str]]:
        run = self.run
        return reference_files(
            run.project, asset, table_uri=lambda a: run.table(a).uri, files_of=run.files,
            source_files_of=run.resolver.source_files,
        )

    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]:
        if not asset.checks and not asset.profile:
            return {s.key: AuditVerdict() for s in staged}
        project = self.run.project.name
        refs, formats = self.references(asset)
        with self.store.read():
            bins = self.store.metrics.bins(project, asset.name)
        verdicts, rows, measured, new_bins = {}, [], [], {}
        for s in staged:
            outcome = check_partition(
                asset, s.key, [os.path.join(table_dir, s.path)], {f.name: str(f.type) for f in s.schema}, refs, formats,
                self.stats, bins=bins, profile=asset.profile,
            )
            verdict = verdicts[s.key] = verdict_of(outcome.results)
            if outcome.results:
                tally(self.outcomes, asset.name, outcome.results)
            rows += result_rows(project, asset.name, s.key, run_id, outcome.results)
            if outcome.profile is not None:
                measured.append((s.key, outcome.profile, not verdict.publish))
                for col, edges in outcome.profile.new_bins.items():
                    bins[col] = new_bins[col] = edges
        self._pending.append((project, asset.name, rows, new_bins, measured))
        return verdicts
