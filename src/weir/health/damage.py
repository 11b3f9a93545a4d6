"""One line for a read that failed on a damaged table, instead of a reader's traceback."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator


def damage_message(exc: BaseException, table_uri: str) -> str | None:
    """If ``exc`` (from pyarrow, DuckDB, deltalake or weir's own reader, or anything it wraps)
    failed on a data file of the table at ``table_uri`` that is missing or unreadable, one line
    naming the file and pointing at ``weir doctor``; else None (the error is not damage)."""
    root = os.path.abspath(table_uri.removeprefix("file://"))
    for err in _chain(exc):
        for path in _paths(err, root):
            if not os.path.exists(path):
                what = "is missing"
            else:
                why = _unreadable(path)
                if why is None:
                    continue
                what = f"is unreadable ({why})"
            if _current(root, os.path.relpath(path, root)) is False:
                return f"data file {path} of an earlier version {what} (vacuumed, or damaged); the current version is not affected; 'weir doctor' checks it"
            return f"data file {path} {what}: the table {root} is damaged; run 'weir doctor' to see what is damaged and how to repair it"
    return None


def _current(root: str, rel: str) -> bool | None:
    """Whether the table's current version references ``rel``; None when the table cannot be opened."""
    try:
        import pyarrow as pa
        from deltalake import DeltaTable

        from weir.storage.delta import disk_paths

        paths = disk_paths(pa.table(DeltaTable(root).get_add_actions(flatten=True)))
    except Exception:  # noqa: BLE001 - a table that cannot be opened is damaged as a whole
        return None
    return rel.replace(os.sep, "/") in paths


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _paths(err: BaseException, root: str) -> list[str]:
    found = []
    filename = getattr(err, "filename", None)
    if isinstance(filename, str):
        found.append(os.path.abspath(filename.removeprefix("file://")))
    pattern = re.compile(r"(?:file://)?(" + re.escape(root) + r"/[^\s'\"`,;)]+)")
    found += [m.group(1).rstrip(".:") for m in pattern.finditer(str(err))]
    # messages quote paths relative to the working folder too, e.g. "cannot read data/p/a/x.parquet"
    rel = os.path.relpath(root)
    if not rel.startswith(".."):
        pattern = re.compile(r"(?<![/\w])(" + re.escape(rel) + r"/[^\s'\"`,;)]+)")
        found += [os.path.abspath(m.group(1).rstrip(".:")) for m in pattern.finditer(str(err))]
    return [p for p in dict.fromkeys(found) if p.startswith(root + os.sep) and "/_delta_log/" not in p]


def _unreadable(path: str) -> str | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        text = str(exc).strip()
        return text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
    return None
