"""``weir doctor``: does the workspace hold what its metadata says, and can readers read it?

Per asset table: the Delta log parses, every file of the current version is there with a
readable Parquet footer and the row count the log gives, and the metadata store's published
partitions match the log (version, run, code version, rows). Across the workspace: no run is
left queued or running by a dead process, and staged files nothing references are counted.
Each finding carries the command that repairs it."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

from weir.engine.heartbeat import is_dead
from weir.engine.recovery import DeltaLog, read_log
from weir.health.report import Finding, FindingKind, Report, Severity, TableHealth, sorted_findings
from weir.health.tables import (
    DiskFile,
    LoggedPartition,
    Snapshot,
    TableRef,
    disk_files,
    logged_partitions,
    open_snapshot,
    run_command,
    staged_run_id,
    tombstones,
    workspace_tables,
)
from weir.store.store import MetadataStore

REPAIR = "weir doctor --repair"
VACUUM = "weir vacuum"


@dataclass(kw_only=True)
class TableState:
    """One table read for doctor, repair and vacuum alike."""

    ref: TableRef
    log: DeltaLog
    snapshot: Snapshot | None = None
    error: str | None = None  # why Delta cannot open it
    logged: dict[str, LoggedPartition] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)  # files any version still remembers

    @property
    def readable(self) -> bool:
        return self.snapshot is not None


def read_table(ref: TableRef) -> TableState:
    """The log, the snapshot and what each partition's publishing commit says."""
    state = TableState(ref=ref, log=read_log(ref.path))
    if not state.log.versions:
        return state
    try:
        state.snapshot = open_snapshot(ref.path)
        state.referenced = {f.path for f in state.snapshot.files} | tombstones(ref.path)
    except Exception as exc:  # noqa: BLE001 - any reason Delta gives is the finding
        state.error = _first_line(exc)
        return state
    state.referenced |= {f.path for c in state.log.commits for f in c.adds}
    state.logged = logged_partitions(ref.path, state.snapshot, state.log)
    return state


@dataclass(frozen=True, kw_only=True)
class Orphans:
    """Files in a table folder that no version references, by who may still want them."""

    abandoned: tuple[DiskFile, ...] = ()  # staged by a finished run and never committed
    quarantined: tuple[DiskFile, ...] = ()  # staged by a blocked build, kept for forensics
    in_progress: tuple[DiskFile, ...] = ()  # staged by a run that is still alive
    foreign: tuple[DiskFile, ...] = ()  # not written by weir: left alone
    held: tuple[DiskFile, ...] = ()  # a version held for approval: kept until approved or rejected


def orphans(state: TableState, *, blocked: set[str], live_runs: set[str], held: AbstractSet[str] = frozenset()) -> Orphans:
    """Unreferenced files of a readable table (or of a folder with no log at all); ``held`` are
    the staged files of versions held for approval."""
    groups: dict[str, list[DiskFile]] = {"abandoned": [], "quarantined": [], "in_progress": [], "foreign": [], "held": []}
    for f in disk_files(state.ref.path):
        if f.path in state.referenced:
            continue
        run_id = staged_run_id(Path(f.path).name)
        if f.path in held:
            groups["held"].append(f)
        elif run_id is None:
            groups["foreign"].append(f)
        elif run_id in live_runs:
            groups["in_progress"].append(f)
        elif f.path in blocked:
            groups["quarantined"].append(f)
        else:
            groups["abandoned"].append(f)
    return Orphans(**{k: tuple(v) for k, v in groups.items()})


