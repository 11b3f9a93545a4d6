"""One asset = one Delta Lake table. Partitions are written staged (Parquet files in the table
folder that no commit references yet, so readers cannot see them), then published by one
atomic commit that adds the new files and removes the partition's old ones. Several
partitions publish in one commit when a backfill allows."""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from weir.errors import DataError, UnknownObjectError
from weir.model.partitions import UNPARTITIONED_KEY
from weir.storage.arrow import PARTITION_COLUMN, empty_columns, normalize

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction

STAGED_PREFIX = "staged-"
# Dictionary-encode a column chunk only while its dictionary stays small: low-cardinality columns
# keep it, high-cardinality ones (measures, ids, timestamps) fall back to plain early instead of
# building a dictionary as large as the data (Arrow's 1 MiB default). ~1/3 faster writes and
# smaller files on typical tables; readers see no difference.
DICTIONARY_PAGE_LIMIT = 128 * 1024
# Commits a publish tries while other writers of the table commit first (each retry reloads it).
PUBLISH_ATTEMPTS = 50


@dataclass(kw_only=True)
class StagedPartition:
    """A partition written but not yet visible: one Parquet file inside the table folder. The
    audit may conform the file to the table's column types (``conform``): the same path then
    holds the rewritten file, and this handle its new size and schema."""

    key: str
    path: str  # relative to the table root
    size: int
    rows: int
    schema: pa.Schema  # the columns it gives the table: not those without a value the table lacks
    modified_ms: int
    empty: tuple[str, ...] = ()  # columns without a single value (an empty delivery, a column all null)


@dataclass(frozen=True, kw_only=True)
class TableVersion:
    version: int
    timestamp_ms: int
    run_id: str | None
    partitions: tuple[str, ...]
    operation: str


# Characters a key keeps in its folder name: the Delta log does not encode them in a file's path
# and Hive-style readers (Polars, DuckDB) decode them as themselves.
_FOLDER_SAFE = frozenset("!$&'()+,-.:;@_~")


def partition_folder(key: str) -> str:
    """The folder of partition ``key`` in its table: ``partition_key=`` and the key, Hive-escaped:
    other ASCII characters than letters, digits and ``!$&'()+,-.:;@_~`` as ``%XX`` (non-ASCII
    kept), so Delta readers that take the key from the path (Polars, DuckDB, Spark) decode it
    exactly. Time keys and plain names keep their folder name as it is."""
    escaped = "".join(c if ord(c) >= 128 or c.isalnum() or c in _FOLDER_SAFE else f"%{ord(c):02X}" for c in key)
    return f"{PARTITION_COLUMN}={escaped}"


