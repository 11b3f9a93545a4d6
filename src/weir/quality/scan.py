"""Run every check of a partition in one scan of its staged data (plus one small query per
failed row-level check, for a sample of failing rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from weir.model.checks import Check, CheckResult, References, q

SAMPLE_ROWS = 5


@dataclass(kw_only=True)
class ScanStats:
    """How many queries touched the staged data (the one-scan property is tested on this)."""

    scans: int = 0
    sample_queries: int = 0
    fallback_scans: int = 0


@dataclass(kw_only=True)
class ScanInput:
    files: list[str]
    schema: dict[str, str]  # column -> Arrow type name
    references: dict[str, list[str]] = field(default_factory=dict)  # asset -> parquet/csv files
    reference_format: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def _reader(files: list[str], fmt: str = "parquet") -> str:
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if fmt == "csv":
        return f"read_csv({listed}, union_by_name = true)"
    if fmt == "jsonl":
        return f"read_json({listed}, format = 'newline_delimited')"
    return f"read_parquet({listed}, union_by_name = true, hive_partitioning = false)"


def run_checks(checks: list[Check], data: ScanInput, stats: ScanStats | None = None) -> list[CheckResult]:
    """Evaluate ``checks`` on the rows in ``data.files``. Never raises for a bad check: a check
    that cannot run is a failed result whose message says why."""
    import duckdb

    stats = stats if stats is not None else ScanStats()
    ctx = {**data.context, "schema": data.schema}
    con = duckdb.connect()
    try:
        if data.files:
            con.execute(f"CREATE TEMP VIEW __data AS SELECT * FROM {_reader(data.files)}")
        else:
            con.execute("CREATE TEMP TABLE __data AS SELECT 1 AS __none WHERE FALSE")
        results: dict[int, CheckResult] = {}
        runnable: list[tuple[int, Check]] = []
        for i, check in enumerate(checks):
            missing = [c for c in check.columns() if c not in data.schema]
            if isinstance(check, References) and check.to not in data.references:
                results[i] = _broken(check, f"cannot read {check.to!r} to check references: it has no published data")
                continue
            if missing:
                results[i] = _broken(
                    check, f"unknown column {missing[0]!r}; columns are: {', '.join(sorted(data.schema)) or '(none)'}"
                )
                continue
            runnable.append((i, check))
        for check in {c.to: c for _, c in runnable if isinstance(c, References)}.values():
            files = data.references[check.to]
            con.execute(f"CREATE TEMP VIEW {q(check.ref_table)} AS SELECT * FROM {_reader(files, data.reference_format.get(check.to, 'parquet'))}")
        selects = ["count(*) AS __total"]
        for i, check in runnable:
            selects += [f"{expr} AS {q(f'c{i}_{alias}')}" for alias, expr in check.aggregates().items()]
        try:
            stats.scans += 1
            row = con.execute(f"SELECT {', '.join(selects)} FROM __data").fetchone()
            values = dict(zip([d[0] for d in con.description], row))
            total = int(values["__total"])
            for i, check in runnable:
                mine = {alias: values[f"c{i}_{alias}"] for alias in check.aggregates()}
                results[i] = _result(check, mine, total, ctx)
        except duckdb.Error:
            # one bad expression must not hide the others: evaluate each check on its own
            total = int(con.execute("SELECT count(*) FROM __data").fetchone()[0])
            for i, check in runnable:
                aggs = check.aggregates()
                try:
                    stats.fallback_scans += 1
                    if aggs:
                        r = con.execute(f"SELECT {', '.join(f'{e} AS {q(a)}' for a, e in aggs.items())} FROM __data").fetchone()
                        mine = dict(zip(aggs, r))
                    else:
                        mine = {}
                    results[i] = _result(check, mine, total, ctx)
                except duckdb.Error as exc:
                    results[i] = _broken(check, f"check cannot run: {str(exc).splitlines()[0]}", total)
        for i, check in runnable:
            res = results[i]
            where = check.failing_filter()
            if not res.passed and where and res.failing_rows:
                stats.sample_queries += 1
                try:
                    cur = con.execute(f"SELECT * FROM __data WHERE {where} LIMIT {SAMPLE_ROWS}")
                    names = [d[0] for d in cur.description]
                    sample = [{k: _jsonable(v) for k, v in zip(names, r)} for r in cur.fetchall()]
                    results[i] = CheckResult(**{**res.__dict__, "sample": sample})
                except duckdb.Error:
                    pass
        return [results[i] for i in range(len(checks))]
    finally:
        con.close()


def _result(check: Check, values: dict, total: int, context: dict) -> CheckResult:
    passed, observed, threshold, failing, message = check.evaluate(values, total, context)
    return CheckResult(
        check=check.label, kind=check.kind, column=(check.columns() or [None])[0], severity=check.severity,
        passed=bool(passed), observed=_jsonable(observed), threshold=threshold, failing_rows=failing, total_rows=total,
        message=message,
    )


def _broken(check: Check, message: str, total: int = 0) -> CheckResult:
    return CheckResult(
        check=check.label, kind=check.kind, column=(check.columns() or [None])[0], severity=check.severity,
        passed=False, observed=None, threshold="", failing_rows=None, total_rows=total, message=message,
    )


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
