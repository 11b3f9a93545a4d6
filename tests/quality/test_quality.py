"""Checks: every kind passes and fails on real data in one DuckDB scan; severities gate publication."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import land_csv

from weir.errors import ConfigError, ProjectError
from weir.model import checks as C
from weir.project.loader import load_project
from weir.quality.scan import ScanInput, ScanStats, run_checks
from weir.workspace import RunRequest, Workspace


@pytest.fixture
def data(tmp_path):
    table = pa.table(
        {
            "id": [1, 2, 3, 4, 4],
            "carrier": ["AA", "UA", "AA", None, "ZZ"],
            "delay": [1.0, None, 30.0, -5.0, 700.0],
            "code": ["A1", "B2", "c3", "D4", "E5"],
            "ts": pa.array([dt.datetime(2013, 1, 1, h) for h in (1, 2, 3, 4, 23)], pa.timestamp("us")),
        }
    )
    path = tmp_path / "part.parquet"
    pq.write_table(table, path)
    ref = tmp_path / "carriers.parquet"
    pq.write_table(pa.table({"carrier": ["AA", "UA"]}), ref)
    schema = {f.name: str(f.type) for f in table.schema}
    return ScanInput(files=[str(path)], schema=schema, references={"carriers": [str(ref)]},
                     context={"partition_end": dt.datetime(2013, 1, 2, tzinfo=dt.UTC)})


@pytest.fixture(params=["polars", "duckdb"])
def engine(request):
    """Both scan engines must give the same results."""
    return request.param


def one(check, data, engine="polars", stats=None):
    return run_checks([check], data, stats, engine=engine)[0]


@pytest.mark.parametrize(
    "check, passed, failing",
    [
        (C.not_null("id"), True, 0),
        (C.not_null("carrier"), False, 1),
        (C.not_null("carrier", mostly=0.8), True, 1),
        (C.not_null("delay", where="id > 2"), True, 0),
        (C.unique("id"), False, 1),
        (C.unique("id", "carrier"), True, 0),
        (C.accepted_values("carrier", ["AA", "UA"]), False, 1),  # nulls are not judged here
        (C.accepted_values("carrier", ["AA", "UA", "ZZ"]), True, 0),
        (C.in_range("delay", min=-10, max=600), False, 1),
        (C.in_range("delay", min=-5, max=700), True, 0),
        (C.in_range("delay", min=-5, max=700, inclusive=False), False, 2),
        (C.matches("code", r"[A-Z]\d"), False, 1),
        (C.matches("code", r"[A-Za-z]\d"), True, 0),
        (C.expression("delay < 100"), False, 2),  # NULL counts as failing
        (C.expression("delay < 1000 OR delay IS NULL"), True, 0),
        (C.references("carrier", to="carriers"), False, 1),
        (C.references("carrier", to="carriers", mostly=0.75), True, 1),
    ],
)
def test_row_level_checks(check, passed, failing, data, engine):
    r = one(check, data, engine)
    assert (r.passed, r.failing_rows, r.total_rows) == (passed, failing, 5)
    assert bool(r.sample) == (not passed and failing > 0)
    assert len(r.sample) <= 5


def test_failing_rows_sample_shows_the_rows(data, engine):
    r = one(C.in_range("delay", max=600), data, engine)
    assert r.sample == [{"id": 4, "carrier": "ZZ", "delay": 700.0, "code": "E5", "ts": "2013-01-01T23:00:00"}]


@pytest.mark.parametrize(
    "check, passed, observed",
    [
        (C.row_count(min=5, max=5), True, 5),
        (C.row_count(min=6), False, 5),
        (C.metric("avg(delay)", min=0, max=200), True, 181.5),
        (C.metric("max(delay)", max=600), False, 700.0),
        (C.freshness("ts", "2h"), True, "2013-01-01T23:00:00+00:00"),
        (C.freshness("ts", "30m"), False, "2013-01-01T23:00:00+00:00"),
    ],
)
def test_aggregate_checks(check, passed, observed, data, engine):
    r = one(check, data, engine)
    assert (r.passed, r.observed) == (passed, observed)


def test_schema_check(data, engine):
    assert one(C.schema({"id": "int", "delay": "float", "ts": "timestamp"}), data, engine).passed
    r = one(C.schema({"id": "string", "missing": "int"}), data, engine)
    assert not r.passed and "missing column 'missing'" in r.message and "'id' is int64" in r.message
    assert not one(C.schema({"id": "int"}, allow_extra=False), data, engine).passed


def test_unknown_column_is_a_failed_check_listing_columns(data, engine):
    r = one(C.not_null("dep_delay"), data, engine)
    assert not r.passed and "unknown column 'dep_delay'" in r.message and "carrier, code, delay, id, ts" in r.message


def test_all_checks_and_samples_take_one_scan_plus_one_query_per_failed_check(data, engine):
    stats = ScanStats()
    checks = [C.not_null("id"), C.unique("id"), C.in_range("delay", max=600), C.row_count(min=1),
              C.metric("avg(delay)", max=1000), C.accepted_values("carrier", ["AA", "UA", "ZZ"]), C.references("carrier", to="carriers")]
    results = run_checks(checks, data, stats, engine=engine)
    assert [r.passed for r in results] == [True, False, False, True, True, True, False]
    assert stats.scans == 1 and stats.fallback_scans == 0 and stats.engines == {engine: 1}
    assert stats.sample_queries == 3


def test_a_broken_expression_fails_alone(data):
    stats = ScanStats()
    results = run_checks([C.not_null("id"), C.expression("no_such_col > 1")], data, stats)
    assert results[0].passed
    assert not results[1].passed and "cannot run" in results[1].message


def test_bad_check_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="severity"):
        C.not_null("x", severity="fatal")
    with pytest.raises(ConfigError, match="mostly"):
        C.not_null("x", mostly=1.5)
    with pytest.raises(ConfigError, match="min, max"):
        C.in_range("x")
    with pytest.raises(ConfigError, match="pattern"):
        C.matches("x", "(")
    with pytest.raises(ConfigError, match="duration"):
        C.freshness("ts", "soon")


PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)

@weir.asset(partitions=days, checks=[weir.checks.row_count(min=2, severity="block"),
                                     weir.checks.in_range("x", max=100, severity="error"),
                                     weir.checks.not_null("x", severity="warn")])
def clean(raw):
    return raw

@weir.asset(partitions=days)
def doubled(clean):
    return clean.assign(x=clean.x * 2)
'''


def _land(project, day, xs):
    land_csv(project, f"landing/{day}.csv", [{"x": x, "y": 1} for x in xs])


def test_severities_gate_publication(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    for day, xs in (("2024-01-01", [1, 2]), ("2024-01-02", [1, 500]), ("2024-01-03", [1, None])):
        _land(project, day, xs)
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "failed"  # day 2 fails an error check: published, but the run says so
        assert result.per_asset["clean"] == {"succeeded": 2, "failed_check": 1}
        # day 3 lands again with one row: block; day 2 keeps its error
        _land(project, "2024-01-03", [7])
        result = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert result.state == "failed"
        assert result.per_asset["clean"] == {"blocked": 1}
        assert result.per_asset["doubled"] == {"upstream_failed": 1}
        # the last good version stays readable, the quarantined build stays retrievable
        assert ws.data.read("clean", "2024-01-03").column("x").to_pylist() == [1, None]
        assert ws.data.read_quarantined("clean", "2024-01-03").column("x").to_pylist() == [7]
        assert len(ws.data.history("clean", "2024-01-03")) == 1
        failed = ws.quality.check_results("clean", failed=True)
        assert {(r["partition_key"], r["check_name"], r["severity"]) for r in failed} == {
            ("2024-01-02", "in_range(x)", "error"), ("2024-01-03", "row_count", "block"),
        }


def test_error_check_publishes_but_fails_the_run(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    _land(project, "2024-01-02", [1, 500])
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess", partition="2024-01-02"))
        assert result.state == "failed"
        assert result.per_asset["clean"] == {"failed_check": 1}
        assert result.per_asset["doubled"] == {"succeeded": 1}
        assert ws.data.read("clean", "2024-01-02").column("x").to_pylist() == [1, 500]
        rows = ws.quality.recheck("clean", "2024-01-02")
        assert {r["check_name"]: r["passed"] for r in rows} == {"row_count": True, "in_range(x)": False, "not_null(x)": True}


def test_checks_yml_adds_checks(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT, "checks.yml": "doubled:\n  - in_range: {column: x, max: 3, severity: block}\n"})
    _land(project, "2024-01-01", [1, 2])
    loaded = load_project(project)
    assert [c.kind for c in loaded.assets["doubled"].checks] == ["in_range"]
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess", partition="2024-01-01"))
        assert result.per_asset["doubled"] == {"blocked": 1}


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope:\n  - not_null: {column: x}\n", "unknown asset 'nope'"),
        ("clean:\n  - not_nul: {column: x}\n", "unknown check 'not_nul'"),
        ("clean:\n  - row_count: {minimum: 3}\n", "row_count: got an unexpected keyword argument 'minimum'"),
        ("clean:\n  - in_range: {column: x}\n", "give min, max or both"),
        ("clean:\n  - not_null: {column: x\n", "invalid YAML"),
    ],
)
def test_checks_yml_errors_name_file_and_line(make_project, text, message):
    project = make_project({"assets.py": PROJECT, "checks.yml": text})
    with pytest.raises(ConfigError) as exc:
        load_project(project)
    assert message in str(exc.value)
    assert "checks.yml:" in str(exc.value)


def test_references_to_unknown_asset_fails_at_load(make_project):
    bad = PROJECT.replace('weir.checks.not_null("x", severity="warn")', 'weir.checks.references("x", to="nowhere")')
    with pytest.raises(ProjectError, match="references unknown 'nowhere'"):
        load_project(make_project({"assets.py": bad}))


def test_python_checks_must_be_check_objects(make_project):
    bad = PROJECT.replace('weir.checks.not_null("x", severity="warn")', '"not_null"')
    with pytest.raises(ConfigError, match="weir.checks"):
        load_project(make_project({"assets.py": bad}))