def stage(table_dir: str, key: str, data: pa.Table, *, run_id: str, table_schema: pa.Schema | None) -> StagedPartition:
    """Write ``data`` as the staged file of partition ``key``. Readers of the table do not see it.
    Columns take the table's type when they have no value or cast up to it safely (``normalize``)."""
    data = normalize(data, table_schema)
    folder = partition_folder(key) if key != UNPARTITIONED_KEY else ""
    name = f"{STAGED_PREFIX}{run_id}-{uuid.uuid4().hex[:12]}.parquet"
    rel = f"{folder}/{name}" if folder else name
    full = os.path.join(table_dir, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    pq.write_table(data, full, compression="zstd", dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT)
    st = os.stat(full)
    return StagedPartition(
        key=key, path=rel, size=st.st_size, rows=data.num_rows, schema=_given(data.schema, key),
        modified_ms=int(st.st_mtime * 1000), empty=empty_columns(data),
    )


def staged_file(table_dir: str, key: str, path: str) -> StagedPartition:
    """The handle of a file staged earlier in ``table_dir`` (a version held for approval), from
    its Parquet footer. Raises DataError when it is gone or cannot be read."""
    full = os.path.join(table_dir, path)
    try:
        meta = pq.read_metadata(full)
        st = os.stat(full)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read {full}: {exc}") from None
    schema = meta.schema.to_arrow_schema()
    return StagedPartition(key=key, path=path, size=st.st_size, rows=meta.num_rows, schema=_given(schema, key),
                           modified_ms=int(st.st_mtime * 1000),
                           empty=tuple(f.name for f in schema if pa.types.is_null(f.type)))


def _given(schema: pa.Schema, key: str) -> pa.Schema:
    """The columns a staged file gives its table. A column without a value that the table lacks
    is in the file (null-typed) but not yet in the table: it joins the table with the type of the
    first partition that has a value in it. (A table needs one column: an unpartitioned one
    without any value keeps them, as string.)"""
    given = pa.schema([f for f in schema if not pa.types.is_null(f.type)])
    if not len(given) and key == UNPARTITIONED_KEY and len(schema):
        given = pa.schema([pa.field(f.name, pa.string()) for f in schema])
    return given


def conform(table_dir: str, staged: StagedPartition, types: dict[str, pa.DataType]) -> None:
    """Rewrite ``staged``'s file (in place, atomically) with its columns cast to ``types`` where
    they differ, and update the handle. For casts that keep every value (``widens``): Polars, for
    one, refuses an integer file in a double column."""
    if all(types.get(f.name, f.type) == f.type for f in staged.schema):
        return
    full = os.path.join(table_dir, staged.path)
    data = pq.read_table(full)
    target = pa.schema([pa.field(f.name, types[f.name]) if f.name in types and not pa.types.is_null(f.type) else f
                        for f in data.schema])
    data = data.cast(target)
    partial = f"{full}.{uuid.uuid4().hex[:8]}.tmp"
    pq.write_table(data, partial, compression="zstd", dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT)
    os.replace(partial, full)
    st = os.stat(full)
    staged.size, staged.modified_ms, staged.schema = st.st_size, int(st.st_mtime * 1000), _given(target, staged.key)


class AssetTable:
    """The Delta table of one asset: publish staged partitions, list files, read versions."""

    def __init__(self, path: Path, *, partitioned: bool) -> None:
        self.path = Path(path)
        self.partitioned = partitioned
        self._table: DeltaTable | None = None

    @property
    def uri(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return (self.path / "_delta_log").is_dir()

    def _delta(self, version: int | None = None) -> DeltaTable:
        from deltalake import DeltaTable

        if version is not None:
            return DeltaTable(self.uri, version=version)
        if self._table is None:
            self._table = DeltaTable(self.uri)
        else:
            self._table.update_incremental()
        return self._table

    def schema(self) -> pa.Schema | None:
        """The table's data schema (without the partition column), or None before the first publish."""
        if not self.exists():
            return None
        full = pa.schema(self._delta().schema().to_arrow())
        return pa.schema([f for f in full if f.name != PARTITION_COLUMN])

    def version(self) -> int | None:
        return self._delta().version() if self.exists() else None

    def files(self, version: int | None = None) -> dict[str, list[str]]:
        """Published files per partition key (paths relative to the table folder, as on disk), at
        ``version`` or the latest."""
        if not self.exists():
            return {}
        actions = pa.table(self._delta(version).get_add_actions(flatten=True))
        paths = disk_paths(actions)
        if self.partitioned:
            keys = actions.column(f"partition.{PARTITION_COLUMN}").to_pylist()
        else:
            keys = [UNPARTITIONED_KEY] * len(paths)
        out: dict[str, list[str]] = {}
        for k, p in zip(keys, paths):
            out.setdefault(k, []).append(p)
        return out

    def publish(
        self,
        staged: list[StagedPartition],
        *,
        replaced: dict[str, list[str]] | None = None,
        run_id: str,
        metadata: dict | None = None,
    ) -> int:
        """Atomically make ``staged`` the published content of their partitions; returns the
        Delta version of the commit.

        The commit removes every file those partitions have in the snapshot it is made against,
        whoever published them: when another writer commits first the commit fails, the table
        is reloaded and the removes are computed again, so a partition never holds two published
        versions. ``replaced`` is not needed any more and is ignored. Raises DataError when
        other writers keep winning for ``PUBLISH_ATTEMPTS`` tries."""
        from deltalake.exceptions import DeltaError, TableNotFoundError

        if not staged:
            raise ValueError("nothing to publish")
        merged = _merge_schemas([s.schema for s in staged])
        custom = {"weir.run_id": run_id, "weir.partitions": [s.key for s in staged], **(metadata or {})}
        for attempt in range(PUBLISH_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0.01, 0.05) * min(attempt, 10))  # let the winner finish; no lockstep
            try:
                try:
                    table = self._delta() if self.exists() else None
                except TableNotFoundError:  # a log folder without a first commit yet
                    table = None
                if table is None:
                    return self._create(staged, merged, custom)
                return self._commit(table, staged, merged, custom)
            except DeltaError as exc:
                if not _is_conflict(exc):
                    raise
                self._table = None  # reload: another writer created or changed the table
        raise DataError(
            f"publishing {len(staged)} partition(s) to {self.uri} lost to other writers of the table {PUBLISH_ATTEMPTS} times"
        )

    def _adds(self, staged: list[StagedPartition]) -> list[AddAction]:
        from deltalake.transaction import AddAction

        return [
            AddAction(
                path=s.path,
                size=s.size,
                partition_values={PARTITION_COLUMN: s.key} if self.partitioned else {},
                modification_time=s.modified_ms,
                data_change=True,
                stats=json.dumps({"numRecords": s.rows}),
            )
            for s in staged
        ]

    def _create(self, staged: list[StagedPartition], merged: pa.Schema, custom: dict) -> int:
        """The first commit of the table (version 0); fails if another writer made it first."""
        from deltalake import Schema
        from deltalake.transaction import CommitProperties, create_table_with_add_actions

        self.path.mkdir(parents=True, exist_ok=True)
        create_table_with_add_actions(
            self.uri,
            Schema.from_arrow(_with_partition_column(merged, self.partitioned)),
            self._adds(staged),
            mode="error",
            partition_by=[PARTITION_COLUMN] if self.partitioned else None,
            commit_properties=CommitProperties(custom_metadata=custom, max_commit_retries=0),
        )
        self._table = None
        return 0

    def _commit(self, table: DeltaTable, staged: list[StagedPartition], merged: pa.Schema, custom: dict) -> int:
        """One commit against the newest snapshot: add ``staged``, remove what their partitions
        hold in it. No retry inside delta-rs: its rebase would let two adds of one partition both in."""
        from deltalake.schema import Field
        from deltalake.transaction import CommitProperties, RemoveAction

        current = _data_schema(table)
        added = [f for f in merged if current.get_field_index(f.name) < 0]
        if added:
            table.alter.add_columns([Field.from_arrow(pa.field(f.name, f.type, nullable=True)) for f in added])
            table.update_incremental()
            current = _data_schema(table)
        read_version = table.version()
        keys = {s.key for s in staged}
        now = int(time.time() * 1000)
        removes = [
            RemoveAction(path=path, data_change=True, deletion_timestamp=now, size=size,
                         partition_values={PARTITION_COLUMN: key} if self.partitioned else None)
            for key, path, size in _snapshot_files(table, self.partitioned)
            if key in keys
        ]
        table.create_write_transaction(
            self._adds(staged) + removes,
            mode="append",
            schema=_with_partition_column(current, self.partitioned),
            partition_by=[PARTITION_COLUMN] if self.partitioned else None,
            commit_properties=CommitProperties(custom_metadata=custom, max_commit_retries=0),
        )
        table.update_incremental()
        return read_version + 1  # with no retry the commit can only be the next version

    def read(self, keys: Iterable[str] | None = None, *, version: int | None = None, columns: list[str] | None = None) -> pa.Table:
        """Published data of ``keys`` (all when None) at ``version`` (latest when None)."""
        if not self.exists():
            raise UnknownObjectError(f"no published data in {self.uri}")
        files = self.files(version)
        wanted = list(files) if keys is None else list(keys)
        paths = [(k, p) for k in wanted for p in files.get(k, [])]
        schema = self.schema() if version is None else _data_schema(self._delta(version))
        return read_files(self.uri, paths, schema, columns=columns)

    def history(self, limit: int | None = None) -> list[TableVersion]:
        """Commits of this table, newest first, with the run and partitions each published."""
        if not self.exists():
            return []
        out = []
        for h in self._delta().history(limit):
            parts = h.get("weir.partitions") or []
            if isinstance(parts, str):
                parts = json.loads(parts)
            out.append(
                TableVersion(
                    version=int(h["version"]),
                    timestamp_ms=int(h.get("timestamp", 0)),
                    run_id=h.get("weir.run_id"),
                    partitions=tuple(parts),
                    operation=str(h.get("operation", "")),
                )
            )
        return out


def read_files(table_dir: str, paths: list[tuple[str, str]], schema: pa.Schema | None, *, columns: list[str] | None = None) -> pa.Table:
    """Read published Parquet files as one Arrow table in ``schema`` (missing columns are null)."""
    if not paths:
        empty = schema or pa.schema([])
        return empty.empty_table() if columns is None else empty.empty_table().select(columns)
    tables = []
    for _, rel in paths:
        full = os.path.join(table_dir, rel)
        try:
            t = pq.read_table(full, columns=_present(full, columns) if columns else None)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"cannot read {full}: {exc}") from None
        tables.append(t)
    out = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    if schema is not None:
        target = schema if columns is None else pa.schema([schema.field(c) for c in columns if schema.get_field_index(c) >= 0])
        missing = [f for f in target if f.name not in out.column_names]
        for f in missing:
            out = out.append_column(f.name, pa.nulls(out.num_rows, f.type))
        if out.schema != target:
            out = out.select(target.names).cast(target)
    return out


