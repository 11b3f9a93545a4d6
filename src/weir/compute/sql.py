"""Run a SQL asset in DuckDB with its upstream data registered as tables."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pyarrow as pa

from weir.errors import DataError

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def run_sql(sql: str, tables: Mapping[str, pa.Table], params: Mapping[str, object]) -> pa.Table:
    """Execute ``sql`` over ``tables``; only the ``$params`` the query uses are bound."""
    import duckdb

    con = duckdb.connect()
    try:
        for name, table in tables.items():
            con.register(name, table)
        used = {p: params[p] for p in set(_PARAM.findall(sql)) if p in params}
        unknown = sorted(set(_PARAM.findall(sql)) - set(params))
        if unknown:
            raise DataError(f"SQL uses unknown parameter ${unknown[0]} (known: {', '.join('$' + p for p in sorted(params))})")
        return con.sql(sql, params=used or None).to_arrow_table()
    finally:
        con.close()
