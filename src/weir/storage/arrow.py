"""Arrow normalization so any frame users return becomes a valid Delta table schema."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from weir.errors import DataError

PARTITION_COLUMN = "partition_key"


def _delta_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _delta_type(t.value_type)
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_uint8(t):
        return pa.int16()
    if pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return pa.string() if pa.types.is_time(t) else pa.int64()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(_delta_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _delta_type(f.type)) for f in t])
    return t


def normalize(table: pa.Table, target: pa.Schema | None = None) -> pa.Table:
    """Cast to Delta-compatible types and align with ``target`` (the table's schema): a column
    without a single value takes the table's type (the null type while the table has none, so
    that it takes the type of the partitions it is published with, unless the partition has no
    rows at all: then its columns keep the types they were declared with, so that an empty first
    delivery still gives the table its columns); a column that casts up safely
    to the table's type (see ``widens``) is cast. Other differences are left for the audit to judge.

    Raises DataError naming the column when a value cannot become its type, and for a column
    named ``partition_key`` (the partition column: weir reserves the name).
    """
    if PARTITION_COLUMN in table.column_names:
        raise DataError(f"column {PARTITION_COLUMN!r} is reserved for the partition key; rename it")
    names = table.column_names
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"duplicate column names {dup}")
    fields, columns = [], []
    for name, column in zip(names, table.columns):
        want = _delta_type(column.type)
        table_type = target.field(name).type if target is not None and target.get_field_index(name) >= 0 else None
        if column.null_count == len(column):
            if table_type is not None:
                want = table_type
            elif len(column) or pa.types.is_null(want):
                want = pa.null()
            # else a partition without rows: its types were declared (a contract, a query), not read from values
            column = pa.chunked_array([pa.nulls(len(column), want)], type=want)
        elif table_type is not None and table_type != want and widens(want, table_type):
            want = table_type
        if want != column.type:
            try:
                if pa.types.is_time(column.type):
                    column = pc.cast(column, pa.string())
                elif pa.types.is_duration(column.type):
                    column = pc.cast(column, pa.int64())
                else:
                    column = column.cast(want)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(f"column {name!r} cannot be stored as {want}: {exc}") from None
        fields.append(pa.field(name, want))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def empty_columns(table: pa.Table) -> tuple[str, ...]:
    """Columns without a single value (every one when the table has no rows)."""
    return tuple(n for n, c in zip(table.column_names, table.columns) if c.null_count == len(c))


_INTEGERS = (pa.int8(), pa.int16(), pa.int32(), pa.int64())


def widens(have: pa.DataType, table: pa.DataType) -> bool:
    """Whether values of type ``have`` cast safely up to ``table``: a wider integer, a float from
    an integer, double from float."""
    if have in _INTEGERS and table in _INTEGERS:
        return _INTEGERS.index(have) < _INTEGERS.index(table)
    if pa.types.is_integer(have) and pa.types.is_floating(table):
        return True
    return have == pa.float32() and table == pa.float64()


def to_arrow(result: object, what: str) -> pa.Table:
    """Turn what a user function returned (pandas, Polars, Arrow, DuckDB relation) into Arrow."""
    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    module = type(result).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(result, pd.Series):
            result = result.to_frame()
        if isinstance(result, pd.DataFrame):
            frame = result
            if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
                frame = frame.reset_index()
            return pa.Table.from_pandas(frame, preserve_index=False)
    if module == "polars":
        import polars as pl

        if isinstance(result, pl.LazyFrame):
            result = result.collect()
        if isinstance(result, pl.DataFrame):
            return result.to_arrow()
    if module in ("duckdb", "_duckdb") and hasattr(result, "to_arrow_table"):
        return result.to_arrow_table()
    if hasattr(result, "__arrow_c_stream__"):
        return pa.table(result)
    raise DataError(f"{what} returned {type(result).__name__}; return a pandas or Polars DataFrame or an Arrow table")


def from_arrow(table: pa.Table, frame: str) -> object:
    """Hand Arrow data to user code as the frame kind it asked for."""
    if frame == "arrow":
        return table
    if frame == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table.to_pandas()
