"""One scan per partition: every check, every profile metric and every user metric of a
partition compile into one query over its staged data, plus one small query per failed
row-level check for a sample of failing rows.

Polars runs the scan: measured on ``bench/checks`` it computes the same aggregates about twice
as fast as DuckDB on two cores. A check or metric whose SQL Polars cannot parse (DuckDB-only
functions) sends that partition's checks to DuckDB instead, and the profile to a second scan;
``ScanStats`` records both, and the one-scan property is tested on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.model import checks as C
from weir.model.checks import Check, CheckResult, References, q
from weir.quality import profile as P

if TYPE_CHECKING:
    import polars as pl

SAMPLE_ROWS = 5
ENGINES = ("auto", "polars", "duckdb")


@dataclass(kw_only=True)
class ScanStats:
    """How many queries touched the staged data (the one-scan property is tested on this)."""

    scans: int = 0
    sample_queries: int = 0
    fallback_scans: int = 0
    engines: dict[str, int] = field(default_factory=dict)

    def used(self, engine: str) -> None:
        self.scans += 1
        self.engines[engine] = self.engines.get(engine, 0) + 1


@dataclass(kw_only=True)
class ScanInput:
    files: list[str] = field(default_factory=list)  # Parquet files of the partition
    schema: dict[str, str] = field(default_factory=dict)  # column -> Arrow type name
    table: Any = None  # or the rows as an Arrow table (sources read from CSV/JSON)
    references: dict[str, list[str]] = field(default_factory=dict)  # asset -> parquet/csv files
    reference_format: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def row_count(self) -> int:
        if self.table is not None:
            return self.table.num_rows
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(f).num_rows for f in self.files)


@dataclass(kw_only=True)
class ScanOutcome:
    results: list[CheckResult]
    profile: P.Profile | None = None
    engine: str = "polars"
    profile_error: str | None = None
    fallback_reason: str | None = None  # why Polars could not run this partition's scan


def scan(
    checks: list[Check], data: ScanInput, *, metrics: dict[str, str] | None = None,
    bins: dict[str, list[float]] | None = None, profile: bool = True, stats: ScanStats | None = None,
    engine: str = "auto",
) -> ScanOutcome:
    """Evaluate ``checks`` and measure the partition. Never raises for a bad check or metric: a
    check that cannot run is a failed result whose message says why."""
    stats = stats if stats is not None else ScanStats()
    metrics = dict(metrics or {})
    results: dict[int, CheckResult] = {}
    runnable: list[tuple[int, Check]] = []
    for i, check in enumerate(checks):
        missing = [c for c in check.columns() if c not in data.schema]
        if isinstance(check, References) and check.to not in data.references:
            results[i] = _broken(check, f"cannot read {check.to!r} to check references: it has no published data")
        elif missing:
            results[i] = _broken(
                check, f"unknown column {missing[0]!r}; columns are: {', '.join(sorted(data.schema)) or '(none)'}"
            )
        else:
            runnable.append((i, check))
    rows = data.row_count()
    step = P.sample_step(rows)
    outcome, why = None, None
    if engine in ("auto", "polars"):
        try:
            outcome = _polars_scan(runnable, data, metrics, bins or {}, profile, step, stats)
        except Exception as exc:
            if engine == "polars":
                raise
            outcome, why = None, (str(exc).splitlines() or [type(exc).__name__])[0]
    if outcome is None:
        found, user = _duckdb_checks(runnable, data, metrics, stats)
        outcome = ScanOutcome(results=[], engine="duckdb", fallback_reason=why)
        checked = found
        if profile:
            try:
                outcome.profile = _polars_scan([], data, {}, bins or {}, True, step, stats).profile
                if outcome.profile is not None:
                    outcome.profile.user = user
            except Exception as exc:  # noqa: BLE001 - a profile never fails a build
                outcome.profile_error = str(exc).splitlines()[0]
    else:
        checked = {i: r for i, r in zip([i for i, _ in runnable], outcome.results)}
    results.update(checked)
    outcome.results = [results[i] for i in range(len(checks))]
    return outcome


def run_checks(checks: list[Check], data: ScanInput, stats: ScanStats | None = None, engine: str = "auto") -> list[CheckResult]:
    """Checks only, no profile."""
    return scan(checks, data, profile=False, stats=stats, engine=engine).results


# -- Polars ------------------------------------------------------------------------------------


def _polars(arrow: Any) -> pl.DataFrame:
    """Arrow data (a table, or a reader of record batches) as a Polars frame."""
    import polars as pl

    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)  # from_arrow gives a Series only for an array
    return frame


def _frame(data: ScanInput) -> pl.LazyFrame:
    import polars as pl

    if data.table is not None:
        return _polars(data.table).lazy() if data.table.num_columns else pl.LazyFrame()
    if not data.files:
        return pl.LazyFrame({c: [] for c in data.schema})
    return pl.scan_parquet(data.files, hive_partitioning=False)


def _references(data: ScanInput, checks: list[Check]) -> dict[tuple[str, str], pl.Series]:
    """Distinct values of each referenced column (reference data, not the partition)."""
    out: dict[tuple[str, str], pl.Series] = {}
    if not any(isinstance(c, References) for c in checks):
        return out  # most partitions: no reference data, and no DuckDB to start
    import duckdb

    for c in checks:
        if isinstance(c, References):
            col = c.to_column or c.column
            key = (c.to, col)
            if key not in out:
                sql = f"SELECT DISTINCT {q(col)} FROM {_reader(data.references[c.to], data.reference_format.get(c.to, 'parquet'))}"
                relation = duckdb.sql(sql)
                assert relation is not None  # a SELECT always has a result
                out[key] = _polars(relation.arrow()).to_series()
    return out


def _polars_failing(check: Check, refs: dict):
    """A boolean expression true on failing rows (nulls never count as failing, except where SQL says)."""
    import polars as pl

    match check:
        case C.NotNull():
            f = pl.col(check.column).is_null()
            return (pl.sql_expr(check.where).fill_null(False) & f) if check.where else f
        case C.Unique():
            if len(check.columns_) == 1:
                col = pl.col(check.columns_[0])
                return col.is_not_null() & col.is_duplicated()
            return pl.struct([pl.col(c) for c in check.columns_]).is_duplicated()
        case C.AcceptedValues():
            col = pl.col(check.column)
            return col.is_not_null() & ~col.is_in(list(check.values))
        case C.InRange():
            col, parts = pl.col(check.column), []
            if check.min is not None:
                parts.append(col < check.min if check.inclusive else col <= check.min)
            if check.max is not None:
                parts.append(col > check.max if check.inclusive else col >= check.max)
            f = parts[0] if len(parts) == 1 else parts[0] | parts[1]
            return f.fill_null(False)
        case C.Matches():
            col = pl.col(check.column)
            return col.is_not_null() & ~col.cast(pl.String).str.contains(f"^(?:{check.pattern})$")
        case C.Expression():
            return ~pl.sql_expr(check.sql).fill_null(False)
        case C.References():
            col = pl.col(check.column)
            return col.is_not_null() & ~col.is_in(refs[(check.to, check.to_column or check.column)].implode())
    return None


def _polars_aggregates(check: Check, refs: dict) -> dict:
    import polars as pl

    match check:
        case C.Unique():
            if len(check.columns_) == 1:
                col = pl.col(check.columns_[0])
                return {"failing": col.count() - (col.n_unique() - (col.null_count() > 0).cast(pl.Int64))}
            return {"failing": pl.len() - pl.struct([pl.col(c) for c in check.columns_]).n_unique()}
        case C.RowCheck():
            return {"failing": _polars_failing(check, refs).sum()}
        case C.Metric():
            return {"value": pl.sql_expr(check.sql)}
        case C.Freshness():
            return {"newest": pl.col(check.column).max()}
    return {}


def _profile_exprs(schema: dict[str, str], step: int) -> tuple[list[pl.Expr], list[pl.Expr], list[pl.Expr]]:
    """(columns added before the aggregates, the aggregates, expressions over their one-row result)."""
    import polars as pl

    pre: list[pl.Expr] = []
    exprs: list[pl.Expr] = []
    post: list[pl.Expr] = []
    for name, typ in schema.items():
        kind = P.column_kind(typ)
        col = pl.col(name)
        exprs.append(col.null_count().alias(f"p|{name}|nulls"))
        if kind == "numeric":
            fam = C.type_family(typ)
            # floats: NaN counts as missing; integers need no cast for their aggregates. The filled
            # float column is added once: written into each aggregate, fill_nan (a when/then) runs
            # again for every aggregate of the column
            x = col if fam == "int" else pl.col(f"__p|{name}")
            if fam != "int":
                pre.append((col.fill_nan(None) if fam == "float" else col.cast(pl.Float64)).alias(f"__p|{name}"))
            present = x.drop_nulls()
            exprs += [
                x.min().alias(f"p|{name}|min"), x.max().alias(f"p|{name}|max"), x.mean().alias(f"p|{name}|mean"),
                x.std().alias(f"p|{name}|std"),
                (present.gather_every(step) if step > 1 else present).implode().alias(f"p|{name}|sample"),
            ]
        elif kind == "categorical":
            # one hash pass: the distinct count and the top values both come from one value_counts
            counts = f"p|{name}|counts"
            exprs.append(col.drop_nulls().value_counts(sort=True, name="__n").implode().alias(counts))
            post += [
                pl.col(counts).list.len().alias(f"p|{name}|distinct"),
                pl.col(counts).list.head(P.TOP_K).alias(f"p|{name}|top"),
            ]
        elif kind == "temporal":
            exprs += [col.min().alias(f"p|{name}|min"), col.max().alias(f"p|{name}|max")]
    return pre, exprs, post


def _polars_scan(runnable, data: ScanInput, metrics: dict[str, str], bins, profile: bool, step: int, stats: ScanStats) -> ScanOutcome:
    import polars as pl

    refs = _references(data, [c for _, c in runnable])
    exprs = [pl.len().alias("__total")]
    for i, check in runnable:
        exprs += [e.alias(f"c{i}_{alias}") for alias, e in _polars_aggregates(check, refs).items()]
    exprs += [pl.sql_expr(sql).alias(f"u|{name}") for name, sql in metrics.items()]
    pre: list[pl.Expr] = []
    post: list[pl.Expr] = []
    if profile:
        pre, more, post = _profile_exprs(data.schema, step)
        exprs += more
    lf = _frame(data)
    query = (lf.with_columns(pre) if pre else lf).select(exprs)
    if post:  # still one scan: these run on its one-row result
        counts = [n for n in (e.meta.output_name() for e in exprs) if n.endswith("|counts")]
        query = query.with_columns(post).drop(counts)
    stats.used("polars")
    # the in-memory engine: "auto" runs these aggregates streaming, ~1/3 slower (bench/checks.py)
    frame = query.collect(engine="in-memory")
    if frame.height != 1:
        raise ValueError("a check or metric is not an aggregate")
    # samples straight to NumPy: row() would make each a Python list of up to 100,000 numbers
    samples = {c: frame[c][0].to_numpy() for c in frame.columns if c.endswith("|sample")}
    values = {**frame.drop(list(samples)).row(0, named=True), **samples}
    total = int(values["__total"])
    ctx = {**data.context, "schema": data.schema}
    results = []
    for i, check in runnable:
        mine = {alias: values[f"c{i}_{alias}"] for alias in _aggregate_aliases(check)}
        res = _result(check, mine, total, ctx)
        failing = _polars_failing(check, refs)
        if not res.passed and failing is not None and res.failing_rows:
            stats.sample_queries += 1
            sample = lf.filter(failing).head(SAMPLE_ROWS).collect().to_dicts()
            res = CheckResult(**{**res.__dict__, "sample": [{k: _jsonable(v) for k, v in r.items()} for r in sample]})
        results.append(res)
    prof = None
    if profile:
        prof = _finish_profile(values, data.schema, total, bins, step, data.context.get("partition_start"))
        prof.user = {name: P.number(values[f"u|{name}"]) for name in metrics}
    return ScanOutcome(results=results, profile=prof, engine="polars")


def _aggregate_aliases(check: Check) -> list[str]:
    match check:
        case C.RowCheck():
            return ["failing"]
        case C.Metric():
            return ["value"]
        case C.Freshness():
            return ["newest"]
    return []


def _finish_profile(values: dict, schema: dict[str, str], total: int, bins, step: int, start=None) -> P.Profile:
    prof = P.Profile(row_count=total, schema=dict(schema))
    for name, typ in schema.items():
        kind = P.column_kind(typ)
        cp = P.ColumnProfile(column=name, type=typ, kind=kind)
        nulls = values[f"p|{name}|nulls"] or 0
        cp.metrics["null_fraction"] = (nulls / total) if total else None
        if kind == "numeric":
            for m in ("min", "max", "mean", "std"):
                cp.metrics[m] = P.number(values[f"p|{name}|{m}"])
            sample = values[f"p|{name}|sample"]
            prof.sampled = max(prof.sampled, 0 if sample is None else len(sample))
            fixed = P.finish_numeric(cp, sample, bins.get(name), C.type_family(typ) == "int")
            if fixed:
                prof.new_bins[name] = fixed
        elif kind == "categorical":
            cp.metrics["distinct_count"] = float(values[f"p|{name}|distinct"] or 0)
            top = [[_jsonable(r[name]), int(r["__n"])] for r in (values[f"p|{name}|top"] or [])]
            cp.top, cp.other = top, int(total - nulls - sum(n for _, n in top))
        elif kind == "temporal":
            lo, hi = P.number(values[f"p|{name}|min"]), P.number(values[f"p|{name}|max"])
            origin = P.number(start)  # the partition's start (a datetime) when it has a window
            if origin is not None:  # relative to the partition's start: a stationary series
                cp.metrics["min_offset_s"] = None if lo is None else lo - origin
                cp.metrics["max_offset_s"] = None if hi is None else hi - origin
            else:
                cp.metrics["min"], cp.metrics["max"] = lo, hi
        prof.columns[name] = cp
    return prof


# -- DuckDB --------------------------------------------------------------------------------------


def _reader(files: list[str], fmt: str = "parquet") -> str:
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if fmt == "csv":
        return f"read_csv({listed}, union_by_name = true)"
    if fmt == "jsonl":
        return f"read_json({listed}, format = 'newline_delimited')"
    return f"read_parquet({listed}, union_by_name = true, hive_partitioning = false)"


def _duckdb_checks(runnable, data: ScanInput, metrics: dict[str, str], stats: ScanStats) -> tuple[dict[int, CheckResult], dict]:
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
            con.execute(f"CREATE TEMP VIEW __data AS SELECT * FROM {_reader(data.files)}")
        else:
            con.execute("CREATE TEMP TABLE __data AS SELECT 1 AS __none WHERE FALSE")
        for check in {c.to: c for _, c in runnable if isinstance(c, References)}.values():
            files = data.references[check.to]
            con.execute(f"CREATE TEMP VIEW {q(check.ref_table)} AS SELECT * FROM {_reader(files, data.reference_format.get(check.to, 'parquet'))}")
        selects = ["count(*) AS __total"]
        for i, check in runnable:
            selects += [f"{expr} AS {q(f'c{i}_{alias}')}" for alias, expr in check.aggregates().items()]
        selects += [f"{sql} AS {q('u|' + name)}" for name, sql in metrics.items()]
        try:
            stats.used("duckdb")
            names, rows = _fetch(con, f"SELECT {', '.join(selects)} FROM __data")
            values = dict(zip(names, rows[0]))
            total = int(values["__total"])
            for i, check in runnable:
                mine = {alias: values[f"c{i}_{alias}"] for alias in check.aggregates()}
                results[i] = _result(check, mine, total, ctx)
            user = {name: P.number(values["u|" + name]) for name in metrics}
        except duckdb.Error:
            # one bad expression must not hide the others: evaluate each check on its own
            total = int(_fetch(con, "SELECT count(*) FROM __data")[1][0][0])
            for i, check in runnable:
                aggs = check.aggregates()
                try:
                    stats.fallback_scans += 1
                    if aggs:
                        _, r = _fetch(con, f"SELECT {', '.join(f'{e} AS {q(a)}' for a, e in aggs.items())} FROM __data")
                        mine = dict(zip(aggs, r[0]))
                    else:
                        mine = {}
                    results[i] = _result(check, mine, total, ctx)
                except duckdb.Error as exc:
                    results[i] = _broken(check, f"check cannot run: {str(exc).splitlines()[0]}", total)
            for name, sql in metrics.items():
                try:
                    stats.fallback_scans += 1
                    user[name] = P.number(_fetch(con, f"SELECT {sql} FROM __data")[1][0][0])
                except duckdb.Error:
                    user[name] = None
        for i, check in runnable:
            res = results[i]
            where = check.failing_filter()
            if not res.passed and where and res.failing_rows:
                stats.sample_queries += 1
                try:
                    names, fetched = _fetch(con, f"SELECT * FROM __data WHERE {where} LIMIT {SAMPLE_ROWS}")
                    sample = [{k: _jsonable(v) for k, v in zip(names, r)} for r in fetched]
                    results[i] = CheckResult(**{**res.__dict__, "sample": sample})
                except duckdb.Error:
                    pass
        return results, user
    finally:
        con.close()


def _fetch(con, sql: str) -> tuple[list[str], list[tuple]]:
    """Rows through Arrow: DuckDB's own Python conversion of TIMESTAMPTZ needs pytz."""
    out = con.sql(sql).arrow()
    table = out.read_all() if hasattr(out, "read_all") else out
    names = table.column_names
    return names, [tuple(table.column(i)[j].as_py() for i in range(len(names))) for j in range(table.num_rows)]


def _result(check: Check, values: dict, total: int, context: dict) -> CheckResult:
    passed, observed, threshold, failing, message = check.evaluate(values, total, context)
    return CheckResult(
        check=check.label, kind=check.kind, column=next(iter(check.columns()), None), severity=check.severity,
        passed=bool(passed), observed=_jsonable(observed), threshold=threshold, failing_rows=failing, total_rows=total,
        message=message,
    )


def _broken(check: Check, message: str, total: int = 0) -> CheckResult:
    return CheckResult(
        check=check.label, kind=check.kind, column=next(iter(check.columns()), None), severity=check.severity,
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
