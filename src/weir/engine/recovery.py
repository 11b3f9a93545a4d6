"""Close runs whose process died, and record what they published before dying.

The Delta log is the truth about what was published: every weir commit carries the run id, the
partitions and the code version in its commit info, and each added file its row count in its
stats. ``read_log`` reads it; ``reap_dead_runs`` and ``weir doctor --repair`` rebuild the
metadata of published partitions from it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from weir.engine.heartbeat import is_dead
from weir.errors import WeirError
from weir.events import Event, EventKind
from weir.model.partitions import UNPARTITIONED_KEY
from weir.model.rows import RunRecord
from weir.storage.arrow import PARTITION_COLUMN
from weir.storage.delta import AssetTable
from weir.store.store import MetadataStore

if TYPE_CHECKING:
    from weir.engine.inputs import InputResolver
    from weir.project.graph import Project

LOG_DIR = "_delta_log"
CLOCK_SLACK_MS = 2000  # a commit of a run is never older than the run record, give or take clock rounding

# (project, asset, partition key, commit time in ms) -> the input versions that partition read
InputsOf = Callable[[str, str, str, int], dict | None]


@dataclass(frozen=True, kw_only=True)
class AddedFile:
    path: str  # relative to the table root
    key: str
    rows: int | None  # from the add action's stats; None when the writer kept none
    size: int | None


@dataclass(frozen=True, kw_only=True)
class Commit:
    version: int
    timestamp_ms: int
    run_id: str | None
    code_version: str | None
    operation: str
    adds: tuple[AddedFile, ...]
    removes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DamagedEntry:
    """A ``_delta_log`` commit file that cannot be read."""

    version: int
    file: str  # absolute path
    message: str


@dataclass(frozen=True, kw_only=True)
class DeltaLog:
    commits: tuple[Commit, ...]  # readable commit entries, oldest first
    damaged: tuple[DamagedEntry, ...]
    versions: tuple[int, ...]  # every commit entry present, readable or not, ascending
    checkpoint: int | None  # the newest checkpoint's version

    @property
    def newest(self) -> int | None:
        return self.versions[-1] if self.versions else None

    def missing_versions(self) -> list[int]:
        """Commit entries absent between the newest checkpoint (or version 0) and the newest entry."""
        if not self.versions:
            return []
        start = self.checkpoint if self.checkpoint is not None else 0
        present = set(self.versions)
        return [v for v in range(start + 1 if self.checkpoint is not None else 0, self.versions[-1]) if v not in present]


def read_log(table_dir: Path, *, since_ms: float | None = None) -> DeltaLog:
    """The commit entries of the Delta table at ``table_dir``. With ``since_ms``, reading stops
    (newest first) at the first commit older than it. A truncated, empty or unparsable entry
    is listed in ``damaged`` instead of raising."""
    log_dir = Path(table_dir) / LOG_DIR
    if not log_dir.is_dir():
        return DeltaLog(commits=(), damaged=(), versions=(), checkpoint=None)
    entries: list[tuple[int, Path]] = []
    checkpoint = None
    for p in log_dir.iterdir():
        stem = p.name.split(".", 1)[0]
        if not stem.isdigit():
            continue
        if p.name.endswith(".json"):
            entries.append((int(stem), p))
        elif ".checkpoint" in p.name:
            checkpoint = max(checkpoint or 0, int(stem))
    entries.sort()
    commits: list[Commit] = []
    damaged: list[DamagedEntry] = []
    for version, path in reversed(entries):
        try:
            commit = _parse_commit(version, path)
        except ValueError as exc:
            damaged.append(DamagedEntry(version=version, file=str(path), message=str(exc)))
            continue
        if since_ms is not None and commit.timestamp_ms < since_ms:
            break
        commits.append(commit)
    return DeltaLog(
        commits=tuple(reversed(commits)), damaged=tuple(reversed(damaged)),
        versions=tuple(v for v, _ in entries), checkpoint=checkpoint,
    )


def _parse_commit(version: int, path: Path) -> Commit:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot be read: {exc}") from None
    info: dict | None = None
    adds, removes = [], []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError("is empty")
    for n, line in enumerate(lines, 1):
        try:
            action = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {n} is not valid JSON ({exc.msg} at column {exc.colno}): the entry is truncated or corrupt") from None
        if not isinstance(action, dict):
            raise ValueError(f"line {n} is not a Delta action")  # noqa: TRY004 - a damaged entry, reported as such
        if "commitInfo" in action:
            info = action["commitInfo"] or {}
        elif "add" in action:
            a = action["add"]
            values = a.get("partitionValues") or {}
            adds.append(AddedFile(path=unquote(a["path"]), key=values.get(PARTITION_COLUMN, UNPARTITIONED_KEY) or UNPARTITIONED_KEY,
                                  rows=_num_records(a.get("stats")), size=a.get("size")))
        elif "remove" in action:
            removes.append(unquote(action["remove"]["path"]))
    info = info or {}
    return Commit(
        version=version, timestamp_ms=int(info.get("timestamp") or 0), run_id=info.get("weir.run_id"),
        code_version=info.get("weir.code_version"), operation=str(info.get("operation", "")),
        adds=tuple(adds), removes=tuple(removes),
    )


def _num_records(stats: Any) -> int | None:  # the add action's "stats": JSON text, or parsed JSON
    if not stats:
        return None
    try:
        value = json.loads(stats).get("numRecords") if isinstance(stats, str) else stats.get("numRecords")
    except (json.JSONDecodeError, AttributeError):
        return None
    return int(value) if value is not None else None


def footer_rows(path: Path) -> int | None:
    """Row count from a Parquet file's footer; None when the file is missing or unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException):
        return None


