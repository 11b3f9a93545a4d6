"""The scan in Polars: every check, the profile and the user metrics of a partition as Polars
expressions over its staged data, in one query; a failed row-level check's sample of failing
rows in one more. Polars computes these aggregates about twice as fast as DuckDB on two cores
(``bench/checks``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from weir.compute.quote import q
from weir.model import checks as C
from weir.model.checks import Check, CheckResult, References
from weir.quality import profile as P
from weir.quality.duckdb_scan import reader
from weir.quality.results import SAMPLE_ROWS, check_result, jsonable

if TYPE_CHECKING:
    import polars as pl

    from weir.quality.scan import ScanInput, ScanStats


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
                sql = f"SELECT DISTINCT {q(col)} FROM {reader(data.references[c.to], data.reference_format.get(c.to, 'parquet'))}"
                relation = duckdb.sql(sql)
                assert relation is not None  # a SELECT always has a result
                out[key] = _polars(relation.arrow()).to_series()
    return out


def _polars_failing(check: Check, refs: Mapping[tuple[str, str], pl.Series]) -> pl.Expr | None:
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


def _polars_aggregates(check: Check, refs: Mapping[tuple[str, str], pl.Series]) -> dict:
    import polars as pl

    match check:
        case C.Unique():
            if len(check.columns_) == 1:
                col = pl.col(check.columns_[0])
                return {"failing": col.count() - (col.n_unique() - (col.null_count() > 0).cast(pl.Int64))}
            return {"failing": pl.len() - pl.struct([pl.col(c) for c in check.columns_]).n_unique()}
        case C.RowCheck():
            failing = _polars_failing(check, refs)
            assert failing is not None  # every row check has one
            return {"failing": failing.sum()}
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


def polars_scan(runnable: list[tuple[int, Check]], data: ScanInput, metrics: dict[str, str],
                bins: Mapping[str, list[float]], profile: bool, step: int,
                stats: ScanStats) -> tuple[list[CheckResult], P.Profile | None]:
    """The results of the ``runnable`` (index, check) pairs and, with ``profile``, the partition's
    profile, from one Polars query; raises when Polars cannot run it."""
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
        res = check_result(check, mine, total, ctx)
        failing = _polars_failing(check, refs)
        if not res.passed and failing is not None and res.failing_rows:
            stats.sample_queries += 1
            sample = lf.filter(failing).head(SAMPLE_ROWS).collect().to_dicts()
            res = CheckResult(**{**res.__dict__, "sample": [{k: jsonable(v) for k, v in r.items()} for r in sample]})
        results.append(res)
    prof = None
    if profile:
        prof = _finish_profile(values, data.schema, total, bins, step, data.context.get("partition_start"))
        prof.user = {name: P.number(values[f"u|{name}"]) for name in metrics}
    return results, prof


def _aggregate_aliases(check: Check) -> list[str]:
    match check:
        case C.RowCheck():
            return ["failing"]
        case C.Metric():
            return ["value"]
        case C.Freshness():
            return ["newest"]
    return []


def _finish_profile(values: dict, schema: dict[str, str], total: int, bins: Mapping[str, list[float]], step: int,
                    start: datetime | None = None) -> P.Profile:
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
            top = [[jsonable(r[name]), int(r["__n"])] for r in (values[f"p|{name}|top"] or [])]
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
