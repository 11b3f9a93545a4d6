"""Sources: files landing in a folder, one file (or glob) per partition."""

from __future__ import annotations

import glob
import hashlib
import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from weir.errors import DataError
from weir.model.definitions import Source
from weir.model.partitions import TimeScheme


def source_pattern(source: Source, root: Path, key: str) -> str:
    start = source.partitions.window(key)[0] if isinstance(source.partitions, TimeScheme) else datetime.min
    try:
        rel = source.path.format(partition=key, start=start)
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


def read_source_files(paths: list[str], fmt: str, options: dict, *, what: str) -> pa.Table:
    """Read landed files as one Arrow table. Raises DataError naming the file that is malformed."""
    tables = []
    for p in paths:
        try:
            tables.append(_read_one(p, fmt, options))
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            raise DataError(f"source {what!r}: cannot read {p}: {str(exc).splitlines()[0]}") from None
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"source {what!r}: files disagree on their schema: {exc}") from None


def _read_one(path: str, fmt: str, options: dict) -> pa.Table:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if fmt == "jsonl":
        import pyarrow.json as pj

        return pj.read_json(path)
    import pyarrow.csv as pc

    column_types = options.get("column_types")
    convert = pc.ConvertOptions(
        column_types={k: pa.type_for_alias(v) for k, v in column_types.items()} if column_types else None,
        null_values=options.get("null_values", ["", "NA", "NULL", "null", "NaN"]),
        strings_can_be_null=True,
    )
    parse = pc.ParseOptions(delimiter=options.get("delimiter", ","))
    return pc.read_csv(path, parse_options=parse, convert_options=convert)
