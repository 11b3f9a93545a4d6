"""``weir vacuum``: remove the files no published version needs any more.

Two kinds of files pile up in a table folder: files that older versions referenced (a
republished partition's previous file, kept so that time travel works) and staged files that no
commit ever referenced (a build that failed after staging, or a blocked build's quarantined file
kept for forensics). The first are Delta's to remove: its vacuum deletes files removed by a
version older than the retention. The second are weir's: staged files older than the retention,
unless a run that is still alive wrote them. Files of the current version, and of every version
current within the retention, are never touched."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from weir.engine.heartbeat import is_dead
from weir.errors import UsageError
from weir.health.doctor import orphans, read_table
from weir.health.tables import TableRef, workspace_tables
from weir.store.store import MetadataStore

DEFAULT_RETENTION = timedelta(days=7)
REASONS = ("history", "staged", "quarantined")
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_age(text: str) -> timedelta:
    """``--older-than``: a whole number with a unit (``7d``, ``12h``, ``30m``, ``2w``, ``90s``),
    or ``0``. Raises UsageError naming the value."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    number, unit = value[:-1], value[-1:]
    if unit not in UNITS or not number.isdigit():
        raise UsageError(f"--older-than {text!r} is not a duration (e.g. 7d, 12h, 30m)")
    return timedelta(**{UNITS[unit]: int(number)})


@dataclass(frozen=True, kw_only=True)
class VacuumedFile:
    path: str  # relative to the table root
    bytes: int
    reason: str  # history (an older version's file) | staged (never committed) | quarantined (a blocked build's)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class TableVacuum:
    project: str
    asset: str
    files: tuple[VacuumedFile, ...] = ()
    skipped: str | None = None  # why the table was left alone

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def to_json(self) -> dict[str, Any]:
        per = {r: {"files": sum(1 for f in self.files if f.reason == r), "bytes": sum(f.bytes for f in self.files if f.reason == r)}
               for r in REASONS}
        return {"project": self.project, "asset": self.asset, "files": len(self.files), "bytes": self.bytes, **per,
                "removed": [f.to_json() for f in self.files], "skipped": self.skipped}


@dataclass(frozen=True, kw_only=True)
class VacuumReport:
    """``weir vacuum --json``: ``{dry_run, older_than_seconds, files, bytes, tables: [{project,
    asset, files, bytes, history: {files, bytes}, staged: {...}, quarantined: {...}, removed:
    [{path, bytes, reason}], skipped}]}``; with ``dry_run`` the files are listed, not removed."""

    dry_run: bool
    older_than: timedelta
    tables: tuple[TableVacuum, ...] = ()

    @property
    def files(self) -> int:
        return sum(len(t.files) for t in self.tables)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables)

    @property
    def exit_code(self) -> int:
        """1 when a table was skipped (its log is damaged: ``weir doctor`` says how to repair it)."""
        return 1 if any(t.skipped for t in self.tables) else 0

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "older_than_seconds": self.older_than.total_seconds(), "files": self.files,
                "bytes": self.bytes, "tables": [t.to_json() for t in self.tables]}


def vacuum(home: Path, store: MetadataStore, *, older_than: timedelta = DEFAULT_RETENTION, dry_run: bool = False) -> VacuumReport:
    """Remove (or with ``dry_run`` list) the files of every table in the workspace that no
    version current within ``older_than`` needs. Raises UsageError for a negative retention."""
    if older_than < timedelta(0):
        raise UsageError(f"--older-than must not be negative (got {older_than})")
    started = time.time()  # files written after this are never candidates: a run may be about to commit them
    with store.read():
        live = {r.id for r in store.runs.active() if is_dead(r, started) is None}
    out = []
    for ref in workspace_tables(home):
        with store.read():
            blocked = set(store.runs.staged_paths(ref.project, ref.asset))
            held = set(store.held.paths(ref.project, ref.asset))
        out.append(_vacuum_table(ref, blocked, live, older_than, started - older_than.total_seconds(), dry_run, held))
    return VacuumReport(dry_run=dry_run, older_than=older_than, tables=tuple(out))


def _vacuum_table(ref: TableRef, blocked: set[str], live: set[str], older_than: timedelta, cutoff: float, dry_run: bool,
                  held: AbstractSet[str] = frozenset()) -> TableVacuum:
    state = read_table(ref)
    if state.log.damaged or (state.log.versions and not state.readable):
        return TableVacuum(project=ref.project, asset=ref.asset,
                           skipped="its Delta log is damaged, so what its versions reference is unknown; run 'weir doctor'")
    removed: list[VacuumedFile] = []
    if state.readable:
        removed += _delta_vacuum(ref.path, older_than, dry_run)
    left = orphans(state, blocked=blocked, live_runs=live, held=held)  # held versions are never removed
    for reason, files in (("staged", left.abandoned), ("quarantined", left.quarantined)):
        for f in files:
            if f.modified >= cutoff:
                continue
            if not dry_run:
                try:
                    os.remove(ref.path / f.path)
                except FileNotFoundError:
                    continue
            removed.append(VacuumedFile(path=f.path, bytes=f.size, reason=reason))
    return TableVacuum(project=ref.project, asset=ref.asset, files=tuple(removed))


def _delta_vacuum(path: Path, older_than: timedelta, dry_run: bool) -> list[VacuumedFile]:
    """Delta's own vacuum for files removed by versions older than the retention (rounded up to
    whole hours, Delta's unit, so that nothing younger goes)."""
    from deltalake import DeltaTable

    hours = math.ceil(older_than.total_seconds() / 3600)
    table = DeltaTable(str(path))
    listed = table.vacuum(retention_hours=hours, dry_run=True, enforce_retention_duration=False)
    sizes = {}
    for rel in listed:
        try:
            sizes[rel] = (path / rel).stat().st_size
        except OSError:
            sizes[rel] = 0
    if not dry_run and listed:
        listed = table.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False)
    return [VacuumedFile(path=rel, bytes=sizes.get(rel, 0), reason="history") for rel in listed]
