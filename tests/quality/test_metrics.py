"""Profile metrics: exact values from one scan of a known partition, histograms on bins fixed by
the first partition (and on stretches of their grid once values move away), user metrics, and metric points stored through real runs (both backends)
and listed by ``weir metrics``."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import land_csv, write_project
from conftest import weir_cli as weir

from weir.model import checks as C
from weir.quality.auditor import CheckAuditor
from weir.quality.scan import ScanInput, ScanStats, scan
from weir.store.schema import histogram_bins
from weir.workspace import RunRequest, Workspace

# -- one known partition ------------------------------------------------------------------------

X = [float(i * i % 17) if i % 7 != 3 else None for i in range(30)]  # floats, 4 nulls
N = [3, 4, 5, 5, 7] * 6  # a small integer range
CAT = ["a"] * 6 + ["b"] * 4 + [f"v{i:02d}" for i in range(19)] + [None]  # 21 distinct, one null
CODE = [("A1", "B2", "c3", "D4", "E5")[i % 5] for i in range(30)]
TS = [dt.datetime(2024, 1, 1) + dt.timedelta(hours=i) for i in range(30)]
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i % 10) for i in range(30)]
TZ = [dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in range(30)]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _write(path: Path, table: pa.Table) -> ScanInput:
    pq.write_table(table, path)
    return ScanInput(files=[str(path)], schema={f.name: str(f.type) for f in table.schema})


@pytest.fixture
def part(tmp_path) -> ScanInput:
    table = pa.table(
        {
            "x": pa.array(X, pa.float64()),
            "n": pa.array(N, pa.int64()),
            "cat": pa.array(CAT, pa.string()),
            "code": pa.array(CODE, pa.string()),
            "ts": pa.array(TS, pa.timestamp("us")),
            "day": pa.array(DAYS, pa.date32()),
            "tz": pa.array(TZ, pa.timestamp("us", tz="America/New_York")),
        }
    )
    return _write(tmp_path / "part.parquet", table)


def _nonnull(values):
    return [v for v in values if v is not None]


def test_profile_metrics_are_exact(part):
    prof = scan([], part, bins={}).profile
    assert prof.row_count == 30
    cols = prof.columns
    assert {c: cols[c].kind for c in cols} == {
        "x": "numeric", "n": "numeric", "cat": "categorical", "code": "categorical", "ts": "temporal",
        "day": "temporal", "tz": "temporal",
    }
    assert cols["x"].metrics["null_fraction"] == pytest.approx(4 / 30)
    assert cols["cat"].metrics["null_fraction"] == pytest.approx(1 / 30)
    assert cols["n"].metrics["null_fraction"] == 0.0
    for name, values in (("x", X), ("n", N)):
        xs = [float(v) for v in _nonnull(values)]
        m = cols[name].metrics
        assert m["min"] == min(xs) and m["max"] == max(xs)
        assert m["mean"] == pytest.approx(statistics.mean(xs), rel=1e-12)
        assert m["std"] == pytest.approx(statistics.stdev(xs), rel=1e-12)  # sample std (n - 1)
        expected = np.quantile(np.array(xs), [0.01, 0.5, 0.99])  # linear interpolation
        assert [m["p01"], m["p50"], m["p99"]] == pytest.approx(list(expected), rel=1e-12)
    # strings: exact distinct count, top values with counts (most frequent first) and the rest
    cat = cols["cat"]
    assert cat.metrics["distinct_count"] == 21.0
    assert cat.top[:2] == [["a", 6], ["b", 4]]
    assert len(cat.top) == 20 and all(n == 1 for _, n in cat.top[2:])
    assert {v for v, _ in cat.top[2:]} < {f"v{i:02d}" for i in range(19)}
    assert cat.other == 1  # 29 non-null rows, 28 of them in the top 20
    assert cols["code"].metrics["distinct_count"] == 5.0
    assert sorted(cols["code"].top) == [["A1", 6], ["B2", 6], ["D4", 6], ["E5", 6], ["c3", 6]]
    assert cols["code"].other == 0
    # temporal min/max as epoch seconds (naive timestamps are UTC; dates at midnight UTC)
    assert cols["ts"].metrics["min"] == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert cols["ts"].metrics["max"] == dt.datetime(2024, 1, 2, 5, tzinfo=dt.UTC).timestamp()
    assert cols["day"].metrics["min"] == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert cols["day"].metrics["max"] == dt.datetime(2024, 1, 10, tzinfo=dt.UTC).timestamp()
    assert cols["tz"].metrics["min"] == (TZ[0] - EPOCH).total_seconds()
    assert cols["tz"].metrics["max"] == (TZ[-1] - EPOCH).total_seconds()
    # the points: row_count at table level, then every column's metrics
    points = {(c, m): v for c, m, v in prof.points()}
    assert points[("", "row_count")] == 30.0
    assert points[("x", "null_fraction")] == pytest.approx(4 / 30)
    assert ("cat", "mean") not in points and ("ts", "mean") not in points


def test_histogram_bins_are_fixed_by_the_first_partition_and_reused(tmp_path):
    first_values = [float(v) for v in range(100)] + [None]
    first = _write(tmp_path / "p1.parquet", pa.table({"v": pa.array(first_values, pa.float64())}))
    out = scan([], first, bins={})
    edges = out.profile.new_bins["v"]
    # 30 equal-width bins over the central 99%, widened by 5% each side
    lo, hi = np.quantile(np.arange(100, dtype=float), [0.005, 0.995])
    pad = (hi - lo) * 0.05
    assert edges == pytest.approx(list(np.linspace(lo - pad, hi + pad, 31)))
    hist = out.profile.columns["v"].histogram
    assert hist["edges"] == edges
    assert len(hist["counts"]) == len(edges) + 1 == 32  # underflow, 30 bins, overflow
    assert sum(hist["counts"]) == hist["n"] == 100  # the non-null values
    assert hist["counts"][0] == 0 and hist["counts"][-1] == 0

    # a later partition is counted on the same edges: nothing new fixed, outliers in the end bins
    values = [-1000.0, -1000.5, 1e6, *(float(v) for v in range(0, 100, 3)), None]  # 3 of 37 outside
    second = _write(tmp_path / "p2.parquet", pa.table({"v": pa.array(values, pa.float64())}))
    later = scan([], second, bins={"v": edges})
    assert later.profile.new_bins == {}
    h2 = later.profile.columns["v"].histogram
    assert h2["edges"] == edges
    assert h2["counts"][0] == 2 and h2["counts"][-1] == 1
    assert sum(h2["counts"][1:-1]) == 34 and sum(h2["counts"]) == h2["n"] == 37


def _stretch(edges: list[float], base: list[float]) -> int:
    """The power of two by which ``edges`` are wider than ``base``, asserting they lie on its grid."""
    width, base_width = edges[1] - edges[0], base[1] - base[0]
    level = round(np.log2(width / base_width))
    assert width == pytest.approx(base_width * 2.0**level)
    steps = (np.asarray(edges) - base[0]) / width
    assert steps == pytest.approx(np.round(steps), abs=1e-6)  # every edge on the grid the base starts
    return level


def test_a_partition_whose_values_moved_away_is_counted_on_a_stretch_of_the_grid(tmp_path):
    january = np.random.default_rng(1).normal(45, 4, 2000)
    out = scan([], _write(tmp_path / "jan.parquet", pa.table({"t": january})), bins={})
    base = out.profile.new_bins["t"]
    # July: every value beyond January's edges; its own stretch at the base width keeps the resolution
    july = np.random.default_rng(2).normal(80, 4, 2000)
    later = scan([], _write(tmp_path / "jul.parquet", pa.table({"t": july})), bins={"t": base})
    assert later.profile.new_bins == {}  # the base stays the column's grid
    hist = later.profile.columns["t"].histogram
    assert _stretch(hist["edges"], base) == 0
    assert hist["edges"][0] > base[-1] and hist["edges"][0] <= np.quantile(july, 0.005)
    assert max(hist["counts"]) < 0.1 * hist["n"] and hist["counts"][0] + hist["counts"][-1] < 0.02 * hist["n"]
    # twice as spread: twice as wide bins; a stuck sensor: one value, one bin of the base width
    wide = scan([], _write(tmp_path / "w.parquet", pa.table({"t": np.random.default_rng(3).normal(80, 8, 2000)})),
                bins={"t": base}).profile.columns["t"].histogram
    assert _stretch(wide["edges"], base) == 1 and len(wide["edges"]) <= 32
    stuck = scan([], _write(tmp_path / "s.parquet", pa.table({"t": [81.25] * 24})),
                 bins={"t": base}).profile.columns["t"].histogram
    assert _stretch(stuck["edges"], base) == 0 and stuck["counts"] == [0, 24, 0]
    # far narrower than the base, inside it: finer bins on the same grid
    narrow = scan([], _write(tmp_path / "n.parquet", pa.table({"t": np.random.default_rng(4).normal(45, 0.5, 2000)})),
                  bins={"t": base}).profile.columns["t"].histogram
    assert _stretch(narrow["edges"], base) < -1 and max(narrow["counts"]) < 0.15 * narrow["n"]


def test_integer_columns_are_never_counted_finer_than_their_base(tmp_path):
    base = [0.5, 1.5, 2.5, 3.5]  # one bin per value
    moved = scan([], _write(tmp_path / "m.parquet", pa.table({"k": pa.array([7, 8, 9] * 5, pa.int64())})),
                 bins={"k": base}).profile.columns["k"].histogram
    assert moved["edges"] == [6.5, 7.5, 8.5, 9.5] and moved["counts"] == [0, 5, 5, 5, 0]
    same = scan([], _write(tmp_path / "s.parquet", pa.table({"k": pa.array([2] * 15, pa.int64())})),
                bins={"k": base}).profile.columns["k"].histogram
    assert same["edges"] == base


def test_bins_are_fixed_only_for_columns_without_any(tmp_path):
    data = _write(tmp_path / "p.parquet", pa.table({"a": [1.5, 2.5, 9.0], "b": [10.0, 20.0, 30.0]}))
    given = [0.0, 5.0, 10.0]
    out = scan([], data, bins={"a": given})
    assert list(out.profile.new_bins) == ["b"]
    assert out.profile.columns["a"].histogram == {"edges": given, "counts": [0, 2, 1, 0], "n": 3}


def test_small_integer_ranges_get_one_bin_per_value(part):
    hist = scan([], part, bins={}).profile.columns["n"].histogram
    assert hist["edges"] == [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
    assert hist["counts"] == [0, 6, 6, 12, 0, 6, 0]


def test_checks_profile_and_user_metrics_take_one_polars_scan(part):
    stats = ScanStats()
    checks = [C.not_null("x"), C.in_range("n", max=5), C.row_count(min=1), C.metric("avg(n)", max=100),
              C.accepted_values("code", ["A1", "B2", "c3", "D4", "E5"])]
    out = scan(checks, part, metrics={"late": "avg(CASE WHEN x > 1 THEN 1 ELSE 0 END)", "total": "sum(n)"},
               bins={}, stats=stats)
    assert stats.scans == 1 and stats.engines == {"polars": 1} and stats.fallback_scans == 0
    assert out.engine == "polars" and out.fallback_reason is None
    assert [(r.passed, r.failing_rows) for r in out.results] == [(False, 4), (False, 6), (True, None), (True, None), (True, 0)]
    assert stats.sample_queries == 2  # one small query per failed row-level check
    expected_late = sum(1 for v in X if v is not None and v > 1) / 30  # NULL is not > 1: counts 0
    assert out.profile.user == {"late": pytest.approx(expected_late), "total": float(sum(N))}
    points = {(c, m): v for c, m, v in out.profile.points()}
    assert points[("", "late")] == pytest.approx(expected_late) and points[("", "total")] == float(sum(N))


def test_duckdb_only_sql_falls_back_and_keeps_the_profile(part):
    polars_profile = scan([], part, bins={}).profile
    stats = ScanStats()
    checks = [C.expression("regexp_full_match(code, '[A-Z][0-9]')"), C.not_null("x"), C.row_count(max=10)]
    out = scan(checks, part, metrics={"late": "avg(CASE WHEN x > 1 THEN 1 ELSE 0 END)"}, bins={}, stats=stats)
    assert out.engine == "duckdb" and out.fallback_reason
    assert [(r.passed, r.failing_rows) for r in out.results] == [(False, 6), (False, 4), (False, None)]
    assert out.results[2].observed == 30
    # documented fallback: the checks on DuckDB, the profile on a second scan
    assert stats.scans == 2 and stats.engines == {"duckdb": 1, "polars": 1}
    assert out.profile is not None and out.profile_error is None
    assert {(c, m): v for c, m, v in out.profile.points() if c} == {(c, m): v for c, m, v in polars_profile.points() if c}
    assert out.profile.row_count == 30
    assert out.profile.user == {"late": pytest.approx(sum(1 for v in X if v is not None and v > 1) / 30)}
    assert out.profile.new_bins == polars_profile.new_bins


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_both_engines_judge_and_sample_a_partition_with_a_timezone_aware_column(part, engine):
    """The DuckDB engine (explicit, or the fallback for DuckDB-only SQL) must give the same
    results as Polars on data holding a ``timestamp[tz=...]`` column: freshness on it, and
    samples of failing rows (which show every column)."""
    part.context = {"partition_end": TZ[-1] + dt.timedelta(hours=1)}
    stats = ScanStats()
    checks = [C.freshness("tz", "2h"), C.in_range("n", max=5)]
    results = scan(checks, part, profile=False, stats=stats, engine=engine).results
    assert results[0].passed, results[0].message
    assert dt.datetime.fromisoformat(results[0].observed) == TZ[-1]  # the same instant, in either zone
    assert not results[1].passed and results[1].failing_rows == 6
    assert len(results[1].sample) == 5 and {row["n"] for row in results[1].sample} == {7}


def test_duckdb_only_user_metric_is_still_measured(part):
    stats = ScanStats()
    out = scan([C.not_null("n")], part, metrics={"coded": "avg(CASE WHEN regexp_full_match(code, '[A-Z][0-9]') THEN 1 ELSE 0 END)"},
               bins={}, stats=stats)
    assert out.engine == "duckdb" and out.results[0].passed
    assert out.profile.user == {"coded": pytest.approx(24 / 30)}
    assert out.profile.columns["x"].metrics["min"] == 0.0


# -- metrics stored through real runs -------------------------------------------------------------

PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)

@weir.asset(partitions=days, checks=[weir.checks.row_count(min=2, severity="block")],
            metrics={"big_share": "avg(CASE WHEN x > 10 THEN 1 ELSE 0 END)"})
def clean(raw):
    return raw
'''


def _land(project: Path, day: str, xs: list) -> None:
    land_csv(project, f"landing/{day}.csv", [{"x": x, "label": f"l{x}"} for x in xs])


def _series(ws, name: str, **kw) -> dict:
    return {(p["partition_key"], p["column_name"], p["metric"]): p for p in ws.monitors.metrics(name, **kw)}


def test_metrics_are_stored_per_partition_and_replaced_on_rebuild(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    _land(project, "2024-01-01", [1, 2, 3])
    _land(project, "2024-01-02", [10, 20, 30, 40])
    with Workspace(workspace_dir, project) as ws:
        first = ws.runs.run(RunRequest(executor="inprocess"))
        assert first.state == "succeeded"
        points = ws.monitors.metrics("clean")
        assert {p["partition_key"] for p in points} == {"2024-01-01", "2024-01-02"}
        keys = [(p["partition_key"], p["column_name"], p["metric"]) for p in points]
        assert len(keys) == len(set(keys))
        s = _series(ws, "clean")
        assert s[("2024-01-01", "", "row_count")]["value"] == 3.0
        assert s[("2024-01-02", "", "row_count")]["value"] == 4.0
        assert s[("2024-01-02", "", "big_share")]["value"] == 0.75
        assert s[("2024-01-01", "x", "mean")]["value"] == 2.0
        assert s[("2024-01-02", "x", "max")]["value"] == 40.0
        assert s[("2024-01-01", "label", "distinct_count")]["value"] == 3.0
        assert all(p["run_id"] == first.run_id and p["quarantined"] is False for p in points)
        # ordered by column, metric, partition
        order = [(p["column_name"], p["metric"], p["partition_key"]) for p in points]
        assert order == sorted(order)
        per_partition = len([k for k in keys if k[0] == "2024-01-01"])

        _land(project, "2024-01-01", [5, 50, 500])  # redelivered: the partition is rebuilt
        second = ws.runs.run(RunRequest(executor="inprocess", partition="2024-01-01"))
        assert second.state == "succeeded"
        again = ws.monitors.metrics("clean")
        keys = [(p["partition_key"], p["column_name"], p["metric"]) for p in again]
        assert len(keys) == len(set(keys)) == len(points)
        assert len([k for k in keys if k[0] == "2024-01-01"]) == per_partition
        s = _series(ws, "clean")
        assert s[("2024-01-01", "x", "mean")]["value"] == 185.0
        assert s[("2024-01-01", "", "big_share")]["value"] == pytest.approx(2 / 3)
        assert s[("2024-01-01", "x", "mean")]["run_id"] == second.run_id
        assert s[("2024-01-02", "x", "mean")]["run_id"] == first.run_id  # untouched
        with ws.store.read():
            profiles = ws.store.metrics.profiles(ws.project.name, "clean")
        assert sorted(profiles) == ["2024-01-01", "2024-01-02"] and profiles["2024-01-01"]["row_count"] == 3


def test_a_blocked_partition_keeps_its_points_marked_quarantined(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    _land(project, "2024-01-01", [1, 2])
    _land(project, "2024-01-02", [99])  # one row: row_count blocks
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.per_asset["clean"] == {"succeeded": 1, "blocked": 1}
        s = _series(ws, "clean")
        assert s[("2024-01-02", "", "row_count")]["value"] == 1.0
        assert s[("2024-01-02", "x", "max")]["value"] == 99.0
        assert {p["quarantined"] for k, p in s.items() if k[0] == "2024-01-02"} == {True}
        assert {p["quarantined"] for k, p in s.items() if k[0] == "2024-01-01"} == {False}
        # once it is good again, the new build's points replace the quarantined ones
        _land(project, "2024-01-02", [7, 8])
        assert ws.runs.run(RunRequest(executor="inprocess", partition="2024-01-02")).state == "succeeded"
        s = _series(ws, "clean")
        assert s[("2024-01-02", "", "row_count")]["value"] == 2.0
        assert {p["quarantined"] for k, p in s.items() if k[0] == "2024-01-02"} == {False}


def test_histogram_bins_are_stored_once_per_column_and_reused_across_runs(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    _land(project, "2024-01-01", [1, 2, 3])
    with Workspace(workspace_dir, project) as ws:
        ws.runs.run(RunRequest(executor="inprocess"))
        with ws.store.read():
            bins = ws.store.metrics.bins(ws.project.name, "clean")
        assert bins == {"x": [0.5, 1.5, 2.5, 3.5]}  # a small integer range: one bin per value
        _land(project, "2024-01-02", [0, 200, *[1, 2, 3] * 6])  # a tenth outside: still counted on the bins
        _land(project, "2024-01-01", [1, 1, 3])
        ws.runs.run(RunRequest(executor="inprocess"))
        with ws.store.read():
            assert ws.store.metrics.bins(ws.project.name, "clean") == bins
            rows = ws.store.connection.execute(
                sa.select(histogram_bins.c.column_name, histogram_bins.c.fixed_by).where(
                    histogram_bins.c.project == ws.project.name, histogram_bins.c.asset == "clean")
            ).all()
            profiles = ws.store.metrics.profiles(ws.project.name, "clean")
        assert [tuple(r) for r in rows] == [("x", "2024-01-01")]
        assert profiles["2024-01-02"]["sketches"]["x"]["histogram"] == {"edges": bins["x"], "counts": [1, 6, 6, 6, 1], "n": 20}
        assert profiles["2024-01-01"]["sketches"]["x"]["histogram"] == {"edges": bins["x"], "counts": [0, 2, 0, 1, 0], "n": 3}
        assert profiles["2024-01-01"]["sketches"]["label"]["top"] == [["l1", 2], ["l3", 1]]


def test_a_real_run_scans_each_partition_once(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    for day, xs in (("2024-01-01", [1, 2]), ("2024-01-02", [3, 40]), ("2024-01-03", [5, 6, 70])):
        _land(project, day, xs)
    with Workspace(workspace_dir, project) as ws:
        auditor = CheckAuditor(ws.store, ws.project)
        result = ws.runs.run(RunRequest(executor="inprocess"), auditor=auditor)
        assert result.state == "succeeded"
        assert auditor.stats.scans == 3 and auditor.stats.engines == {"polars": 3}
        assert {p["partition_key"] for p in ws.monitors.metrics("clean", metric="big_share")} == {"2024-01-01", "2024-01-02", "2024-01-03"}


# -- checks.yml mapping form -----------------------------------------------------------------------

PLAIN = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)

@weir.asset(partitions=days)
def clean(raw):
    return raw
'''


def test_checks_yml_mapping_form_declares_checks_and_metrics(make_project, workspace_dir):
    text = (
        "clean:\n"
        "  checks:\n"
        "    - in_range: {column: x, max: 100, severity: block}\n"
        "  metrics:\n"
        "    big_share: \"avg(CASE WHEN x > 10 THEN 1 ELSE 0 END)\"\n"
        "raw:\n"
        "  metrics:\n"
        "    total: \"sum(x)\"\n"
    )
    project = make_project({"assets.py": PLAIN, "checks.yml": text})
    _land(project, "2024-01-01", [1, 20])
    _land(project, "2024-01-02", [1, 500])
    with Workspace(workspace_dir, project) as ws:
        assert [c.kind for c in ws.project.assets["clean"].checks] == ["in_range"]
        assert dict(ws.project.assets["clean"].metrics) == {"big_share": "avg(CASE WHEN x > 10 THEN 1 ELSE 0 END)"}
        assert dict(ws.project.sources["raw"].metrics) == {"total": "sum(x)"}
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.per_asset["clean"] == {"succeeded": 1, "blocked": 1}
        s = _series(ws, "clean", metric="big_share")
        assert {k[0]: p["value"] for k, p in s.items()} == {"2024-01-01": 0.5, "2024-01-02": 0.5}
        assert {k[0]: p["value"] for k, p in _series(ws, "raw", metric="total").items()} == {"2024-01-01": 21.0, "2024-01-02": 501.0}


# -- weir metrics on the command line ------------------------------------------------------------------

METRIC_KEYS = {"asset", "partition", "column", "metric", "value", "quarantined", "run_id", "measured_at", "center", "lower", "upper", "signals", "muted", "state", "model"}




@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """PROJECT built once through the CLI: day 1 and 2 published, day 3 blocked."""
    base = tmp_path_factory.mktemp("metrics-cli")
    project = write_project(base / "proj", {"assets.py": PROJECT})
    for day, xs in (("2024-01-01", [1, 2]), ("2024-01-02", [3, 40]), ("2024-01-03", [5])):
        _land(project, day, xs)
    ws = base / "ws"
    run = json.loads(weir(ws, project, "run", "--executor", "inprocess", "--json", expect=1).stdout)
    return ws, project, run


def test_metrics_json_has_the_documented_keys(built):
    ws, project, run = built
    points = json.loads(weir(ws, project, "metrics", "clean", "--json").stdout)
    assert points and all(set(p) == METRIC_KEYS for p in points)
    assert {p["asset"] for p in points} == {"clean"}
    assert {p["run_id"] for p in points} == {run["run_id"]}
    assert {(p["partition"], p["quarantined"]) for p in points} == {
        ("2024-01-01", False), ("2024-01-02", False), ("2024-01-03", True),
    }
    assert all(p["measured_at"].endswith(("Z", "+00:00")) for p in points)
    order = [(p["column"], p["metric"], p["partition"]) for p in points]
    assert order == sorted(order)
    table_level = {(p["metric"], p["partition"]): p["value"] for p in points if p["column"] == ""}
    assert table_level[("row_count", "2024-01-03")] == 1.0 and table_level[("big_share", "2024-01-02")] == 0.5


def test_metrics_filters_select_one_series_and_a_range(built):
    ws, project, _ = built
    one = json.loads(weir(ws, project, "metrics", "clean", "--column", "x", "--metric", "mean", "--json").stdout)
    assert [(p["partition"], p["column"], p["metric"], p["value"]) for p in one] == [
        ("2024-01-01", "x", "mean", 1.5), ("2024-01-02", "x", "mean", 21.5), ("2024-01-03", "x", "mean", 5.0),
    ]
    ranged = json.loads(weir(ws, project, "metrics", "clean", "--metric", "row_count", "--from", "2024-01-02",
                             "--to", "2024-01-03", "--json").stdout)
    assert [(p["partition"], p["column"], p["value"]) for p in ranged] == [("2024-01-02", "", 2.0), ("2024-01-03", "", 1.0)]
    table = json.loads(weir(ws, project, "metrics", "clean", "--column", "", "--json").stdout)
    assert {p["metric"] for p in table} == {"row_count", "big_share"} and {p["column"] for p in table} == {""}
    shown = weir(ws, project, "metrics", "clean", "--column", "x", "--metric", "max").stdout
    assert "2024-01-02" in shown and "quarantined" in shown


def test_metrics_unknown_names_exit_2(built):
    ws, project, _ = built
    bad = weir(ws, project, "metrics", "clean", "--metric", "median", expect=2)
    assert "'median'" in bad.stderr and "metrics are:" in bad.stderr
    for name in ("row_count", "null_fraction", "p99", "big_share"):
        assert name in bad.stderr
    bad_col = weir(ws, project, "metrics", "clean", "--column", "y", expect=2)
    assert "'y'" in bad_col.stderr
    unknown = weir(ws, project, "metrics", "nope", expect=2)
    assert "nope" in unknown.stderr


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("clean:\n  checks:\n    - not_null: {column: x}\n  metric:\n    n: \"count(*)\"\n", 4, "unknown key 'metric'"),
        ("clean:\n  metrics:\n    - \"count(*)\"\n", 2, "metrics must map names to SQL"),
        ("clean:\n  metrics:\n    n: 3\n", 2, "metrics must map names to SQL"),
    ],
)
def test_checks_yml_mapping_errors_exit_2_naming_the_line(tmp_path, text, line, message):
    project = write_project(tmp_path / "proj", {"assets.py": PLAIN, "checks.yml": text})
    bad = weir(tmp_path / "ws", project, "status", expect=2)
    assert f"checks.yml:{line}" in bad.stderr and message in bad.stderr
    assert not (tmp_path / "ws").exists()  # nothing written
