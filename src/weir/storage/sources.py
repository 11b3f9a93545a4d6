"""Sources: files landing in a folder, one file (or glob) per partition."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from weir.errors import DataError
from weir.model.definitions import Source
from weir.model.partitions import TimeScheme

if TYPE_CHECKING:
    import polars as pl


def source_pattern(source: Source, root: Path, key: str) -> str:
    """The glob pattern of partition ``key``'s files; the key matches only itself ('?', '*' or
    '[' in a key are not wildcards)."""
    start = source.partitions.window(key)[0] if isinstance(source.partitions, TimeScheme) else datetime.min
    try:
        rel = source.path.format(partition=glob.escape(key), start=start)
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError(f"source {source.name!r}: path template {source.path!r} is invalid: {exc}") from None
    return str(root / rel)


def source_files(source: Source, root: Path, key: str) -> list[str]:
    """Files landed for partition ``key``, sorted; empty when it has not arrived."""
    pattern = source_pattern(source, root, key)
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


def fingerprint(paths: list[str]) -> str:
    """A version for landed files: changes when a file is replaced, grows or is touched."""
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.basename(p)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return "f:" + h.hexdigest()[:12]


MALFORMED_SAMPLE = 5
THREADED_CSV_BYTES = 64 << 20  # smaller files are parsed on one thread, which keeps line numbers


@dataclass(kw_only=True)
class SourceRead:
    """Landed rows after the source's contract: malformed rows are counted, sampled and dropped."""

    table: pa.Table
    rows: int  # rows read, malformed ones included
    malformed: int = 0
    sample: list[dict] = field(default_factory=list)  # {"file", "line", "column", "value", "reason"}
    skipped: dict[str, list[int]] = field(default_factory=dict)  # path -> file lines of rows with the wrong width

    @property
    def malformed_fraction(self) -> float:
        return self.malformed / self.rows if self.rows else 0.0

    def note(self, **row: object) -> None:
        self.malformed += 1
        if len(self.sample) < MALFORMED_SAMPLE:
            self.sample.append(row)


def read_source(paths: list[str], fmt: str, options: dict, *, what: str, columns: Mapping[str, str] | None = None) -> SourceRead:
    """Read landed files as one Arrow table. Rows with the wrong number of fields, and (with a
    contract) values that do not parse as their declared type, are malformed: counted, sampled
    with file and line, and left out. A file that cannot be read at all, or lacks a declared
    column, raises DataError naming it."""
    out = SourceRead(table=pa.table({}), rows=0)
    tables = []
    for p in paths:
        try:
            table = _read_one(p, fmt, options, out, declared=columns or {})
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            raise DataError(f"source {what!r}: cannot read {p}: {str(exc).splitlines()[0]}") from None
        if columns:
            missing = [c for c in columns if c not in table.column_names]
            if missing:
                raise DataError(f"source {what!r}: {p} has no column {missing[0]!r} (it has: {', '.join(table.column_names)})")
            table = _apply_contract(table, columns, p, out, options)
        tables.append(table)
    if not tables:
        return out
    if len(tables) == 1:
        out.table = tables[0]
    else:
        try:
            out.table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"source {what!r}: files disagree on their schema: {exc}") from None
    return out


def read_source_files(paths: list[str], fmt: str, options: dict, *, what: str, columns: Mapping[str, str] | None = None) -> pa.Table:
    return read_source(paths, fmt, options, what=what, columns=columns).table


def _read_one(path: str, fmt: str, options: dict, out: SourceRead, declared: Mapping[str, str]) -> pa.Table:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        out.rows += table.num_rows
        return table
    if fmt == "jsonl":
        if declared:  # a value of the wrong JSON type is a malformed row, not an unreadable file
            import polars as pl

            try:
                table = pl.read_ndjson(path, infer_schema_length=None).to_arrow()
            except pl.exceptions.PolarsError as exc:
                raise ValueError(str(exc)) from None
            out.rows += table.num_rows
            return table
        import pyarrow.json as pj

        table = pj.read_json(path)
        out.rows += table.num_rows
        return table
    import pyarrow.csv as pc

    column_types = {k: pa.type_for_alias(v) for k, v in (options.get("column_types") or {}).items()}
    column_types.update({c: pa.string() for c in declared})  # parsed by the contract, value by value
    convert = pc.ConvertOptions(
        column_types=column_types or None,
        null_values=options.get("null_values", ["", "NA", "NULL", "null", "NaN"]),
        strings_can_be_null=True,
    )

    def wrong_width(row: pc.InvalidRow) -> str:
        out.rows += 1
        if row.number is not None:
            out.skipped.setdefault(path, []).append(row.number)
        out.note(file=os.path.basename(path), line=row.number, column=None, value=row.text[:200],
                 reason=f"{row.actual_columns} fields, expected {row.expected_columns}")
        return "skip"

    parse = pc.ParseOptions(delimiter=options.get("delimiter", ","), invalid_row_handler=wrong_width)
    threaded = os.path.getsize(path) > THREADED_CSV_BYTES
    table = pc.read_csv(path, read_options=pc.ReadOptions(use_threads=threaded), parse_options=parse, convert_options=convert)
    out.rows += table.num_rows
    return table