def doctor(home: Path, store: MetadataStore, *, project: str | None = None) -> Report:
    """Check the workspace at ``home`` against ``store``. ``project`` is the project the caller
    works in (repair commands for other projects name theirs). Reads only."""
    home = Path(home)
    findings: list[Finding] = []
    with store.read():
        active = store.runs.active()
        recorded = {p: store.partitions.current(p) for p in store.partitions.projects()}
    live_runs = set()
    for run in active:
        why = is_dead(run)
        if why is None:
            live_runs.add(run.id)
            continue
        findings.append(Finding(
            kind=FindingKind.DEAD_RUN, severity=Severity.ERROR, project=run.project,
            message=f"run {run.id} is still {run.state} but {why}", repair=REPAIR,
        ))
    tables = []
    seen: set[tuple[str, str]] = set()
    for ref in workspace_tables(home):
        seen.add((ref.project, ref.asset))
        mine = {k: r for (a, k), r in recorded.get(ref.project, {}).items() if a == ref.asset}
        with store.read():
            blocked = set(store.runs.staged_paths(ref.project, ref.asset))
            held = set(store.held.paths(ref.project, ref.asset))
        health, found = check_table(ref, mine, blocked=blocked, live_runs=live_runs, here=project, held=held)
        tables.append(health)
        findings += found
    for proj, rows in recorded.items():
        for (asset, key) in sorted(rows):
            if (proj, asset) not in seen:
                findings.append(_lost(proj, asset, key, f"the metadata store lists partition {key!r} of {asset!r} as published, but its table folder is missing",
                                      proj if project not in (None, proj) else None))
    return Report(workspace=str(home), findings=sorted_findings(findings), tables=tuple(tables))


def check_table(
    ref: TableRef, recorded: dict[str, dict], *, blocked: set[str], live_runs: set[str], here: str | None = None,
    held: AbstractSet[str] = frozenset(),
) -> tuple[TableHealth, list[Finding]]:
    """Findings of one table; ``recorded`` holds the store's current rows of its partitions by key."""
    state = read_table(ref)
    found: list[Finding] = []
    where = {"project": ref.project, "asset": ref.asset}
    other = ref.project if here not in (None, ref.project) else None
    manual = f"restore it from a backup, or move {ref.path} aside and rebuild: {run_command(ref.asset, None, other)}"
    newest = state.log.newest
    for d in state.log.damaged:
        fix = REPAIR if d.version == newest else manual
        found.append(Finding(kind=FindingKind.CORRUPT_LOG, severity=Severity.ERROR, file=d.file, **where,
                             message=f"Delta log entry {Path(d.file).name} of {ref.asset!r} {d.message}", repair=fix))
    for v in state.log.missing_versions():
        found.append(Finding(kind=FindingKind.MISSING_LOG, severity=Severity.ERROR, **where,
                             file=str(ref.path / "_delta_log" / f"{v:020d}.json"),
                             message=f"Delta log entry for version {v} of {ref.asset!r} is missing", repair=manual))
    if state.error is not None and not state.log.damaged:
        found.append(Finding(kind=FindingKind.UNREADABLE_TABLE, severity=Severity.ERROR, file=str(ref.path), **where,
                             message=f"Delta cannot open {ref.asset!r}: {state.error}", repair=manual))
    health = TableHealth(project=ref.project, asset=ref.asset, path=str(ref.path), version=None)
    if state.snapshot is None and state.log.versions:
        return health, found  # nothing below can be checked against a log that cannot be read
    if state.snapshot is not None:
        files = check_files(state, other)
        found += files
        found += _check_metadata(state, recorded, other, damaged={f.partition for f in files})
    else:
        for key in sorted(recorded):
            found.append(_lost(ref.project, ref.asset, key, f"the metadata store lists partition {key!r} of {ref.asset!r} as published, but the table was never committed", other))
    left = orphans(state, blocked=blocked, live_runs=live_runs, held=held)
    if left.abandoned:
        size = sum(f.size for f in left.abandoned)
        found.append(Finding(
            kind=FindingKind.ORPHANED_FILES, severity=Severity.INFO, **where, file=str(ref.path),
            message=f"{len(left.abandoned)} staged file(s) of {ref.asset!r} ({_bytes(size)}) were never committed and no blocked build keeps them",
            repair=VACUUM,
        ))
    snap = state.snapshot
    rows = [p.rows for p in state.logged.values() if p.rows is not None]
    health = TableHealth(
        project=ref.project, asset=ref.asset, path=str(ref.path), version=snap.version if snap else None,
        partitions=len(state.logged), files=len(snap.files) if snap else 0,
        rows=sum(rows) if len(rows) == len(state.logged) else None, bytes=sum(f.size for f in snap.files) if snap else 0,
        orphaned_files=len(left.abandoned), orphaned_bytes=sum(f.size for f in left.abandoned),
        quarantined_files=len(left.quarantined), quarantined_bytes=sum(f.size for f in left.quarantined),
    )
    return health, found


