"""The asset tables of a workspace as the Delta logs and the disk show them: the current
snapshot, which commit published each partition, and the files nothing references."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from weir.engine.recovery import DeltaLog, footer_rows
from weir.model.partitions import UNPARTITIONED_KEY
from weir.storage.arrow import PARTITION_COLUMN
from weir.storage.delta import STAGED_PREFIX, disk_paths

STAGED_NAME = re.compile(rf"^{STAGED_PREFIX}(?P<run>.+)-[0-9a-f]{{12}}\.parquet$")
UNKNOWN_CODE_VERSION = "unknown"  # a commit without weir's metadata: the planner sees other code


@dataclass(frozen=True, kw_only=True)
class TableRef:
    """Where one asset's table lives: ``<workspace>/data/<project>/<asset>/``."""

    project: str
    asset: str
    path: Path


def data_root(home: Path) -> Path:
    return Path(home) / "data"


def workspace_tables(home: Path) -> list[TableRef]:
    """Every asset folder under the workspace's data root, sorted."""
    root = data_root(home)
    if not root.is_dir():
        return []
    out = []
    for project in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        for asset in sorted(a for a in project.iterdir() if a.is_dir() and not a.name.startswith((".", "_"))):
            out.append(TableRef(project=project.name, asset=asset.name, path=asset))
    return out


def is_partitioned(path: Path) -> bool:
    """From the folder layout, as a table that cannot be opened has no metadata to ask."""
    return any(p.name.startswith(f"{PARTITION_COLUMN}=") for p in path.iterdir()) if path.is_dir() else False


def staged_run_id(name: str) -> str | None:
    """The run that wrote a staged file, from its name; None for files weir did not stage."""
    m = STAGED_NAME.match(name)
    return m.group("run") if m else None


@dataclass(frozen=True, kw_only=True)
class SnapshotFile:
    path: str  # relative to the table root
    key: str
    size: int
    rows: int | None  # the add action's numRecords
    modified_ms: int


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """The table's current version as Delta reads it."""

    version: int
    partitioned: bool
    files: tuple[SnapshotFile, ...]


def open_snapshot(path: Path) -> Snapshot:
    """The current snapshot; raises whatever Delta raises for a table it cannot read."""
    import pyarrow as pa
    from deltalake import DeltaTable

    table = DeltaTable(str(path))
    partitioned = PARTITION_COLUMN in table.metadata().partition_columns
    actions = pa.table(table.get_add_actions(flatten=True))
    n = actions.num_rows
    keys = actions.column(f"partition.{PARTITION_COLUMN}").to_pylist() if partitioned else [UNPARTITIONED_KEY] * n
    rows = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else [None] * n
    files = tuple(
        SnapshotFile(path=p, key=k or UNPARTITIONED_KEY, size=int(s), rows=None if r is None else int(r), modified_ms=int(_ms(m)))
        for p, k, s, r, m in zip(
            disk_paths(actions), keys, actions.column("size_bytes").to_pylist(), rows,
            actions.column("modification_time").to_pylist(),
        )
    )
    return Snapshot(version=table.version(), partitioned=partitioned, files=files)


def _ms(value: datetime | float | None) -> float:
    if value is None:
        return 0
    if hasattr(value, "timestamp"):
        return value.timestamp() * 1000
    return float(value)


def tombstones(path: Path) -> set[str]:
    """Files removed by a version the table still remembers (Delta's vacuum deletes them past
    the retention; until then time travel reads them)."""
    from deltalake import DeltaTable

    found = DeltaTable(str(path)).vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
    return {unquote(p) for p in found}


@dataclass(frozen=True, kw_only=True)
class LoggedPartition:
    """What the log says about one published partition: the metadata row it should have."""

    key: str
    version: int
    version_known: bool  # False when the commit that added its file is no longer in the log
    run_id: str
    code_version: str
    rows: int | None
    published_at: float  # seconds
    files: tuple[str, ...]


def logged_partitions(path: Path, snapshot: Snapshot, log: DeltaLog) -> dict[str, LoggedPartition]:
    """Each partition of the current snapshot with the commit that published it (the one that
    added its file): version, run id, code version and commit time from the commit info, rows
    from the add stats or the Parquet footers."""
    added_by = {f.path: c for c in log.commits for f in c.adds}
    floor = log.checkpoint if log.checkpoint is not None else (log.versions[0] if log.versions else snapshot.version)
    per_key: dict[str, list[SnapshotFile]] = {}
    for f in snapshot.files:
        per_key.setdefault(f.key, []).append(f)
    out = {}
    for key, files in per_key.items():
        commits = [c for c in (added_by.get(f.path) for f in files) if c is not None]
        rows = [r for r in (f.rows if f.rows is not None else footer_rows(path / f.path) for f in files) if r is not None]
        total = sum(rows) if len(rows) == len(files) else None  # None when any file's count is unknown
        if len(commits) == len(files):
            commit = max(commits, key=lambda c: c.version)
            out[key] = LoggedPartition(
                key=key, version=commit.version, version_known=True,
                run_id=commit.run_id or _name_run_id(files) or "unknown",
                code_version=commit.code_version or UNKNOWN_CODE_VERSION, rows=total,
                published_at=commit.timestamp_ms / 1000, files=tuple(f.path for f in files),
            )
        else:  # its commit entry was cleaned up: the oldest version the log still knows bounds it
            out[key] = LoggedPartition(
                key=key, version=floor, version_known=False, run_id=_name_run_id(files) or "unknown",
                code_version=UNKNOWN_CODE_VERSION, rows=total,
                published_at=max(f.modified_ms for f in files) / 1000, files=tuple(f.path for f in files),
            )
    return out


def _name_run_id(files: list[SnapshotFile]) -> str | None:
    return next((r for r in (staged_run_id(os.path.basename(f.path)) for f in files) if r), None)


@dataclass(frozen=True, kw_only=True)
class DiskFile:
    path: str  # relative to the table root
    size: int
    modified: float  # seconds


def disk_files(path: Path) -> list[DiskFile]:
    """Data files in the table folder (not the log, nor folders or files starting with _ or .)."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for name in files:
            if name.startswith(("_", ".")):
                continue
            full = Path(root) / name
            try:
                st = full.stat()
            except OSError:  # removed while we looked
                continue
            out.append(DiskFile(path=full.relative_to(path).as_posix(), size=st.st_size, modified=st.st_mtime))
    return sorted(out, key=lambda f: f.path)


def run_command(asset: str, key: str | None, project: str | None = None) -> str:
    """The command that rebuilds a partition (or an unpartitioned asset)."""
    where = f" (in project {project})" if project else ""
    if key in (None, UNPARTITIONED_KEY):
        return f"weir run {asset}{where}"
    return f"weir run {asset} --partition {key}{where}"