_POLARS_TYPES = {"int": "Int64", "float": "Float64", "string": "String", "bool": "Boolean", "timestamp": "Datetime", "date": "Date"}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")
ISO_AWARE = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%d %H:%M%:z")


def _timestamps(raw: pl.Series, formats: str | Iterable[str] | None) -> pl.Series:
    """Parse text as timestamps value by value: ISO 8601 (a 'Z' or an offset makes the column
    UTC; naive values are then taken as UTC), or the source's ``timestamp_format`` option
    (strftime, one or a list). Day/month order is never guessed."""
    import polars as pl

    text = raw.str.strip_chars().str.replace(r"Z$", "+00:00")
    if formats:
        formats = [formats] if isinstance(formats, str) else list(formats)
        return pl.select(pl.coalesce([pl.lit(text).str.to_datetime(f, strict=False, time_unit="us") for f in formats])).to_series()
    naive = pl.select(pl.coalesce([pl.lit(text).str.to_datetime(f, strict=False, time_unit="us") for f in ISO_NAIVE])).to_series()
    aware = pl.select(pl.coalesce(
        [pl.lit(text).str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC") for f in ISO_AWARE]
    )).to_series()
    if aware.is_null().all():
        return naive.alias(raw.name)
    return pl.select(pl.coalesce([pl.lit(aware), pl.lit(naive).dt.replace_time_zone("UTC")])).to_series().alias(raw.name)


def _dates(raw: pl.Series, formats: str | Iterable[str] | None) -> pl.Series:
    """Parse text as dates: ISO (YYYY-MM-DD) or the source's ``date_format`` option."""
    import polars as pl

    formats = [formats] if isinstance(formats, str) else list(formats or ["%Y-%m-%d"])
    text = raw.str.strip_chars()
    return pl.select(pl.coalesce([pl.lit(text).str.to_date(f, strict=False) for f in formats])).to_series().alias(raw.name)


def _apply_contract(table: pa.Table, columns: Mapping[str, str], path: str, out: SourceRead, options: Mapping | None = None) -> pa.Table:
    """Cast declared columns value by value; rows with a value that does not parse are dropped."""
    import polars as pl

    from weir.model.checks import type_family

    options = options or {}
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    bad = pl.Series("bad", [False] * frame.height, dtype=pl.Boolean)
    casts = {}
    for col, want in columns.items():
        fam = type_family(want)
        raw = frame[col]
        if fam == "timestamp":
            new = _timestamps(raw, options.get("timestamp_format")) if raw.dtype == pl.String else raw.cast(pl.Datetime("us"), strict=False)
        elif fam == "date":
            new = _dates(raw, options.get("date_format")) if raw.dtype == pl.String else raw.cast(pl.Date, strict=False)
        elif fam == "bool" and raw.dtype == pl.String:
            low = raw.str.strip_chars().str.to_lowercase()
            new = pl.select(pl.when(low.is_in(list(_TRUE))).then(True).when(low.is_in(list(_FALSE))).then(False)
                            .otherwise(None).alias(col)).to_series()
        elif fam in _POLARS_TYPES:
            src = raw.str.strip_chars() if raw.dtype == pl.String and fam in ("int", "float") else raw
            new = src.cast(getattr(pl, _POLARS_TYPES[fam]), strict=False)
        else:
            continue  # an Arrow type name the contract does not cast: the schema check judges it
        failed = raw.is_not_null() & new.is_null()
        if fam == "float" and raw.dtype == pl.String:
            failed = failed & ~raw.str.strip_chars().str.to_lowercase().is_in(["nan"])
        if failed.any():
            lines = (pl.Series(range(frame.height)).filter(failed)).head(MALFORMED_SAMPLE).to_list()
            skipped = sorted(n - 1 for n in out.skipped.get(path, []))  # data rows dropped by the parser
            for i in lines:
                row = i + 1
                for s in skipped:
                    if s > row:
                        break
                    row += 1
                if len(out.sample) < MALFORMED_SAMPLE:
                    out.sample.append({"file": os.path.basename(path), "row": row, "column": col,
                                       "value": str(raw[i])[:200], "reason": f"not a {want}"})
        bad = bad | failed
        casts[col] = new
    frame = frame.with_columns(**casts)
    dropped = int(bad.sum())
    out.malformed += dropped
    return frame.filter(~bad).to_arrow() if dropped else frame.to_arrow()
