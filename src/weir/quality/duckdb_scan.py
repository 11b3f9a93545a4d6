"""The scan in DuckDB, for a partition whose checks or metrics Polars cannot parse (DuckDB-only
functions): the checks rendered as SQL aggregates over the partition's rows (``aggregates``),
run with the user metrics in one query, each alone if that query fails, and a sample of the
failing rows of each failed row-level check (``failing_filter``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.compute.quote import lit, q
from weir.model import checks as C
from weir.model.checks import Check, CheckResult, References
from weir.quality import profile as P
from weir.quality.results import SAMPLE_ROWS, broken, check_result, jsonable

if TYPE_CHECKING:
    import duckdb

    from weir.quality.scan import ScanInput, ScanStats


def reader(files: list[str], fmt: str = "parquet") -> str:
    """The DuckDB table function that reads ``files`` (Parquet, CSV or JSON lines)."""
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if fmt == "csv":
        return f"read_csv({listed}, union_by_name = true)"
    if fmt == "jsonl":
        return f"read_json({listed}, format = 'newline_delimited')"
    return f"read_parquet({listed}, union_by_name = true, hive_partitioning = false)"


def duckdb_checks(runnable: list[tuple[int, Check]], data: ScanInput, metrics: dict[str, str], stats: ScanStats) -> tuple[dict[int, CheckResult], dict]:
    """Checks (and user metrics) in one DuckDB query; if that query fails, each check alone."""
    import duckdb

    ctx = {**data.context, "schema": data.schema}
    con = duckdb.connect()
    results: dict[int, CheckResult] = {}
    user: dict[str, float | None] = {}
    try:
        if data.table is not None:
            con.register("__rows", data.table)
            con.execute("CREATE TEMP VIEW __data AS SELECT * FROM __rows")
        elif data.files:
            con.execute(f"CREATE TEMP VIEW __data AS SELECT * FROM {reader(data.files)}")
        else:
            con.execute("CREATE TEMP TABLE __data AS SELECT 1 AS __none WHERE FALSE")
        for ref in {c.to: c for _, c in runnable if isinstance(c, References)}.values():
            files = data.references[ref.to]
            con.execute(f"CREATE TEMP VIEW {q(ref_table(ref))} AS SELECT * FROM {reader(files, data.reference_format.get(ref.to, 'parquet'))}")
        selects = ["count(*) AS __total"]
        for i, check in runnable:
            selects += [f"{expr} AS {q(f'c{i}_{alias}')}" for alias, expr in aggregates(check).items()]
        selects += [f"{sql} AS {q('u|' + name)}" for name, sql in metrics.items()]
        try:
            stats.used("duckdb")
            names, rows = _fetch(con, f"SELECT {', '.join(selects)} FROM __data")
            values = dict(zip(names, rows[0]))
            total = int(values["__total"])
            for i, check in runnable:
                mine = {alias: values[f"c{i}_{alias}"] for alias in aggregates(check)}
                results[i] = check_result(check, mine, total, ctx)
            user = {name: P.number(values["u|" + name]) for name in metrics}
        except duckdb.Error:
            # one bad expression must not hide the others: evaluate each check on its own
            total = int(_fetch(con, "SELECT count(*) FROM __data")[1][0][0])
            for i, check in runnable:
                aggs = aggregates(check)
                try:
                    stats.fallback_scans += 1
                    if aggs:
                        _, r = _fetch(con, f"SELECT {', '.join(f'{e} AS {q(a)}' for a, e in aggs.items())} FROM __data")
                        mine = dict(zip(aggs, r[0]))
                    else:
                        mine = {}
                    results[i] = check_result(check, mine, total, ctx)
                except duckdb.Error as exc:
                    results[i] = broken(check, f"check cannot run: {str(exc).splitlines()[0]}", total)
            for name, sql in metrics.items():
                try:
                    stats.fallback_scans += 1
                    user[name] = P.number(_fetch(con, f"SELECT {sql} FROM __data")[1][0][0])
                except duckdb.Error:
                    user[name] = None
        for i, check in runnable:
            res = results[i]
            where = failing_filter(check)
            if not res.passed and where and res.failing_rows:
                stats.sample_queries += 1
                try:
                    names, fetched = _fetch(con, f"SELECT * FROM __data WHERE {where} LIMIT {SAMPLE_ROWS}")
                    sample = [{k: jsonable(v) for k, v in zip(names, r)} for r in fetched]
                    results[i] = CheckResult(**{**res.__dict__, "sample": sample})
                except duckdb.Error:
                    pass
        return results, user
    finally:
        con.close()


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """Rows through Arrow: DuckDB's own Python conversion of TIMESTAMPTZ needs pytz."""
    out = con.sql(sql).arrow()
    table = out.read_all() if hasattr(out, "read_all") else out
    names = table.column_names
    return names, [tuple(table.column(i)[j].as_py() for i in range(len(names))) for j in range(table.num_rows)]


