"""What ``weir doctor`` finds and what ``--repair`` did, as frozen values with their JSON form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # data or metadata is wrong: readers fail, or status and plans are off
    WARNING = "warning"  # metadata is imprecise (a row count), nothing a reader sees
    INFO = "info"  # worth knowing (files waiting for vacuum), not a problem


class FindingKind(StrEnum):
    CORRUPT_LOG = "corrupt_log"  # a _delta_log entry is truncated, empty or not JSON
    MISSING_LOG = "missing_log"  # a commit entry between the checkpoint and the newest one is absent
    UNREADABLE_TABLE = "unreadable_table"  # Delta cannot open the table
    MISSING_FILE = "missing_file"  # the current version references a file that is not there
    UNREADABLE_FILE = "unreadable_file"  # ... that is there but whose Parquet footer cannot be read, or disagrees with the log
    UNRECORDED_PARTITION = "unrecorded_partition"  # published in the table, unknown to the metadata store
    STALE_METADATA = "stale_metadata"  # the store's version, run or code version differs from the log
    ROW_COUNT_MISMATCH = "row_count_mismatch"  # the store's row count is missing or differs from the log
    LOST_PARTITION = "lost_partition"  # the store says published, the table does not have it
    DEAD_RUN = "dead_run"  # a run still queued/running whose process is gone
    ORPHANED_FILES = "orphaned_files"  # staged files no version references and no blocked build keeps


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, kw_only=True)
class Finding:
    kind: FindingKind
    severity: Severity
    message: str  # one line
    repair: str  # the command that repairs it
    project: str | None = None
    asset: str | None = None
    partition: str | None = None
    file: str | None = None  # absolute path

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind), "severity": str(self.severity), "project": self.project, "asset": self.asset,
            "partition": self.partition, "file": self.file, "message": self.message, "repair": self.repair,
        }


@dataclass(frozen=True, kw_only=True)
class TableHealth:
    """One asset table as doctor saw it."""

    project: str
    asset: str
    path: str
    version: int | None  # None: no readable Delta table
    partitions: int = 0
    files: int = 0
    rows: int | None = 0  # None when a file's row count could not be read
    bytes: int = 0
    orphaned_files: int = 0  # staged, never committed, not kept by a blocked build
    orphaned_bytes: int = 0
    quarantined_files: int = 0  # staged files of blocked builds, kept for forensics
    quarantined_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class Report:
    """``weir doctor --json``: ``{workspace, ok, counts: {error, warning, info}, tables: [...],
    findings: [...]}``."""

    workspace: str
    findings: tuple[Finding, ...] = ()
    tables: tuple[TableHealth, ...] = ()

    @property
    def ok(self) -> bool:
        """No error or warning (info findings are not problems)."""
        return not any(f.severity in (Severity.ERROR, Severity.WARNING) for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        c = Counter(str(f.severity) for f in self.findings)
        return {str(s): c.get(str(s), 0) for s in Severity}

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace, "ok": self.ok, "counts": self.counts(),
            "tables": [t.to_json() for t in self.tables], "findings": [f.to_json() for f in self.findings],
        }


def sorted_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.project or "", f.asset or "",
                                                 f.partition or "", str(f.kind), f.file or "")))


class RepairActionKind(StrEnum):
    CLOSED_RUN = "closed_run"  # a dead run marked failed, its unrecorded publishes recorded
    SET_ASIDE_COMMIT = "set_aside_commit"  # a damaged newest log entry moved out of _delta_log
    RECORDED_PARTITION = "recorded_partition"  # a published partition the store did not know
    CORRECTED_PARTITION = "corrected_partition"  # version, rows, run or code version set from the log
    FORGOT_PARTITION = "forgot_partition"  # the store's current row of a partition the table no longer has
    RECORDED_HISTORY = "recorded_history"  # versions of the log added to the partitions' history
    FORGOT_HISTORY = "forgot_history"  # versions the log no longer has (a damaged newest entry set aside) dropped from the history


@dataclass(frozen=True, kw_only=True)
class RepairAction:
    action: RepairActionKind
    message: str
    project: str | None = None
    asset: str | None = None
    partition: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": str(self.action), "project": self.project, "asset": self.asset,
                "partition": self.partition, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class RepairReport:
    """``weir doctor --repair --json``: ``{actions: [...], counts: {action: n}, after: <doctor report>}``."""

    actions: tuple[RepairAction, ...] = ()
    after: Report = field(default_factory=lambda: Report(workspace=""))

    @property
    def exit_code(self) -> int:
        """1 while problems remain that only a rebuild (or a backup) can repair."""
        return self.after.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [a.to_json() for a in self.actions],
            "counts": dict(Counter(str(a.action) for a in self.actions)),
            "after": self.after.to_json(),
        }