def _present(full: str, columns: list[str]) -> list[str]:
    names = set(pq.read_schema(full).names)
    return [c for c in columns if c in names]


def _data_schema(table: DeltaTable) -> pa.Schema:
    full = pa.schema(table.schema().to_arrow())
    return pa.schema([f for f in full if f.name != PARTITION_COLUMN])


def _merge_schemas(schemas: list[pa.Schema]) -> pa.Schema:
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"partitions of one publish disagree on their schema: {exc}") from None


def _with_partition_column(schema: pa.Schema, partitioned: bool) -> pa.Schema:
    return schema.append(pa.field(PARTITION_COLUMN, pa.string())) if partitioned else schema


def disk_paths(actions: pa.Table) -> list[str]:
    """The paths of a snapshot's add actions as they are on disk, relative to the table folder:
    the log holds them URI-encoded (a key with a space or a % is escaped twice there)."""
    return [unquote(p) for p in actions.column("path").to_pylist()]


def _snapshot_files(table: DeltaTable, partitioned: bool) -> list[tuple[str, str, int]]:
    """(partition key, path, size) of every file in ``table``'s loaded snapshot."""
    actions = pa.table(table.get_add_actions(flatten=True))
    paths = disk_paths(actions)
    sizes = actions.column("size_bytes").to_pylist()
    keys = actions.column(f"partition.{PARTITION_COLUMN}").to_pylist() if partitioned else [UNPARTITIONED_KEY] * len(paths)
    return list(zip(keys, paths, sizes))


def _is_conflict(exc: Exception) -> bool:
    """A commit lost to another writer (or a table created by one meanwhile): worth a retry."""
    from deltalake.exceptions import CommitFailedError

    if isinstance(exc, CommitFailedError):
        return True
    text = str(exc).lower()
    return any(m in text for m in ("already exists", "version already", "failed to commit"))