# -- the checks as SQL -----------------------------------------------------------------------------


def aggregates(check: Check) -> dict[str, str]:
    """SQL aggregate expressions of ``check`` over ``__data``, keyed by the name its
    ``evaluate`` reads each value by."""
    match check:
        case C.Unique():
            # a single column ignores NULLs, as SQL UNIQUE does; a tuple of columns is never NULL
            cols = [q(c) for c in check.columns_]
            key = cols[0] if len(cols) == 1 else "(" + ", ".join(cols) + ")"
            return {"failing": f"count({key}) - count(DISTINCT {key})"}
        case C.RowCheck():
            return {"failing": f"count(*) FILTER (WHERE {_failing_sql(check)})"}
        case C.Metric():
            return {"value": check.sql}
        case C.Freshness():
            return {"newest": f"max({q(check.column)})"}
    return {}


def failing_filter(check: Check) -> str | None:
    """A WHERE clause selecting the rows that fail ``check`` (for samples); None when rows
    don't fail singly."""
    match check:
        case C.Unique():
            cols = ", ".join(q(c) for c in check.columns_)
            return f"({cols}) IN (SELECT ({cols}) FROM __data GROUP BY ALL HAVING count(*) > 1)"
        case C.RowCheck():
            return _failing_sql(check)
    return None


def ref_table(check: References) -> str:
    """The view a references check reads the referenced asset's values from."""
    return f"__ref_{check.to}"


def _failing_sql(check: C.RowCheck) -> str:
    """A condition true on each row that fails ``check``."""
    match check:
        case C.NotNull():
            cond = f"{q(check.column)} IS NULL"
            return f"({check.where}) AND {cond}" if check.where else cond
        case C.AcceptedValues():
            return f"{q(check.column)} IS NOT NULL AND {q(check.column)} NOT IN ({', '.join(lit(v) for v in check.values)})"
        case C.InRange():
            lo, hi = ("<", ">") if check.inclusive else ("<=", ">=")
            parts = []
            if check.min is not None:
                parts.append(f"{q(check.column)} {lo} {lit(check.min)}")
            if check.max is not None:
                parts.append(f"{q(check.column)} {hi} {lit(check.max)}")
            return "(" + " OR ".join(parts) + ")"
        case C.Matches():
            return f"{q(check.column)} IS NOT NULL AND NOT regexp_full_match(CAST({q(check.column)} AS VARCHAR), {lit(check.pattern)})"
        case C.Expression():
            return f"NOT coalesce(({check.sql}), FALSE)"
        case C.References():
            return (f"{q(check.column)} IS NOT NULL AND {q(check.column)} NOT IN "
                    f"(SELECT {q(check.to_column or check.column)} FROM {q(ref_table(check))})")
    raise NotImplementedError(f"no SQL for the rows failing a {check.kind} check")
