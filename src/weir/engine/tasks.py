"""One unit of work: build one partition of one asset, up to its staged file.

A ``TaskSpec`` is plain data so it can cross into a worker process; the worker looks the asset
up in its own copy of the project and never touches the metadata store."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from weir.errors import DataError
from weir.model.definitions import Asset
from weir.storage.arrow import PARTITION_COLUMN, from_arrow, to_arrow
from weir.storage.delta import StagedPartition, read_files, stage
from weir.storage.sources import read_source_files


@dataclass(frozen=True, kw_only=True)
class InputSpec:
    """Where one parameter's data lives: published files of an asset, or landed source files."""

    param: str
    upstream: str
    kind: str  # "asset" | "source" | "model"
    frame: str
    files: tuple[tuple[str, str], ...]  # (partition key, path)
    table_dir: str = ""
    schema: pa.Schema | None = None
    format: str = ""
    options: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)  # a source's contract: declared columns and types
    empty_is_none: bool = False


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    project_root: str
    asset: str
    key: str
    start: datetime | None
    end: datetime | None
    run_id: str
    table_dir: str
    table_schema: pa.Schema | None
    inputs: tuple[InputSpec, ...]
    attempts: int = 1
    backoff: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    asset: str
    key: str
    staged: StagedPartition | None
    attempts: int
    seconds: float
    compute_seconds: float
    started_at: float
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.staged is not None


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What a running asset function may ask about its build (parameter ``context``)."""

    asset: str
    partition_key: str
    start: datetime | None
    end: datetime | None
    run_id: str
    attempt: int
    log: logging.Logger


def _load_input(spec: InputSpec) -> object:
    if spec.empty_is_none and not spec.files:
        return None  # a lookback before the first partition
    if spec.kind == "model":
        from weir.storage.models import load_model

        return load_model(spec.table_dir, read_files(spec.table_dir, list(spec.files), spec.schema), what=spec.upstream)
    if spec.kind == "source":
        table = read_source_files(
            [p for _, p in spec.files], spec.format, spec.options, what=spec.upstream, columns=spec.columns
        )
    else:
        table = read_files(spec.table_dir, list(spec.files), spec.schema)
    return from_arrow(table, spec.frame)


def _compute(asset: Asset, spec: TaskSpec, attempt: int) -> pa.Table:
    if asset.sql is not None:
        from weir.compute.sql import run_sql

        tables = {}
        for inp in spec.inputs:
            loaded = _load_input(InputSpec(**{**inp.__dict__, "frame": "arrow", "empty_is_none": False}))
            tables[inp.upstream] = loaded
        params = {
            "partition_key": spec.key,
            "partition_start": spec.start,
            "partition_end": spec.end,
            "run_id": spec.run_id,
        }
        return run_sql(asset.sql, tables, params)
    kwargs = {inp.param: _load_input(inp) for inp in spec.inputs}
    if asset.wants_context:
        kwargs["context"] = BuildContext(
            asset=asset.name,
            partition_key=spec.key,
            start=spec.start,
            end=spec.end,
            run_id=spec.run_id,
            attempt=attempt,
            log=logging.getLogger(f"weir.asset.{asset.name}"),
        )
    assert asset.fn is not None
    result = asset.fn(**kwargs)
    if asset.model is not None:
        from weir.storage.models import save_model

        trained_on = {inp.upstream: sorted({k for k, _ in inp.files}) for inp in spec.inputs if inp.kind != "model"}
        return save_model(spec.table_dir, result, asset, run_id=spec.run_id, key=spec.key, trained_on=trained_on)
    if result is None:
        raise ValueError(f"asset {asset.name!r} returned None for partition {spec.key!r}; return a DataFrame or Arrow table")
    return to_arrow(result, f"asset {asset.name!r}")


def _reserved(asset: Asset, data: pa.Table) -> None:
    if PARTITION_COLUMN in data.column_names:
        raise DataError(
            f"asset {asset.name!r} returned a column named {PARTITION_COLUMN!r}, which weir reserves for the "
            f"partition key (each partition's key is stored with it); rename the column"
        )


def execute(asset: Asset, spec: TaskSpec) -> TaskOutcome:
    """Read inputs, compute, stage; retried per the asset's policy. Never raises for user errors."""
    started = time.time()
    t0 = time.perf_counter()
    compute = 0.0
    error = tb = None
    attempt = 0
    for attempt in range(1, spec.attempts + 1):
        if attempt > 1 and spec.backoff:
            time.sleep(spec.backoff * 2 ** (attempt - 2))
        try:
            c0 = time.perf_counter()
            data = _compute(asset, spec, attempt)
            compute += time.perf_counter() - c0
            _reserved(asset, data)
            staged = stage(spec.table_dir, spec.key, data, run_id=spec.run_id, table_schema=spec.table_schema)
            return TaskOutcome(
                asset=spec.asset,
                key=spec.key,
                staged=staged,
                attempts=attempt,
                seconds=time.perf_counter() - t0,
                compute_seconds=compute,
                started_at=started,
            )
        except Exception as exc:  # noqa: BLE001 - user code may raise anything; it is recorded, not fatal
            compute += time.perf_counter() - c0
            error = f"{type(exc).__name__}: {exc}"
            tb = traceback.format_exc()
    return TaskOutcome(
        asset=spec.asset,
        key=spec.key,
        staged=None,
        attempts=attempt,
        seconds=time.perf_counter() - t0,
        compute_seconds=compute,
        started_at=started,
        error=error,
        traceback=tb,
    )
