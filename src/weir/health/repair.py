"""``weir doctor --repair``: make the metadata store agree with the Delta logs.

The logs are the truth about what is published. Repair closes dead runs (recording what they
committed), sets aside a damaged newest log entry (the table reads as its last intact version),
and rebuilds each published partition's row from the commit that published it: version, run
id, code version (``weir.code_version`` in the commit info), row count (add stats, else Parquet
footers) and, when the project is at hand, the input versions it read. A missing or unreadable
data file is not repaired here: only a rebuild can prove its content, and doctor names it.
Repair emits no events: nothing it records happened now, and consumers must not see a publish
twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from weir.engine.heartbeat import is_dead
from weir.engine.recovery import InputsAsOf, footer_rows, reap_dead_runs
from weir.errors import UsageError
from weir.health.doctor import TableState, check_files, doctor, read_table
from weir.health.report import RepairAction, RepairActionKind, RepairReport
from weir.health.tables import (
    UNKNOWN_CODE_VERSION,
    TableRef,
    data_root,
    is_partitioned,
    staged_run_id,
    workspace_tables,
)
from weir.storage.delta import AssetTable
from weir.store.store import MetadataStore

if TYPE_CHECKING:
    from weir.project.graph import Project

SET_ASIDE_DIR = "_damaged_log"  # inside the table folder; Delta and vacuum ignore names starting with _


def repair(
    home: Path, store: MetadataStore, *, project_for: Callable[[str], Project | None] | None = None,
    project: str | None = None,
) -> RepairReport:
    """Repair what the logs can prove, then check again. ``project_for(name)`` returns a loaded
    project (or None); with it, rebuilt rows carry the input versions their partitions read, so
    ``weir run --stale`` plans nothing that is up to date. Raises UsageError while a run is
    alive. Returns the actions taken and doctor's report afterwards."""
    home = Path(home)
    with store.read():
        alive = [r for r in store.runs.active() if is_dead(r) is None]
    if alive:
        r = alive[0]
        raise UsageError(f"run {r.id} is in progress (pid {r.pid} on {r.host}); repair once it has finished")

    def table_for(project_name: str, asset: str) -> AssetTable:
        path = data_root(home) / project_name / asset
        return AssetTable(path, partitioned=is_partitioned(path))

    inputs = InputsAsOf(project_for, table_for) if project_for is not None else None
    actions: list[RepairAction] = []
    for run in reap_dead_runs(store, table_for, inputs):
        actions.append(RepairAction(
            action=RepairActionKind.CLOSED_RUN, project=run["project"],
            message=f"run {run['id']} marked failed ({run['error']}); {run['recovered_publishes']} publish(es) it had not recorded are recorded now",
        ))
    refs = workspace_tables(home)
    for ref in refs:
        actions += _set_aside_damaged_newest(ref)
    seen = set()
    for ref in refs:
        seen.add((ref.project, ref.asset))
        state = read_table(ref)
        if state.readable:
            actions += _rebuild_metadata(store, state, inputs)
        elif not state.log.versions:
            actions += _forget(store, ref.project, ref.asset, None, "the table was never committed")
            actions += _forget_lost_versions(store, ref.project, ref.asset, -1)
    with store.read():
        recorded = {(p, a) for p in store.partitions.projects() for (a, _k) in store.partitions.current(p)}
    for proj, asset in sorted(recorded - seen):
        if (data_root(home) / proj).is_dir():  # no folder for the whole project: another disk, not lost data
            actions += _forget(store, proj, asset, None, "its table folder is missing")
    return RepairReport(actions=tuple(actions), after=doctor(home, store, project=project))


def _set_aside_damaged_newest(ref: TableRef) -> list[RepairAction]:
    """A damaged entry that is the table's newest commit is moved out of the log: no later
    commit builds on it, and the table reads as its last intact version again. Its data files
    stay on disk, unreferenced; an older damaged entry is left for a backup to restore."""
    state = read_table(ref)
    newest = state.log.newest
    damaged = [d for d in state.log.damaged if d.version == newest]
    if not damaged:
        return []
    d = damaged[0]
    target = ref.path / SET_ASIDE_DIR
    target.mkdir(exist_ok=True)
    source = Path(d.file)
    moved = target / f"{source.name}.{int(time.time())}"
    source.rename(moved)
    if not any(source.parent.iterdir()):  # it was the first commit: the next publish creates the table anew
        source.parent.rmdir()
    return [RepairAction(
        action=RepairActionKind.SET_ASIDE_COMMIT, project=ref.project, asset=ref.asset,
        message=f"damaged newest log entry {source.name} ({d.message}) moved to {moved}; {ref.asset!r} reads as version {newest - 1} again"
        if newest else f"damaged log entry {source.name} moved to {moved}; {ref.asset!r} has no version left",
    )]