def file_rows(table_dir: Path, added: AddedFile) -> int | None:
    """Rows of a published file: the log's stats, else its Parquet footer."""
    return added.rows if added.rows is not None else footer_rows(Path(table_dir) / added.path)


class InputsAsOf:
    """The input versions a partition published at a given moment read, inferred from the Delta
    logs: for each upstream asset partition its newest version committed by then; for each
    landed source partition the fingerprint of its files, unless one of them changed since (the
    input is then left out, so the planner sees it changed). ``project_for(name)`` returns the
    loaded project, or None when it is not at hand (nothing is inferred for it)."""

    def __init__(self, project_for: Callable[[str], Project | None], table_for: Callable[[str, str], AssetTable]) -> None:
        self.project_for = project_for
        self.table_for = table_for
        self._projects: dict[str, Project | None] = {}
        self._resolvers: dict[str, InputResolver] = {}
        self._published: dict[tuple[str, str], dict[str, list[tuple[int, int]]]] = {}

    def __call__(self, project_name: str, asset_name: str, key: str, at_ms: int) -> dict | None:
        from weir.engine.inputs import InputResolver
        from weir.model.definitions import Source
        from weir.storage.sources import fingerprint

        project = self._project(project_name)
        asset = project.assets.get(asset_name) if project is not None else None
        if project is None or asset is None:
            return None
        resolver = self._resolvers.setdefault(project_name, InputResolver(project, {}))
        versions: dict[str, dict[str, object]] = {}
        for param, inp in asset.inputs.items():
            up = project.node(inp.upstream)
            seen = versions.setdefault(inp.upstream, {})
            for uk in resolver.upstream_keys(asset, param, inp, key):
                if isinstance(up, Source):
                    files = resolver.source_files(up, uk)
                    if files and all(os.stat(f).st_mtime_ns // 1_000_000 <= at_ms for f in files):
                        seen[uk] = fingerprint(files)
                else:
                    version = self._as_of(project_name, up.name, uk, at_ms)
                    if version is not None:
                        seen[uk] = version
        return versions

    def _project(self, name: str) -> Project | None:
        if name not in self._projects:
            try:
                self._projects[name] = self.project_for(name)
            except WeirError:  # a project that does not load: its inputs stay unknown
                self._projects[name] = None
        return self._projects[name]

    def _as_of(self, project: str, asset: str, key: str, at_ms: int) -> int | None:
        published = self._published.get((project, asset))
        if published is None:
            published = {}
            for commit in read_log(self.table_for(project, asset).path).commits:
                for f in commit.adds:
                    published.setdefault(f.key, []).append((commit.timestamp_ms, commit.version))
            self._published[(project, asset)] = published
        found = [v for ts, v in published.get(key, []) if ts <= at_ms]
        return max(found) if found else None


def reap_dead_runs(store: MetadataStore, table_for: Callable[[str, str], AssetTable], inputs: InputsOf | None = None) -> list[dict]:
    """Mark dead active runs failed. Delta commits a dead run made but never recorded (killed
    between the commit and the metadata write) are recorded, so data and metadata agree: the
    partition with its version, row count and input versions, its task ``succeeded`` with its
    output version. ``table_for(project, asset)`` returns the AssetTable; ``inputs`` (e.g. an
    InputsAsOf) infers what a recovered partition read when the run died before saying.
    Returns the runs closed."""
    closed = []
    with store.read():
        active = store.runs.active()
    for run in active:
        why = is_dead(run)
        if why is None:
            continue
        rows, tasks_done = _recovered_publishes(store, run, table_for, inputs)
        uris = {r["asset"]: table_for(run.project, r["asset"]).uri for r in rows}
        with store.transaction():
            current = store.partitions.current(run.project, sorted({r["asset"] for r in rows}))
            newest = [r for r in rows if (current.get((r["asset"], r["partition_key"])) or {}).get("version", -1) <= r["version"]]
            store.partitions.record_published(newest)
            store.partitions.record_versions([r for r in rows if r not in newest])
            store.runs.update_tasks(run.id, tasks_done)
            store.runs.unfinished_tasks_to(run.id, "failed", f"run died: {why}")
            counts = store.runs.task_counts(run.id)
            store.runs.update(
                run.id, state="failed", finished_at=time.time(), error=f"run died: {why}",
                summary={"counts": counts, "recovered_publishes": len(rows)},
            )
            store.emit(
                *(Event(kind=EventKind.PARTITION_PUBLISHED, project=r["project"], asset=r["asset"],
                        partition_key=r["partition_key"], run_id=r["run_id"],
                        data={"version": r["version"], "rows": r["row_count"], "state": "succeeded",
                              "code_version": r["code_version"], "inputs": r["input_versions"],
                              "table": uris[r["asset"]], "recovered": True})
                  for r in rows),
                Event(kind=EventKind.RUN_FINISHED, project=run.project, run_id=run.id,
                      data={"state": "failed", "counts": counts, "error": f"run died: {why}"}),
            )
        closed.append({**run.as_dict(), "error": why, "recovered_publishes": len(rows)})
    return closed


def _recovered_publishes(store: MetadataStore, run: RunRecord, table_for: Callable[[str, str], AssetTable], inputs: InputsOf | None) -> tuple[list[dict], list[dict]]:
    """Partition rows and task updates for the commits ``run`` made but never recorded."""
    with store.read():
        tasks = store.runs.tasks(run.id)
        recorded = store.partitions.published_by_run(run.project, run.id)
    since = (run.created_at or 0) * 1000 - CLOCK_SLACK_MS
    rows, done = [], []
    for asset in sorted({t.asset for t in tasks}):
        table: AssetTable = table_for(run.project, asset)
        task = {t.partition_key: t for t in tasks if t.asset == asset}
        for commit in reversed(read_log(table.path, since_ms=since).commits):
            if commit.run_id != run.id:
                continue
            for added in commit.adds:
                key = added.key
                if (asset, key) in recorded or key not in task:
                    continue
                recorded.add((asset, key))
                count = file_rows(table.path, added)
                read = task[key].input_versions
                if read is None and inputs is not None:
                    read = inputs(run.project, asset, key, commit.timestamp_ms)
                rows.append({
                    "project": run.project, "asset": asset, "partition_key": key, "version": commit.version,
                    "run_id": run.id, "code_version": task[key].code_version, "input_versions": read,
                    "row_count": count, "published_at": commit.timestamp_ms / 1000,
                })
                done.append({
                    "asset": asset, "partition_key": key, "state": "succeeded", "output_version": commit.version,
                    "row_count": count, "input_versions": read, "staged_path": added.path,
                    "finished_at": commit.timestamp_ms / 1000,
                })
    return rows, done
