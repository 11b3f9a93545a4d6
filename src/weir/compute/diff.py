"""What differs between two versions of a partition's data: the schema, the row counts, and the
rows, matched on a key (rows added, removed, and changed, with the changed columns) or, without
one, compared as multisets (rows added and removed, duplicates counted). DuckDB does the
comparing over the two Arrow tables, so a partition is compared in one join, not row by row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from weir.compute.quote import q

if TYPE_CHECKING:
    import duckdb

SAMPLE_ROWS = 5
_BEFORE, _AFTER = "weir_before", "weir_after"
_SIDE = "__weir_side"  # a column each side gets, to tell a row without a match on the other side


@dataclass(frozen=True, kw_only=True)
class TableDiff:
    """The difference of ``after`` from ``before``. ``key`` is what rows were matched on (empty:
    compared as multisets; ``note`` says why when a key was declared but not used). ``changed``
    and ``columns`` (rows changed per column) are for a keyed comparison only. ``sample`` holds a
    few rows of each kind of change, in key (or row) order."""

    schema: dict[str, list[dict[str, str]]]  # added, removed: [{column, type}]; retyped: [{column, from, to}]
    rows_before: int
    rows_after: int
    key: tuple[str, ...] = ()
    note: str | None = None
    added: int = 0
    removed: int = 0
    changed: int | None = None
    columns: dict[str, int] = field(default_factory=dict)
    sample: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not any(self.schema.values()) and not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "schema": self.schema, "rows": {"before": self.rows_before, "after": self.rows_after},
                "key": list(self.key) or None, "note": self.note, "added": self.added, "removed": self.removed,
                "changed": self.changed, "columns": self.columns, "sample": self.sample}


def diff_tables(before: pa.Table, after: pa.Table, *, key: Sequence[str] = (), sample: int = SAMPLE_ROWS) -> TableDiff:
    """Compare ``after`` with ``before``: on ``key`` when both sides have its columns and it
    identifies their rows, else (saying why in ``note``) as multisets of rows over the columns
    both sides have. Columns whose types differ are compared as text."""
    import duckdb

    schema = schema_diff(before.schema, after.schema)
    common = [c for c in before.column_names if c in after.column_names]
    if not before.num_columns or not after.num_columns:  # nothing to join on (DuckDB takes no table without columns)
        return TableDiff(schema=schema, rows_before=before.num_rows, rows_after=after.num_rows, added=after.num_rows,
                         removed=before.num_rows, sample={kind: [{c: _plain(v) for c, v in r.items()}
                                                                 for r in t.slice(0, sample).to_pylist()]
                                                          for kind, t in (("added", after), ("removed", before)) if t.num_rows})
    con = duckdb.connect()
    try:
        con.register(_BEFORE, before)
        con.register(_AFTER, after)
        as_text = {c for c in common if before.schema.field(c).type != after.schema.field(c).type}
        used, note = _usable_key(con, list(key), before, after)
        base = TableDiff(schema=schema, rows_before=before.num_rows, rows_after=after.num_rows, key=tuple(used), note=note)
        if used:
            return _keyed(con, base, used, [c for c in common if c not in used], as_text, sample)
        return _multiset(con, base, common, as_text, sample)
    finally:
        con.close()


def schema_diff(before: pa.Schema, after: pa.Schema) -> dict[str, list[dict[str, str]]]:
    """Columns added, removed and retyped from ``before`` to ``after``."""
    old = {f.name: str(f.type) for f in before}
    new = {f.name: str(f.type) for f in after}
    return {
        "added": [{"column": c, "type": t} for c, t in new.items() if c not in old],
        "removed": [{"column": c, "type": t} for c, t in old.items() if c not in new],
        "retyped": [{"column": c, "from": old[c], "to": t} for c, t in new.items() if c in old and old[c] != t],
    }


def _usable_key(con: duckdb.DuckDBPyConnection, key: list[str], before: pa.Table, after: pa.Table) -> tuple[list[str], str | None]:
    if not key:
        return [], None
    for side, table in (("the published data", before), ("the new output", after)):
        missing = [c for c in key if c not in table.column_names]
        if missing:
            return [], f"key column {missing[0]!r} is not in {side}: rows compared as multisets"
    columns = ", ".join(map(q, key))
    for side, name in (("the published data", _BEFORE), ("the new output", _AFTER)):
        repeated = con.execute(f"SELECT count(*) FROM (SELECT {columns} FROM {name} GROUP BY ALL HAVING count(*) > 1)").fetchone()
        if repeated and repeated[0]:
            return [], (f"key ({', '.join(key)}) is not unique in {side} ({repeated[0]} values repeat): "
                        f"rows compared as multisets")
    return key, None


def _side(name: str, key: list[str], values: list[str], as_text: set[str], prefix: str) -> str:
    """One side as ``k0.., v0.., side``: positional names, so any column name is safe in the join."""
    cols = [f"{_cast(c, as_text)} AS k{i}" for i, c in enumerate(key)]
    cols += [f"{_cast(c, as_text)} AS {prefix}{i}" for i, c in enumerate(values)]
    return f"(SELECT {', '.join([*cols, f'true AS {_SIDE}'])} FROM {name})"


def _cast(column: str, as_text: set[str]) -> str:
    return f"CAST({q(column)} AS VARCHAR)" if column in as_text else q(column)


def _keyed(con: duckdb.DuckDBPyConnection, base: TableDiff, key: list[str], values: list[str], as_text: set[str], sample: int) -> TableDiff:
    join = " AND ".join(f"b.k{i} IS NOT DISTINCT FROM a.k{i}" for i in range(len(key)))
    differs = [f"b.b{i} IS DISTINCT FROM a.a{i}" for i in range(len(values))]
    keys = [f"coalesce(a.k{i}, b.k{i}) AS k{i}" for i in range(len(key))]
    con.execute(f"""
        CREATE TEMP TABLE joined AS SELECT {', '.join(keys)},
            b.{_SIDE} IS NOT NULL AS in_b, a.{_SIDE} IS NOT NULL AS in_a,
            {', '.join([*(f'b.b{i}' for i in range(len(values))), *(f'a.a{i}' for i in range(len(values))),
                        *(f'{d} AS d{i}' for i, d in enumerate(differs))]) or 'NULL AS nothing'}
        FROM {_side(_BEFORE, key, values, as_text, 'b')} b
        FULL OUTER JOIN {_side(_AFTER, key, values, as_text, 'a')} a ON {join}
    """)
    any_change = " OR ".join(f"d{i}" for i in range(len(values))) or "false"
    per_column = [f"count(*) FILTER (WHERE in_a AND in_b AND d{i})" for i in range(len(values))]
    counts = con.execute(f"""
        SELECT count(*) FILTER (WHERE in_a AND NOT in_b), count(*) FILTER (WHERE in_b AND NOT in_a),
               count(*) FILTER (WHERE in_a AND in_b AND ({any_change})) {''.join(', ' + p for p in per_column)}
        FROM joined
    """).fetchone()
    assert counts is not None
    added, removed, changed, *by_column = counts
    order = ", ".join(f"k{i}" for i in range(len(key)))
    out: dict[str, list[dict[str, Any]]] = {}
    if changed:
        cursor = con.execute(f"SELECT * FROM joined WHERE in_a AND in_b AND ({any_change}) ORDER BY {order} LIMIT {sample}")
        names = [d[0] for d in cursor.description]
        out["changed"] = []
        for row in cursor.fetchall():
            r = dict(zip(names, row))
            out["changed"].append({
                "key": {k: _plain(r[f"k{i}"]) for i, k in enumerate(key)},
                "values": {c: {"before": _plain(r[f"b{i}"]), "after": _plain(r[f"a{i}"])}
                           for i, c in enumerate(values) if r[f"d{i}"]},
            })
    for kind, side, n in (("added", "a", added), ("removed", "b", removed)):
        if not n:
            continue
        picked = ", ".join([*(f"k{i}" for i in range(len(key))), *(f"{side}{i}" for i in range(len(values)))])
        where = "in_a AND NOT in_b" if kind == "added" else "in_b AND NOT in_a"
        names = [*key, *values]
        out[kind] = [{c: _plain(v) for c, v in zip(names, row)}
                     for row in con.execute(f"SELECT {picked} FROM joined WHERE {where} ORDER BY {order} LIMIT {sample}").fetchall()]
    return _replace(base, added=added, removed=removed, changed=changed,
                    columns={c: n for c, n in zip(values, by_column) if n}, sample=out)


def _multiset(con: duckdb.DuckDBPyConnection, base: TableDiff, common: list[str], as_text: set[str], sample: int) -> TableDiff:
    if not common:  # nothing in common to compare on: every row is new
        return _replace(base, added=base.rows_after, removed=base.rows_before)
    cols = ", ".join(_cast(c, as_text) for c in common)
    out: dict[str, list[dict[str, Any]]] = {}
    counts = {}
    for kind, first, second in (("added", _AFTER, _BEFORE), ("removed", _BEFORE, _AFTER)):
        con.execute(f"CREATE TEMP TABLE {kind} AS SELECT {cols} FROM {first} EXCEPT ALL SELECT {cols} FROM {second}")
        found = con.execute(f"SELECT count(*) FROM {kind}").fetchone()
        counts[kind] = found[0] if found else 0
        if counts[kind]:
            rows = con.execute(f"SELECT * FROM {kind} ORDER BY ALL LIMIT {sample}").fetchall()
            out[kind] = [{c: _plain(v) for c, v in zip(common, row)} for row in rows]
    note = base.note
    if any(base.schema.values()) and note is None:
        note = "rows compared on the columns both sides have"
    return _replace(base, added=counts["added"], removed=counts["removed"], sample=out, note=note)


def _replace(base: TableDiff, **changes: Any) -> TableDiff:
    import dataclasses

    return dataclasses.replace(base, **changes)


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: times as ISO 8601, NaN and infinities as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