def _rebuild_metadata(store: MetadataStore, state: TableState, inputs: InputsAsOf | None) -> list[RepairAction]:
    """Upsert each partition's row from the log where the store lacks it or disagrees, drop rows
    of partitions the table no longer has, or whose data file is missing or unreadable (no
    longer published as far as readers go: ``weir status`` counts them missing and
    ``weir run --stale`` rebuilds them), and add the log's versions to the history."""
    ref = state.ref
    actions = []
    damaged = {f.partition: f.message for f in check_files(state)}
    with store.read():
        current = {k: r for (a, k), r in store.partitions.current(ref.project, [ref.asset]).items() if a == ref.asset}
        history = store.partitions.versions(ref.project, ref.asset)
        runs = {lp.run_id: store.runs.tasks(lp.run_id) for lp in state.logged.values()}
    rows = []
    for key, lp in sorted(state.logged.items()):
        if key in damaged:
            continue
        row = current.get(key)
        task = next((t for t in runs.get(lp.run_id, []) if t.asset == ref.asset and t.partition_key == key), None)
        code = lp.code_version if lp.code_version != UNKNOWN_CODE_VERSION else (task.code_version if task else None) or UNKNOWN_CODE_VERSION
        if row is not None and (not lp.version_known or row["version"] == lp.version) and row["run_id"] == lp.run_id \
                and row["code_version"] == code and (lp.rows is None or row["row_count"] == lp.rows):
            continue
        if not lp.version_known and row is not None and row["version"] >= lp.version:
            continue  # the store knows better than a log whose entry is gone
        read = None
        if row is not None and row["version"] == lp.version and row["input_versions"] is not None:
            read = row["input_versions"]
        elif task is not None and task.input_versions is not None:
            read = task.input_versions
        elif inputs is not None:
            read = inputs(ref.project, ref.asset, key, int(lp.published_at * 1000))
        rows.append({
            "project": ref.project, "asset": ref.asset, "partition_key": key, "version": lp.version,
            "run_id": lp.run_id, "code_version": code, "input_versions": read, "row_count": lp.rows,
            "published_at": lp.published_at,
        })
        part = f"partition {key!r} of {ref.asset!r}" if key else repr(ref.asset)
        if row is None:
            actions.append(RepairAction(action=RepairActionKind.RECORDED_PARTITION, project=ref.project, asset=ref.asset,
                                        partition=key, message=f"{part} recorded from the log: version {lp.version}, {lp.rows} rows, run {lp.run_id}"))
        else:
            actions.append(RepairAction(action=RepairActionKind.CORRECTED_PARTITION, project=ref.project, asset=ref.asset,
                                        partition=key, message=f"{part} set from the log: version {lp.version}, {lp.rows} rows, run {lp.run_id}"))
    recorded = {(r["partition_key"], r["version"]) for r in rows}
    older = []
    for commit in state.log.commits:
        for f in commit.adds:
            if (f.key, commit.version) in history or (f.key, commit.version) in recorded:
                continue
            recorded.add((f.key, commit.version))
            older.append({
                "project": ref.project, "asset": ref.asset, "partition_key": f.key, "version": commit.version,
                "run_id": commit.run_id or staged_run_id(Path(f.path).name) or "unknown",
                "code_version": commit.code_version or UNKNOWN_CODE_VERSION,
                "row_count": f.rows if f.rows is not None else footer_rows(ref.path / f.path),
                "published_at": commit.timestamp_ms / 1000,
            })
    gone = sorted(set(current) - set(state.logged))
    unreadable = sorted(set(current) & set(damaged))
    assert state.snapshot is not None
    newest = state.snapshot.version
    actions += _forget_lost_versions(store, ref.project, ref.asset, newest)
    with store.transaction():
        store.partitions.set_current(rows)
        store.partitions.record_versions([r for r in rows if (r["partition_key"], r["version"]) not in history] + older)
        store.partitions.forget(ref.project, ref.asset, gone + unreadable)
    if older:
        actions.append(RepairAction(action=RepairActionKind.RECORDED_HISTORY, project=ref.project, asset=ref.asset,
                                    message=f"{len(older)} earlier version(s) of {ref.asset!r}'s partitions added to their history from the log"))
    for key in gone:
        actions.append(RepairAction(action=RepairActionKind.FORGOT_PARTITION, project=ref.project, asset=ref.asset, partition=key,
                                    message=f"partition {key!r} of {ref.asset!r} is not in the table's current version: no longer listed as published"))
    for key in unreadable:
        part = f"partition {key!r} of {ref.asset!r}" if key else repr(ref.asset)
        actions.append(RepairAction(action=RepairActionKind.FORGOT_PARTITION, project=ref.project, asset=ref.asset, partition=key,
                                    message=f"{damaged[key]}: {part} no longer listed as published, so 'weir run --stale' rebuilds it"))
    return actions


def _forget_lost_versions(store: MetadataStore, project: str, asset: str, newest: int) -> list[RepairAction]:
    """Versions above the table's newest (-1: it has none) were set aside with a damaged entry:
    they leave the history too, before the table's next commit takes their number again."""
    with store.transaction():
        lost = store.partitions.forget_versions(project, asset, after=newest)
    if not lost:
        return []
    versions = sorted({n for _, n in lost})
    now = f"its newest version is {newest}" if newest >= 0 else "it has no version left"
    return [RepairAction(
        action=RepairActionKind.FORGOT_HISTORY, project=project, asset=asset,
        message=f"version {', '.join(map(str, versions))} of {asset!r} dropped from the history of {len(lost)} "
                f"partition(s): the table no longer has it ({now})")]


def _forget(store: MetadataStore, project: str, asset: str, keys: list[str] | None, why: str) -> list[RepairAction]:
    with store.read():
        rows = [k for (a, k) in store.partitions.current(project, [asset]) if a == asset]
    keys = rows if keys is None else keys
    if not keys:
        return []
    with store.transaction():
        store.partitions.forget(project, asset, keys)
    return [RepairAction(action=RepairActionKind.FORGOT_PARTITION, project=project, asset=asset, partition=k,
                         message=f"partition {k!r} of {asset!r} no longer listed as published: {why}") for k in keys]