def check_files(state: TableState, other: str | None = None) -> list[Finding]:
    """Every file of the current version: present, its footer readable, its rows as logged.
    Returns a ``missing_file`` or ``unreadable_file`` finding per damaged file (with its partition)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found = []
    ref = state.ref
    assert state.snapshot is not None
    for f in state.snapshot.files:
        full = ref.path / f.path
        common = {"project": ref.project, "asset": ref.asset, "partition": f.key, "file": str(full),
                  "repair": run_command(ref.asset, f.key, other)}
        part = f"partition {f.key!r} of {ref.asset!r}" if f.key else f"{ref.asset!r}"
        if not full.is_file():
            found.append(Finding(kind=FindingKind.MISSING_FILE, severity=Severity.ERROR,
                                 message=f"data file of {part} is missing: {f.path}", **common))
            continue
        try:
            rows = pq.read_metadata(full).num_rows
        except (OSError, pa.ArrowException) as exc:
            found.append(Finding(kind=FindingKind.UNREADABLE_FILE, severity=Severity.ERROR,
                                 message=f"data file of {part} is unreadable ({_first_line(exc)}): {f.path}", **common))
            continue
        if f.rows is not None and rows != f.rows:
            found.append(Finding(kind=FindingKind.UNREADABLE_FILE, severity=Severity.ERROR,
                                 message=f"data file of {part} holds {rows} rows but the log says {f.rows}: {f.path}", **common))
    return found


def _check_metadata(state: TableState, recorded: dict[str, dict], other: str | None, *,
                    damaged: set[str | None]) -> list[Finding]:
    """The store's published partitions against the log's. A partition whose data file is
    damaged is its file's finding: repair stops listing it as published, so that it is missing
    until it is rebuilt."""
    found = []
    ref = state.ref
    for key, lp in sorted(state.logged.items()):
        if key in damaged:
            continue
        part = f"partition {key!r} of {ref.asset!r}" if key else f"{ref.asset!r}"
        common = {"project": ref.project, "asset": ref.asset, "partition": key, "repair": REPAIR}
        row = recorded.get(key)
        if row is None:
            found.append(Finding(kind=FindingKind.UNRECORDED_PARTITION, severity=Severity.ERROR,
                                 message=f"{part} is published (version {lp.version}) but the metadata store does not know it", **common))
            continue
        differs = []
        if lp.version_known and row["version"] != lp.version:
            differs.append(f"version {row['version']} (log: {lp.version})")
        if lp.version_known and row["run_id"] != lp.run_id:
            differs.append(f"run {row['run_id']} (log: {lp.run_id})")
        if lp.version_known and lp.code_version != "unknown" and row["code_version"] != lp.code_version:
            differs.append(f"code version {row['code_version']} (log: {lp.code_version})")
        if differs:
            found.append(Finding(kind=FindingKind.STALE_METADATA, severity=Severity.ERROR,
                                 message=f"metadata of {part} disagrees with the Delta log: {', '.join(differs)}", **common))
        elif lp.rows is not None and row["row_count"] != lp.rows:
            what = "no row count" if row["row_count"] is None else f"{row['row_count']} rows"
            found.append(Finding(kind=FindingKind.ROW_COUNT_MISMATCH, severity=Severity.WARNING,
                                 message=f"metadata of {part} has {what}; its files hold {lp.rows}", **common))
    for key in sorted(set(recorded) - set(state.logged)):
        found.append(_lost(ref.project, ref.asset, key, f"the metadata store lists partition {key!r} of {ref.asset!r} as published, but the table's current version does not have it", other))
    return found


def _lost(project: str, asset: str, key: str, message: str, other: str | None) -> Finding:
    return Finding(kind=FindingKind.LOST_PARTITION, severity=Severity.ERROR, project=project, asset=asset,
                   partition=key, message=message, repair=run_command(asset, key, other))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
