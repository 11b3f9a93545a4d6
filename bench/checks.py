"""Data-quality scan: weir's one-scan checks vs the same values hand-written in DuckDB and Polars.

The data is one Parquet file of 5,000,000 rows x 6 columns, written once with a fixed seed the way
weir stages a partition (zstd, small dictionary pages) and cached under bench/results/data/:

    id  int64, 0..n-1 shuffled (unique)    a   float64 ~ normal(0, 1)
    b   float64 ~ normal(0, 1), 1% nulls    c   string, 20 categories
    d   int64 uniform in [0, 1000]          ts  timestamp[us] over one year

Eight checks, all of which pass: unique(id), not_null(id), not_null(b, mostly=0.98),
in_range(a, -10, 10), accepted_values(c, the 20 categories), in_range(d, 0, 1000),
row_count(1M, 10M), metric(avg(a) in [-0.1, 0.1]).

Four variants, each returning the same eight numbers (cross-checked against each other):

* duckdb:       one hand-written SELECT of exactly those eight aggregates over read_parquet(...)
                (one connection, opened before timing).
* polars:       one hand-written pl.scan_parquet(...).select([...eight expressions...]).collect(),
                on Polars' default engine ("auto").
* polars_mem:   the same query collected with engine="in-memory", the engine weir's scan pins
                (about 1/3 faster here). The limit is the fastest of the three hand-written ones.
* weir_checks:  weir.quality.scan.scan(checks, ScanInput(files, schema), profile=False).
* weir_profile: the same with profile=True (null fraction, min/max/mean/std, sample quantiles and
                histogram per numeric column, distinct count and top-20 per string column, min/max
                per timestamp column), still in one query.

"The limit" is the faster of the two hand-written baselines. Reported: weir / limit for checks
only (target <= 1.2x) and checks + profile (target <= 2x). Times are wall clock in one warm
process after one warm-up call each, runs interleaved (one call of each variant per round, the
order rotated every round, since the call right after a DuckDB query runs measurably slower) so
machine noise hits all alike; the headline figure is the best of the repeats (least sensitive to
a busy machine), medians are reported alongside. The file is in the OS
page cache (it was just written or read), so this measures decode + compute, not disk.

Peak memory: each variant runs once more in a fresh Python subprocess that imports everything
first (duckdb, polars, pyarrow, weir), resets the kernel's high-water mark (/proc/self/clear_refs),
notes VmRSS, makes one (cold) call and reads VmHWM from /proc/self/status. "Peak RSS growth" is
VmHWM - VmRSS before the call: the resident memory the call needed on top of the imported
libraries, including one-time set-up such as thread pools. Resident memory only (not
virtual, not the page cache holding the file).

weir's scan must run each call as exactly one query over the data (ScanStats.scans == 1, no
fallback scans, no sample queries) and every check must pass; the benchmark raises otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = 5_000_000
QUICK_ROWS = 1_000_000
SEED = 20240601
DATA_VERSION = 1  # bump when the generator changes, so a stale cached file is not reused
CATEGORIES = [f"cat_{i:02d}" for i in range(20)]
TARGET_CHECKS = 1.2
TARGET_PROFILE = 2.0
VARIANTS = ("duckdb", "polars", "polars_mem", "weir_checks", "weir_profile")
BASELINES = ("duckdb", "polars", "polars_mem")
VALUES = ("id_duplicates", "id_nulls", "b_nulls", "a_out_of_range", "c_not_accepted", "d_out_of_range", "rows", "mean_a")


# -- data ----------------------------------------------------------------------------------------


def data_path(rows: int, seed: int = SEED, folder: Path | None = None) -> Path:
    folder = folder or HERE / "results" / "data"
    return folder / f"checks-{rows}rows-seed{seed}-v{DATA_VERSION}.parquet"


def dataset(rows: int, seed: int = SEED, folder: Path | None = None) -> tuple[Path, bool]:
    """The cached Parquet file, generated if missing; (path, generated now)."""
    import pyarrow.parquet as pq

    path = data_path(rows, seed, folder)
    if path.exists():
        with contextlib.suppress(Exception):  # a truncated or foreign file is regenerated
            if pq.read_metadata(path).num_rows == rows:
                return path, False
    import numpy as np
    import pyarrow as pa

    from weir.storage.delta import DICTIONARY_PAGE_LIMIT

    rng = np.random.default_rng(seed)
    b = rng.normal(0.0, 1.0, rows)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    table = pa.table(
        {
            "id": pa.array(rng.permutation(rows).astype(np.int64)),
            "a": pa.array(rng.normal(0.0, 1.0, rows)),
            "b": pa.array(b, mask=rng.random(rows) < 0.01),
            "c": pa.array(CATEGORIES, pa.string()).take(pa.array(rng.integers(0, len(CATEGORIES), rows))),
            "d": pa.array(rng.integers(0, 1001, rows, dtype=np.int64)),
            "ts": pa.array(start + rng.integers(0, 365 * 86_400_000_000, rows).astype("timedelta64[us]")),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    # as weir.storage.delta.stage() writes a partition
    pq.write_table(table, tmp, compression="zstd", dictionary_pagesize_limit=DICTIONARY_PAGE_LIMIT)
    os.replace(tmp, path)
    return path, True


def schema_of(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {f.name: str(f.type) for f in pq.read_schema(path)}


# -- the four variants -------------------------------------------------------------------------------


def make_checks() -> list:
    from weir import checks as C

    return [
        C.unique("id"),
        C.not_null("id"),
        C.not_null("b", mostly=0.98),
        C.in_range("a", -10, 10),
        C.accepted_values("c", CATEGORIES),
        C.in_range("d", 0, 1000),
        C.row_count(1_000_000, 10_000_000),
        C.metric("avg(a)", min=-0.1, max=0.1),
    ]


def duckdb_sql(path: Path) -> str:
    accepted = ", ".join(f"'{c}'" for c in CATEGORIES)
    return f"""
        SELECT
            count(id) - count(DISTINCT id)                                          AS id_duplicates,
            count(*) FILTER (WHERE id IS NULL)                                      AS id_nulls,
            count(*) FILTER (WHERE b IS NULL)                                       AS b_nulls,
            count(*) FILTER (WHERE a < -10 OR a > 10)                               AS a_out_of_range,
            count(*) FILTER (WHERE c IS NOT NULL AND c NOT IN ({accepted}))         AS c_not_accepted,
            count(*) FILTER (WHERE d < 0 OR d > 1000)                               AS d_out_of_range,
            count(*)                                                                AS rows,
            avg(a)                                                                  AS mean_a
        FROM read_parquet('{path}')
    """


def run_duckdb(con, sql: str) -> dict:
    cur = con.execute(sql)
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row))


def run_polars(path: Path, engine: str = "auto") -> dict:
    import polars as pl

    i, a, c, d = pl.col("id"), pl.col("a"), pl.col("c"), pl.col("d")
    frame = (
        pl.scan_parquet(path)
        .select(
            [
                (i.count() - i.n_unique()).alias("id_duplicates"),
                i.null_count().alias("id_nulls"),
                pl.col("b").null_count().alias("b_nulls"),
                ((a < -10) | (a > 10)).sum().alias("a_out_of_range"),
                (c.is_not_null() & ~c.is_in(CATEGORIES)).sum().alias("c_not_accepted"),
                ((d < 0) | (d > 1000)).sum().alias("d_out_of_range"),
                pl.len().alias("rows"),
                a.mean().alias("mean_a"),
            ]
        )
        .collect(engine=engine)
    )
    return frame.row(0, named=True)


def run_weir(checks: list, path: Path, schema: dict[str, str], profile: bool) -> tuple[dict, dict]:
    """One weir scan; raises unless it was one query and every check passed. (values, engines)."""
    from weir.quality.scan import ScanInput, ScanStats, scan

    stats = ScanStats()
    outcome = scan(checks, ScanInput(files=[str(path)], schema=schema), profile=profile, stats=stats)
    failed = [f"{r.check}: {r.message}" for r in outcome.results if not r.passed]
    if failed:
        raise RuntimeError(f"weir scan (profile={profile}): checks failed: {failed}")
    if stats.scans != 1 or stats.fallback_scans or stats.sample_queries:
        raise RuntimeError(f"weir scan (profile={profile}) was not one scan: {stats}")
    if profile and (outcome.profile is None or outcome.profile_error or len(outcome.profile.columns) != len(schema)):
        raise RuntimeError(f"weir scan produced no full profile: {outcome.profile_error or outcome.profile}")
    r = outcome.results
    values = {
        "id_duplicates": r[0].failing_rows, "id_nulls": r[1].failing_rows, "b_nulls": r[2].failing_rows,
        "a_out_of_range": r[3].failing_rows, "c_not_accepted": r[4].failing_rows, "d_out_of_range": r[5].failing_rows,
        "rows": r[6].observed, "mean_a": r[7].observed,
    }
    return values, dict(stats.engines)


class Runner:
    """The four variants as zero-argument calls returning the eight values, set up outside timing."""

    def __init__(self, path: Path) -> None:
        import duckdb

        self.path, self.schema, self.checks = path, schema_of(path), make_checks()
        self.con = duckdb.connect()
        self.sql = duckdb_sql(path)
        self.engines: dict[str, dict] = {}

    def call(self, variant: str) -> dict:
        if variant == "duckdb":
            return run_duckdb(self.con, self.sql)
        if variant == "polars":
            return run_polars(self.path)
        if variant == "polars_mem":
            return run_polars(self.path, engine="in-memory")
        values, self.engines[variant] = run_weir(self.checks, self.path, self.schema, profile=variant == "weir_profile")
        return values


def agree(found: dict[str, dict]) -> None:
    """Every variant computed the same eight values (the mean to floating-point summation order)."""
    ref = found["duckdb"]
    for variant, values in found.items():
        for k in VALUES:
            x, y = values[k], ref[k]
            same = abs(float(x) - float(y)) <= 1e-9 * max(1.0, abs(float(y))) if k == "mean_a" else int(x) == int(y)
            if not same:
                raise RuntimeError(f"{variant} computed {k}={x!r}, duckdb {y!r}")


# -- memory: one call in a fresh process -------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def child(variant: str, path: Path) -> dict:
    """Runs in the subprocess: imports, reset the high-water mark, one call, read the peak."""
    import duckdb  # noqa: F401 - every child imports the same libraries before the baseline
    import polars  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import weir.quality.scan  # noqa: F401

    runner = Runner(path)
    reset = False
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
        reset = True
    except OSError:
        pass
    before = _status_kib("VmRSS")
    t0 = time.perf_counter()
    runner.call(variant)
    seconds = time.perf_counter() - t0
    hwm = _status_kib("VmHWM")
    if hwm is None:  # not Linux: ru_maxrss is the peak since start, in KiB on Linux, bytes on macOS
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    return {
        "variant": variant, "rss_before_mb": round((before or 0) / 1024, 1), "peak_rss_mb": round(hwm / 1024, 1),
        "peak_growth_mb": round((hwm - (before or 0)) / 1024, 1), "hwm_reset": reset, "cold_seconds": round(seconds, 3),
    }


def peak_memory(variant: str, path: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--data", str(path)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {variant} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the benchmark -----------------------------------------------------------------------------------


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(quick: bool = False, rows: int | None = None, repeats: int | None = None) -> dict:
    rows = rows or (QUICK_ROWS if quick else ROWS)
    repeats = repeats or (3 if quick else 5)
    print(f"## checks: 8 checks on {rows:,} rows x 6 columns, one Parquet file{' [quick]' if quick else ''}")
    t0 = time.perf_counter()
    path, generated = dataset(rows)
    gen_seconds = time.perf_counter() - t0
    print(f"  data {path} ({path.stat().st_size / 1e6:.0f} MB, {'generated' if generated else 'cached'} in {gen_seconds:.1f} s)")

    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        print(f"  warning: load average {load_before:.1f} on {os.cpu_count()} CPUs; wall-clock figures will be inflated")
    runner = Runner(path)
    # warm-up: first imports, thread pools and first reads of the file are not what is measured
    agree({v: runner.call(v) for v in VARIANTS})
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(repeats):
        # interleaved so machine noise hits every variant alike, and rotated each round: the call
        # right after the DuckDB query was measured 10-20% slower (cause not pinned down)
        for v in VARIANTS[r % len(VARIANTS) :] + VARIANTS[: r % len(VARIANTS)]:
            c0, w0 = _cpu(), time.perf_counter()
            runner.call(v)
            times[v].append(time.perf_counter() - w0)
            cpu[v].append(_cpu() - c0)
    runner.con.close()
    memory = {v: peak_memory(v, path) for v in VARIANTS}

    best = {v: min(t) for v, t in times.items()}
    med = {v: statistics.median(t) for v, t in times.items()}
    limit = min(BASELINES, key=lambda v: best[v])
    limit_med = min(BASELINES, key=lambda v: med[v])
    out = {
        "rows": rows,
        "columns": 6,
        "checks": 8,
        "file_megabytes": round(path.stat().st_size / 1e6, 1),
        "repeats": repeats,
        "statistic": f"best of {repeats}",
        "best_seconds": {v: round(t, 4) for v, t in best.items()},
        "median_seconds": {v: round(t, 4) for v, t in med.items()},
        "all_seconds": {v: [round(x, 4) for x in t] for v, t in times.items()},
        "cpu_seconds_median": {v: round(statistics.median(c), 3) for v, c in cpu.items()},
        "limit": limit,
        "limit_seconds": round(best[limit], 4),
        "checks_ratio": round(best["weir_checks"] / best[limit], 3),
        "profile_ratio": round(best["weir_profile"] / best[limit], 3),
        "checks_ratio_median": round(med["weir_checks"] / med[limit_med], 3),
        "profile_ratio_median": round(med["weir_profile"] / med[limit_med], 3),
        "profile_cost_ratio": round(best["weir_profile"] / best["weir_checks"], 3),
        "duckdb_over_polars": round(best["duckdb"] / best["polars"], 3),
        "engines": runner.engines,
        "scans_per_call": 1,
        "memory": memory,
        "memory_note": "peak RSS growth = VmHWM - VmRSS around one cold call in a fresh process after imports",
        "target_checks_ratio": TARGET_CHECKS,
        "target_profile_ratio": TARGET_PROFILE,
        "data": str(path),
        "data_seconds": round(gen_seconds, 1),
        "data_generated": generated,
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "quick": quick,
    }
    out["checks_target_met"] = out["checks_ratio"] <= TARGET_CHECKS
    out["profile_target_met"] = out["profile_ratio"] <= TARGET_PROFILE
    out["target_met"] = out["checks_target_met"] and out["profile_target_met"]
    report(out)
    return out


def report(out: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    best, med, mem, cpu = out["best_seconds"], out["median_seconds"], out["memory"], out["cpu_seconds_median"]
    limit = best[out["limit"]]
    names = {
        "duckdb": "DuckDB, hand-written SQL", "polars": "Polars, hand-written lazy select",
        "polars_mem": "Polars, same, in-memory engine",
        "weir_checks": "weir scan, checks only", "weir_profile": "weir scan, checks + full profile",
    }
    t = Table(title=f"8 checks, {out['rows']:,} rows ({out['file_megabytes']:g} MB Parquet); limit = {out['limit']}")
    for col, just in (("variant", "left"), (out["statistic"], "right"), ("median", "right"), ("CPU (median)", "right"),
                      ("/ limit", "right"), ("peak RSS growth", "right"), ("peak RSS", "right"), ("engine", "left")):
        t.add_column(col, justify=just)
    for v in VARIANTS:
        engines = ", ".join(f"{e} x{n}" for e, n in out["engines"].get(v, {}).items()) or v.split("_")[0]
        t.add_row(
            names[v], f"{best[v]:.3f} s", f"{med[v]:.3f} s", f"{cpu[v]:.2f} s", f"{best[v] / limit:.2f}x",
            f"{mem[v]['peak_growth_mb']:,.0f} MB", f"{mem[v]['peak_rss_mb']:,.0f} MB", engines,
        )
    Console(width=160).print(t)
    for what, key, target in (("checks only", "checks", TARGET_CHECKS), ("checks + profile", "profile", TARGET_PROFILE)):
        ok = out[f"{key}_target_met"]
        print(
            f"  weir {what:16s} / limit: {out[f'{key}_ratio']:.2f}x {out['statistic']} "
            f"({out[f'{key}_ratio_median']:.2f}x on medians); target <= {target}x: {'met' if ok else 'MISSED'}"
        )
    print("  one scan per call: asserted (ScanStats.scans == 1, every check passed, same 8 values as both baselines)")
    print(f"  peak memory: {out['memory_note']}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows, 3 repeats")
    p.add_argument("--rows", type=int, help=f"rows in the table (default {ROWS:,})")
    p.add_argument("--repeats", type=int, help="timed runs per variant (default 5)")
    p.add_argument("--out", default=str(HERE / "results" / "checks.json"))
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)  # memory measurement subprocess
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.data))))
        sys.exit(0)
    result = main(args.quick, args.rows, args.repeats)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  written {out}")
